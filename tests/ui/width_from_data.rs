use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<_>, y: Vj<_>| sum_j(exp(-sqdist(x, y))));
}
