use keops::prelude::*;

// A large formula gets no gradient kernels unless asked for: `grad_x()`
// says how to get them.
fn main() {
    let k = keops!(|x: Vi<784>, y: Vj<784>| sum_j(exp(-sqdist(x, y))));
    let x = Array2::<f32>::zeros((4, 784));
    let e = Array2::<f32>::ones((4, 1));
    let _ = k.grad_x().call(&x, &x, &e);
}
