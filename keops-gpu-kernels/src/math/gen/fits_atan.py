from remez import *
def p_atan(z):
    s = sqrt(z)
    return (atan(s) - s)/(s*z) if z > mpf('1e-30') else mpf(-1)/3
w_atan = lambda z: z*sqrt(z)/atan(sqrt(z)) if z > 0 else mpf(0)
zmax = mpf(0.25) * (1 + mpf(2)**-20)
for n in [6, 7]:
    fit('atan f32 P(z) %d' % n, p_atan, w_atan, range(0, n), mpf('1e-40'), zmax, 'f32')
for n in [13, 14]:
    fit('atan f64 P(z) %d' % n, p_atan, w_atan, range(0, n), mpf('1e-40'), zmax, 'f64')
