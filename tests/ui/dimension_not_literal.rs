use keops::prelude::*;

fn kernel<const N: usize>() {
    let _k = keops!(|x: Vi<{ N + 1 }>, y: Vj<3>| sum_j(x * y));
}

fn main() {
    kernel::<2>();
}
