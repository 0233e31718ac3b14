use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, y: Vj<2>, b: Vj<1>| sum_j(exp(-sqdist(x, y)) * b));
}
