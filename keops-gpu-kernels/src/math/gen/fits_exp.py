from remez import *
L = log(2)/2 * (1 + mpf(2)**-16)
def q_exp(r): return (exp(r)-1-r)/r**2 if r != 0 else mpf(0.5)
w_exp = lambda r: r**2/exp(r)
fit('exp f32: exp(r) = 1 + r + r^2 Q(r)', q_exp, w_exp, range(0,5), -L, L, 'f32')
for d in [9, 10]:
    fit('exp f64 deg%d'%(d+2), q_exp, w_exp, range(0,d+1), -L, L, 'f64')
# expm1 and the short f64 exp (for f32 pow): see fits_em1.py
