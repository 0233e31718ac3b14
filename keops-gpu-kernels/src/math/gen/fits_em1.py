from remez import *
from mpmath import expm1
L = log(2)/2 * (1 + mpf(2)**-16)
def q_exp(r): return (expm1(r)-r)/r**2 if abs(r) > mpf('1e-40') else mpf(0.5)
w_em1 = lambda r: r**2/expm1(r) if r != 0 else mpf(0)
w_exp = lambda r: r**2/exp(r)
for d in [4, 5]:
    fit('expm1 f32 deg%d'%(d+2), q_exp, w_em1, range(0,d+1), -L, L, 'f32')
for d in [9, 10]:
    fit('expm1 f64 deg%d'%(d+2), q_exp, w_em1, range(0,d+1), -L, L, 'f64')
for d in [5, 6]:
    fit('exp (f64, short) deg%d'%(d+2), q_exp, w_exp, range(0,d+1), -L, L, 'f64')
