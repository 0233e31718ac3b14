use keops::prelude::*;

fn main() {
    let k = keops!(|x: Vi<1>, y: Vj<1>, g: Pm<2>| sum_j(g * x * y));
    let x = Array2::<f32>::zeros((4, 1));
    let y = Array2::<f32>::zeros((5, 1));
    let _ = k.call(&x, &y, &[0.5f32, 1.0, 2.0]);
}
