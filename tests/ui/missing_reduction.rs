use keops::prelude::*;

fn main() {
    // Without a reduction, a formula is a symbolic matrix K_ij: its value
    // must have dimension 1.
    let _k = keops!(|x: Vi<3>, y: Vj<3>| exp(-(x - y)));
}
