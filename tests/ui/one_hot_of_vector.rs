use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, y: Vj<1>| sum_j(one_hot(x, 4) * y));
}
