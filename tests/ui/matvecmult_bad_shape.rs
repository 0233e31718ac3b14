use keops::prelude::*;

fn main() {
    let _k = keops!(|a: Vi<5>, v: Vj<3>| sum_j(matvecmult(a, v)));
}
