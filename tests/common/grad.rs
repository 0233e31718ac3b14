//! Gradient checks: gradient kernels against the reference evaluator's
//! gradient programs, against central finite differences of the forward
//! kernel (Richardson-extrapolated, so the truncation error is O(h^4)), and
//! f32 against f64.
#![allow(dead_code)]

use keops::ndarray::{Array1, Array2};
use keops_compiler::eval::RefValue;

use super::{IntoOut, Out};

/// An input of a kernel call, in f64.
#[derive(Clone, Debug)]
pub enum Input {
    Rows(Array2<f64>),
    Vector(Vec<f64>),
}

impl Input {
    pub fn len(&self) -> usize {
        match self {
            Input::Rows(a) => a.len(),
            Input::Vector(v) => v.len(),
        }
    }
    pub fn get(&self, k: usize) -> f64 {
        match self {
            Input::Rows(a) => a.as_slice().unwrap()[k],
            Input::Vector(v) => v[k],
        }
    }
    pub fn perturbed(&self, k: usize, h: f64) -> Input {
        let mut c = self.clone();
        match &mut c {
            Input::Rows(a) => a.as_slice_mut().unwrap()[k] += h,
            Input::Vector(v) => v[k] += h,
        }
        c
    }
    pub fn to_ref(&self) -> RefValue {
        match self {
            Input::Rows(a) => RefValue::Rows {
                data: a.iter().copied().collect(),
                rows: a.nrows(),
                cols: a.ncols(),
            },
            Input::Vector(v) => RefValue::Vector(v.clone()),
        }
    }
    pub fn rows(&self) -> &Array2<f64> {
        match self {
            Input::Rows(a) => a,
            _ => panic!("not rows"),
        }
    }
    pub fn vector(&self) -> &Vec<f64> {
        match self {
            Input::Vector(v) => v,
            _ => panic!("not a vector"),
        }
    }
    pub fn rows32(&self) -> Array2<f32> {
        self.rows().mapv(|x| x as f32)
    }
    pub fn vector32(&self) -> Vec<f32> {
        self.vector().iter().map(|&x| x as f32).collect()
    }
    /// The same values rounded to f32 (so the f64 reference sees the f32 data).
    pub fn rounded(&self) -> Input {
        match self {
            Input::Rows(a) => Input::Rows(a.mapv(|x| x as f32 as f64)),
            Input::Vector(v) => Input::Vector(v.iter().map(|&x| x as f32 as f64).collect()),
        }
    }
    /// A random input shaped like an output.
    pub fn like(out: &Out, rng: &mut fastrand::Rng) -> Input {
        match out {
            Out::Rows(a) => Input::Rows(Array2::from_shape_fn(a.dim(), |_| rng.f64() * 2.0 - 1.0)),
            Out::Pair(a, _) => {
                Input::Rows(Array2::from_shape_fn(a.dim(), |_| rng.f64() * 2.0 - 1.0))
            }
            Out::Idx(a) => Input::Rows(Array2::from_shape_fn(a.dim(), |_| rng.f64() * 2.0 - 1.0)),
            Out::Vector(v) => Input::Vector((0..v.len()).map(|_| rng.f64() * 2.0 - 1.0).collect()),
        }
    }
}

/// `<e, out>` for a real output.
pub fn dot(e: &Input, out: &Out) -> f64 {
    let o: Vec<f64> = match out {
        Out::Rows(a) | Out::Pair(a, _) => a.iter().copied().collect(),
        Out::Vector(v) => v.to_vec(),
        Out::Idx(_) => panic!("no inner product with indices"),
    };
    let e: Vec<f64> = match e {
        Input::Rows(a) => a.iter().copied().collect(),
        Input::Vector(v) => v.clone(),
    };
    assert_eq!(o.len(), e.len());
    o.iter().zip(&e).map(|(a, b)| a * b).sum()
}

/// Finite-difference gradient of `x ↦ <e, f(x)>` with respect to input `w`.
pub fn finite_difference(
    f: &dyn Fn(&[Input]) -> Out,
    inputs: &[Input],
    w: usize,
    e: &Input,
    h: f64,
) -> Vec<f64> {
    (0..inputs[w].len())
        .map(|k| {
            let at = |d: f64| {
                let mut ins = inputs.to_vec();
                ins[w] = inputs[w].perturbed(k, d);
                dot(e, &f(&ins))
            };
            let d1 = (at(h) - at(-h)) / (2.0 * h);
            let d2 = (at(h / 2.0) - at(-h / 2.0)) / h;
            (4.0 * d2 - d1) / 3.0
        })
        .collect()
}

/// The data of a gradient output.
pub fn values(out: &Out) -> Vec<f64> {
    match out {
        Out::Rows(a) => a.iter().copied().collect(),
        Out::Vector(v) => v.to_vec(),
        other => panic!("gradient output {other:?}"),
    }
}

/// Asserts `|a - b| <= tol * (|b| + max |b|)` entry-wise.
pub fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().map(|x| x.abs()).fold(0.0, f64::max);
    for (k, (&x, &y)) in a.iter().zip(b).enumerate() {
        let bound = tol * (y.abs() + scale) + 1e-300;
        assert!(
            (x - y).abs() <= bound,
            "{what}: entry {k}: {x:e} vs {y:e} (allowed {bound:e})"
        );
    }
}

pub fn ref_inputs(inputs: &[Input]) -> Vec<RefValue> {
    inputs.iter().map(Input::to_ref).collect()
}

pub fn out_of<T: IntoOut>(t: T) -> Out {
    t.into_out()
}

pub fn vector_out(v: Array1<f64>) -> Out {
    Out::Vector(v)
}

/// Takes the f64 argument of a variable from an input list.
#[macro_export]
macro_rules! unpack64 {
    (Vi, $i:expr) => {
        $i.rows()
    };
    (Vj, $i:expr) => {
        $i.rows()
    };
    (Pm, $i:expr) => {
        &$i.vector()[..]
    };
}

/// Converts an input to f32 for a variable.
#[macro_export]
macro_rules! unpack32 {
    (Vi, $i:expr) => {
        &$i.rows32()
    };
    (Vj, $i:expr) => {
        &$i.rows32()
    };
    (Pm, $i:expr) => {
        &$i.vector32()[..]
    };
}

/// Generates an input for a variable.
#[macro_export]
macro_rules! gen_grad_input {
    (Vi, $d:literal, $m:expr, $n:expr, $rng:expr, $lo:expr, $hi:expr) => {
        $crate::common::grad::Input::Rows($crate::common::rows($rng, $m, $d, $lo, $hi))
    };
    (Vj, $d:literal, $m:expr, $n:expr, $rng:expr, $lo:expr, $hi:expr) => {
        $crate::common::grad::Input::Rows($crate::common::rows($rng, $n, $d, $lo, $hi))
    };
    (Pm, $d:literal, $m:expr, $n:expr, $rng:expr, $lo:expr, $hi:expr) => {
        $crate::common::grad::Input::Vector($crate::common::param($rng, $d, $lo, $hi))
    };
}

/// Rules over the formula, passed around as one token tree.
#[macro_export]
macro_rules! grad_rules {
    // Random inputs.
    (@gen $rng:expr, $m:expr, $n:expr, $lo:expr, $hi:expr, (|$($v:ident : $cat:ident < $dim:literal >),*| $body:expr)) => {
        vec![$( $crate::gen_grad_input!($cat, $dim, $m, $n, $rng, $lo, $hi) ),*]
    };
    // Forward call (f64 or f32) on an input list.
    (@fwd $k:expr, $ins:expr, $unpack:ident, (|$($v:ident : $cat:ident < $dim:literal >),*| $body:expr)) => {{
        let mut __it = $ins.iter();
        $( let $v = __it.next().unwrap(); )*
        $crate::common::IntoOut::into_out($k.call($( $crate::$unpack!($cat, $v) ),*).unwrap())
    }};
    // Gradient-kernel call with a cotangent.
    (@grad $g:expr, $ins:expr, $e:expr, $unpack:ident, (|$($v:ident : $cat:ident < $dim:literal >),*| $body:expr)) => {{
        let mut __it = $ins.iter();
        $( let $v = __it.next().unwrap(); )*
        $crate::common::IntoOut::into_out($g.call($( $crate::$unpack!($cat, $v) ),*, $e).unwrap())
    }};
    // Names of the variables.
    (@names (|$($v:ident : $cat:ident < $dim:literal >),*| $body:expr)) => {
        vec![$( stringify!($v) ),*]
    };
}

/// Defines a test of the first-order gradient kernels `grads` (one method per
/// variable, in declaration order; `_` skips one): each against the
/// reference gradient program (1e-12), against finite differences of the
/// forward kernel (relative 1e-6), and the f32 kernel against the f64
/// reference (1e-4).
#[macro_export]
macro_rules! check_grad {
    (
        $name:ident, $f:tt; grads = [$($g:tt),*]
        $(; range = ($lo:expr, $hi:expr))?
        $(; sizes = ($m:expr, $n:expr))?
    ) => {
        #[test]
        fn $name() {
            let kernel = $crate::check_grad!(@kernel $f);
            let reference = ::keops_compiler::Reference::parse(&format!("grad_order = 1, {}", $crate::check_grad!(@src $f))).unwrap();
            #[allow(unused_mut, unused_assignments)]
            let mut range: (f64, f64) = (-1.0, 1.0);
            $( range = ($lo, $hi); )?
            #[allow(unused_mut, unused_assignments)]
            let mut size: (usize, usize) = (4, 6);
            $( size = ($m, $n); )?
            let mut rng = $crate::common::rng(stringify!($name), size.0, size.1);
            let inputs: Vec<$crate::common::grad::Input> = $crate::grad_rules!(@gen &mut rng, size.0, size.1, range.0, range.1, $f);
            let names: Vec<&str> = $crate::grad_rules!(@names $f);
            let fwd = |ins: &[$crate::common::grad::Input]| -> $crate::common::Out {
                $crate::grad_rules!(@fwd kernel, ins, unpack64, $f)
            };
            let out = fwd(&inputs);
            let e = $crate::common::grad::Input::like(&out, &mut rng);
            let mut all = inputs.clone();
            all.push(e.clone());
            let mut w = 0usize;
            $(
                $crate::check_grad!(@one $g, w, kernel, reference, inputs, names, e, all, fwd, $f);
                w += 1;
            )*
            let _ = w;
        }
    };
    (@kernel ( $($t:tt)* )) => { ::keops::keops!(grad_order = 1, $($t)*) };
    (@src ( $($t:tt)* )) => { stringify!($($t)*) };
    (@one _, $w:ident, $kernel:ident, $reference:ident, $inputs:ident, $names:ident, $e:ident, $all:ident, $fwd:ident, $f:tt) => {};
    (@one $g:ident, $w:ident, $kernel:ident, $reference:ident, $inputs:ident, $names:ident, $e:ident, $all:ident, $fwd:ident, $f:tt) => {{
        let what = format!("{} ({})", stringify!($g), $names[$w]);
        // Against the reference gradient program.
        let r = $reference.eval(&[$names[$w]], &$crate::common::grad::ref_inputs(&$all)).unwrap();
        let e64 = match &$e {
            $crate::common::grad::Input::Rows(a) => a.clone(),
            _ => panic!("vector cotangent"),
        };
        let got: $crate::common::Out = $crate::grad_rules!(@grad $kernel.$g(), $inputs, &e64, unpack64, $f);
        let gv = $crate::common::grad::values(&got);
        $crate::common::grad::assert_close(&gv, r.reals(), 1e-12, &format!("{what} vs reference"));
        // Against finite differences of the forward kernel.
        let fd = $crate::common::grad::finite_difference(&$fwd, &$inputs, $w, &$e, 1e-4);
        $crate::common::grad::assert_close(&gv, &fd, 1e-6, &format!("{what} vs finite differences"));
        // f32 against the f64 reference on the same (rounded) data.
        let rounded: Vec<$crate::common::grad::Input> = $all.iter().map(|i| i.rounded()).collect();
        let r32 = $reference.eval(&[$names[$w]], &$crate::common::grad::ref_inputs(&rounded)).unwrap();
        let ins32 = &rounded[..rounded.len() - 1];
        let e32 = e64.mapv(|x| x as f32);
        let got32: $crate::common::Out = $crate::grad_rules!(@grad $kernel.$g(), ins32, &e32, unpack32, $f);
        $crate::common::grad::assert_close(&$crate::common::grad::values(&got32), r32.reals(), 1e-4, &format!("{what} f32"));
    }};
}
