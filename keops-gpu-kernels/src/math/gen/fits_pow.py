from remez import *
from mpmath import atanh
b = sqrt(mpf(2)) - 1
zmax = (b/(2+b))**2 * (1 + mpf(2)**-20)
def t_pow(z):
    s = sqrt(z)
    return (2*atanh(s) - 2*s - 2*s**3/3)/s**5 if z > mpf('1e-12') else mpf(2)/5 + 2*z/7 + 2*z**2/9
for n in [8, 9, 10]:
    fit('pow log1p tail T(z) %d' % n, t_pow, lambda z: z**2/2, range(0, n), mpf('1e-40'), zmax, 'f64')
