use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, x: Vj<3>| sum_j(x));
}
