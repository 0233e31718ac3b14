use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, y: Vj<3>, b: Vj<1>, e: Vi<1>| sum_j(grad(sqdist(x, y), b, e)));
}
