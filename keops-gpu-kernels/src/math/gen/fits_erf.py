from remez import *
def q_erf(z):
    x = sqrt(z)
    return erf(x)/x - 1 if z > mpf('1e-30') else 2/sqrt(pi) - 1
w_erf = lambda z: sqrt(z)/erf(sqrt(z)) if z > 0 else sqrt(pi)/2
for n in [6, 7]:
    fit('erf f32 small Q(z) %d' % n, q_erf, w_erf, range(0, n), mpf(0), 1, 'f32')
for n in [12, 13]:
    fit('erf f64 small Q(z) %d' % n, q_erf, w_erf, range(0, n), mpf(0), 1, 'f64')
def G(L):
    def g(t):
        x = L*(1+t)/(1-t)
        return exp(x*x)*erfc(x)*(x+L)
    return g
for (L, xmax, fmt, ns) in [(2, 4, 'f32', [7, 8, 9]), (3, 6, 'f64', [16, 17, 18])]:
    a, b = (1-mpf(L))/(1+L), (mpf(xmax)-L)/(xmax+L)
    a, b = a - mpf(2)**-30, b + mpf(2)**-30
    g = G(mpf(L))
    for n in ns:
        fit('erfc %s L=%d G(t) %d' % (fmt, L, n), g, lambda t: 1/g(t), range(0, n), a, b, fmt)
