use keops::prelude::*;

fn kernel<const D: usize>() {
    let _k = keops!(|x: Vi<D>, y: Vj<D>| sum_j(cat(x, y) * 2.0));
}

fn main() {
    kernel::<3>();
}
