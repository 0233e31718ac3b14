use keops::prelude::*;

fn kernel<const D: usize>() {
    let _k = keops!(|x: Vi<D>, y: Vj<3>| sum_j(x * y));
}

fn main() {
    kernel::<3>();
}
