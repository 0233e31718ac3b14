use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<0>, y: Vj<3>| sum_j(x * y));
}
