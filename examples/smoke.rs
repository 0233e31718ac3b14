use keops::prelude::*;
fn main() -> Result<()> {
    let x = Array2::from_shape_fn((5, 3), |(i, k)| (i * 3 + k) as f32 * 0.1);
    let y = Array2::from_shape_fn((7, 3), |(j, k)| (j * 3 + k) as f32 * 0.05);
    let b = Array2::from_elem((7, 1), 1.0f32);
    let gauss = keops!(|x: Vi<3>, y: Vj<3>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b));
    let out = gauss.call(&x, &y, &b, &[0.5f32])?;
    println!("{out}");
    let gx = gauss.grad_x().call(&x, &y, &b, &[0.5f32], &Array2::from_elem((5, 1), 1.0f32))?;
    println!("{gx}");
    Ok(())
}
// t
// t
// t2
