from mpmath import mp, mpf, chebyfit, exp, erfc, polyval
import struct
mp.dps = 50
L = mpf(3)
def g(t):
    x = L*(1+t)/(1-t)
    return exp(x*x)*erfc(x)*(x+L)
a, b = (1-L)/(1+L) - mpf(2)**-30, (6-L)/(6+L) + mpf(2)**-30
for n in [16, 17, 18, 19]:
    c, err = chebyfit(g, [a, b], n, error=True)
    cr = [mpf(float(v)) for v in c]
    worst = 0
    for i in range(3001):
        t = a + (b-a)*i/3000
        e = abs(polyval(cr, t)/g(t) - 1)
        worst = max(worst, e)
    print(n, 'chebyfit err', mp.nstr(err, 3), 'rounded rel err', mp.nstr(worst, 3))
    if n == 16:
        print('    ' + ',\n    '.join('0x%016X' % struct.unpack('<Q', struct.pack('<d', float(v)))[0] for v in reversed(cr)))
        break
