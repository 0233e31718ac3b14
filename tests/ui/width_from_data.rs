use keops::prelude::*;

fn main() {
    // A symbolic matrix (no reduction) with widths from the data: not yet.
    let _m = keops!(|x: Vi<_>, y: Vj<_>| exp(-sqdist(x, y)));
    // A formula that holds at no width.
    let _k = keops!(|x: Vi<_>, y: Vj<3>, z: Vj<2>| sum_j(x - y + x - z));
}
