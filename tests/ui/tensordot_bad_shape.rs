use keops::prelude::*;

fn main() {
    let _k = keops!(|a: Vi<6>, b: Vj<6>| sum_j(keops_tensordot(a, b, [2, 3], [2, 3], [1], [0])));
}
