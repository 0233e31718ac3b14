from remez import *
def p_asin(z):
    s = sqrt(z)
    return (asin(s) - s)/(s*z) if z > mpf('1e-30') else mpf(1)/6
w_asin = lambda z: z*sqrt(z)/asin(sqrt(z)) if z > 0 else mpf(0)
zmax = mpf(0.25) * (1 + mpf(2)**-20)
for n in [5, 6]:
    fit('asin f32 P(z) %d' % n, p_asin, w_asin, range(0, n), mpf('1e-40'), zmax, 'f32')
for n in [11, 12]:
    fit('asin f64 P(z) %d' % n, p_asin, w_asin, range(0, n), mpf('1e-40'), zmax, 'f64')
# atan: see fits_atan.py
