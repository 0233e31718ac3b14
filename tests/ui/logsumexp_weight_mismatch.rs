use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<2>, y: Vj<2>, w: Vj<3>| logsumexp_j(x - y, w));
}
