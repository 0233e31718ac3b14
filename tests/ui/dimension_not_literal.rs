use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<D>, y: Vj<3>| sum_j(x * y));
}
