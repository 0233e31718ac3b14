use keops::prelude::*;

fn main() {
    let _k = keops!(|x: Vi<3>, y: Vk<3>| sum_j(x * y));
}
