use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, y: Vj<3>, s: Pm<5>| sum_j(weightedsqnorm(s, x - y)));
}
