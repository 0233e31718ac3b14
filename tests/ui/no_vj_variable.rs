use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, p: Pm<1>| sum_j(x * p));
}
