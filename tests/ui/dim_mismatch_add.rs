use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, y: Vj<2>| sum_j(exp(x + y)));
}
