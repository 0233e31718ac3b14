from remez import *
import time
t=time.time()
L = log(2)/2 * (1 + mpf(2)**-20)
# exp(r) = 1 + r + r^2 (c2 + c3 r + ...); rel error
for d in [5,6]:
    fit('exp f32 deg%d'%d, lambda r: (exp(r)-1-r)/r**2 if r!=0 else mpf(0.5), lambda r: r**2/exp(r), range(0,d-1), -L, L, 'f32')
print(time.time()-t)
