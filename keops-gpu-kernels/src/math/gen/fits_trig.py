from remez import *
from mpmath import cos as mcos
mp.dps = 60
h = pi/2
for fmt in ['f32', 'f64']:
    rem = h
    parts = []
    for i in range(4):
        p = round_to(rem, fmt)
        parts.append(p)
        rem -= p
    print(fmt, 'pi/2 parts', [hexf(p, fmt) for p in parts], [mp.nstr(p, 17) for p in parts])
    print(fmt, '2/pi', hexf(2/pi, fmt), '2pi parts', hexf(2*pi, fmt), hexf(2*pi - round_to(2*pi, fmt), fmt), '1/2pi', hexf(1/(2*pi), fmt))
zmax = (pi/4)**2 * (1 + mpf(2)**-10)
def s_sin(z):
    x = sqrt(z)
    return (sin(x) - x)/(x*z) if z > mpf('1e-30') else mpf(-1)/6
w_sin = lambda z: z*sqrt(z)/sin(sqrt(z)) if z > 0 else mpf(0)
# cos = 1 + z C(z) (f32)
def c_cos1(z):
    return (mcos(sqrt(z)) - 1)/z if z > mpf('1e-30') else mpf(-0.5)
w_cos1 = lambda z: z/mcos(sqrt(z))
# cos = 1 - z/2 + z^2 C(z) (f64)
def c_cos2(z):
    return (mcos(sqrt(z)) - 1 + z/2)/z**2 if z > mpf('1e-20') else mpf(1)/24
w_cos2 = lambda z: z**2/mcos(sqrt(z))
for n in [3, 4]:
    fit('sin f32 S(z) %d' % n, s_sin, w_sin, range(0, n), mpf('1e-40'), zmax, 'f32')
    fit('cos f32 1 + z C(z) %d' % n, c_cos1, w_cos1, range(0, n), mpf('1e-40'), zmax, 'f32')
for n in [6, 7]:
    fit('sin f64 S(z) %d' % n, s_sin, w_sin, range(0, n), mpf('1e-40'), zmax, 'f64')
    fit('cos f64 1 - z/2 + z^2 C(z) %d' % n, c_cos2, w_cos2, range(0, n), mpf('1e-30'), zmax, 'f64')
