use keops::prelude::*;

fn main() {
    // A symbolic matrix whose value has dimension 2 at every width.
    let _m = keops!(|x: Vi<_>, y: Vj<2>| x - y);
    // A formula that holds at no width.
    let _k = keops!(|x: Vi<_>, y: Vj<3>, z: Vj<2>| sum_j(x - y + x - z));
}
