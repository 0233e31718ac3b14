from remez import *
# sinh(x) = x + x z S(z), z = x^2, z in [0, T^2], relative error
def s_sinh(z):
    x = sqrt(z)
    return (sinh(x) - x)/(x*z) if z > mpf('1e-30') else mpf(1)/6
w_sinh = lambda z: z*sqrt(z)/sinh(sqrt(z)) if z > 0 else mpf(0)
for d in [3, 4]:
    fit('sinh f32 small deg%d'%d, s_sinh, w_sinh, range(0,d), mpf('1e-40'), 1, 'f32')
for d in [6, 7]:
    fit('sinh f64 small deg%d'%d, s_sinh, w_sinh, range(0,d), mpf('1e-40'), 1, 'f64')
T = mpf('0.55')
def s_tanh(z):
    x = sqrt(z)
    return (tanh(x) - x)/(x*z) if z > mpf('1e-30') else mpf(-1)/3
w_tanh = lambda z: z*sqrt(z)/tanh(sqrt(z)) if z > 0 else mpf(0)
for d in [5, 6]:
    fit('tanh f32 small deg%d'%d, s_tanh, w_tanh, range(0,d), mpf('1e-40'), T**2, 'f32')
for d in [10, 11, 12]:
    fit('tanh f64 small deg%d'%d, s_tanh, w_tanh, range(0,d), mpf('1e-40'), T**2, 'f64')
