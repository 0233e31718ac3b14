use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, y: Vj<3>| { let x = y * 2.0; sum_j(x) });
}
