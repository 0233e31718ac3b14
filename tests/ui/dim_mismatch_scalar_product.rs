use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, y: Vj<4>| sum_j((x | y)));
}
