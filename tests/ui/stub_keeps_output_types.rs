use keops::prelude::*;

// A formula error (K must be a literal) is the only error reported: the stub
// kernel has the whole API with the right output types, so the code around
// the macro type-checks.
fn main() -> Result<()> {
    const K: usize = 5;
    let knn = keops!(|x: Vi<3>, y: Vj<3>| argkmin_j(sqdist(x, y), K));
    let x = Array2::<f32>::zeros((4, 3));
    let idx: Array2<usize> = knn.threads(1).call(&x, &x)?;
    let dx: Array2<f32> = knn.grad_x().call(&x, &x, &idx.mapv(|i| i as f32))?;
    println!("{} {}", idx.len(), dx.len());
    Ok(())
}
