from remez import *
L = log(2)/2 * (1 + mpf(2)**-16)
def q_exp(r): return (exp(r)-1-r)/r**2 if r != 0 else mpf(0.5)
w_exp = lambda r: r**2/exp(r)
fit('exp f32: exp(r) = 1 + r + r^2 Q(r)', q_exp, w_exp, range(0,5), -L, L, 'f32')
for d in [9, 10]:
    fit('exp f64 deg%d'%(d+2), q_exp, w_exp, range(0,d+1), -L, L, 'f64')
# expm1(r) = r + r^2 Q(r), relative to expm1
w_em1 = lambda r: r**2/(exp(r)-1) if r != 0 else mpf(0)
for d in [4, 5]:
    fit('expm1 f32 deg%d'%(d+2), q_exp, w_em1, range(0,d+1), -L, L, 'f32')
for d in [9, 10]:
    fit('expm1 f64 deg%d'%(d+2), q_exp, w_em1, range(0,d+1), -L, L, 'f64')
# f32-pow exp core in f64: ~2^-40 enough
for d in [5, 6]:
    fit('exp (f64, short) deg%d'%(d+2), q_exp, w_exp, range(0,d+1), -L, L, 'f64')
