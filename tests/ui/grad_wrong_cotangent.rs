use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, y: Vj<3>, e: Vi<2>| sum_j(grad(sqdist(x, y), x, e)));
}
