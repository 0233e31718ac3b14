from remez import *
from mpmath import log1p, atanh
a, b = sqrt(mpf(0.5)) - 1, sqrt(mpf(2)) - 1
a, b = a * (1 + mpf(2)**-20), b * (1 + mpf(2)**-20)
def q_log(f): return (log1p(f) - f)/f**2 if abs(f) > mpf('1e-40') else mpf(-0.5)
w_log = lambda f: f**2/log1p(f) if f != 0 else mpf(0)
for n in [8, 9]:
    fit('log f32: log1p(f) = f + f^2 Q(f), %d coeffs' % n, q_log, w_log, range(0, n), a, b, 'f32')
# f64: log1p(f) = 2s + s R(z), z = s^2, R(z) = sum Lg_k z^k (k = 1..7); abs error on R weighted 1/2
zmax = (b/(2+b))**2 * (1 + mpf(2)**-20)
def r_log(z):
    s = sqrt(z)
    return (2*atanh(s) - 2*s)/s if z > mpf('1e-40') else mpf(0)
for n in [7, 8]:
    fit('log f64: R(z) powers 1..%d' % n, r_log, lambda z: mpf(1), range(1, n+1), mpf('1e-45'), zmax, 'f64')
