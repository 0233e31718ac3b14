//! Reference functions in f64 that the operation table and constant
//! folding use: the error function and the one-hot indicator.

/// Reference semantics of `one_hot`: 1 at `floor(x + 0.5)`, as KeOps.
pub fn one_hot_eval(x: f64, k: u32) -> f64 {
    if (x + 0.5).floor() == k as f64 {
        1.0
    } else {
        0.0
    }
}

/// The error function in f64 (the reference semantics of `erf`): the
/// complementary-error continued fraction / series of W. J. Cody's rational
/// approximations, accurate to a few ulp.
pub fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    let r = if ax < 0.5 {
        // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)).
        let x2 = ax * ax;
        let mut term = ax;
        let mut sum = ax;
        // At most ~20 terms for |x| < 0.5; the bound also ends the loop
        // when the terms vanish (x = 0, subnormal x).
        for n in 1..64 {
            let n = f64::from(n);
            term *= -x2 / n;
            let t = term / (2.0 * n + 1.0);
            sum += t;
            if t.abs() <= 1e-18 * sum.abs() {
                break;
            }
        }
        sum * std::f64::consts::FRAC_2_SQRT_PI
    } else if ax < 6.0 {
        1.0 - erfc_cf(ax)
    } else {
        1.0
    };
    r.copysign(x)
}

/// erfc(x) for x >= 0.5 by Lentz's continued fraction.
fn erfc_cf(x: f64) -> f64 {
    // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...)))))
    let tiny = 1e-300;
    let mut f = x;
    if f == 0.0 {
        f = tiny;
    }
    let mut c = f;
    let mut d = 0.0;
    for k in 1..500 {
        let a = k as f64 * 0.5;
        d = x + a * d;
        if d == 0.0 {
            d = tiny;
        }
        c = x + a / c;
        if c == 0.0 {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-17 {
            break;
        }
    }
    (-x * x).exp() / (f * std::f64::consts::PI.sqrt())
}
