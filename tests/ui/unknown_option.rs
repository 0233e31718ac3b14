use keops::prelude::*;

fn main() {
    let _k = keops!(use_fast_math = true, |x: Vi<3>, y: Vj<3>| sum_j(x * y));
}
