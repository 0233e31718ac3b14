use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, y: Vj<3>, k: Pm<1>| argkmin_j(sqdist(x, y), k));
}
