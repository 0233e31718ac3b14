use keops::prelude::*;

fn main() {
    let k = keops!(|x: Vi<3>, y: Vj<3>| sum_j(x * y));
    let x: Vec<[f32; 2]> = vec![[0.0; 2]; 4];
    let y: Vec<[f32; 3]> = vec![[0.0; 3]; 5];
    let _ = k.call(&x, &y);
}
