#!/usr/bin/env python3
"""Minimax polynomial fitting (Remez exchange) with mpmath, for the device
math library (keops-gpu-kernels/src/math). Not run by the build: the
coefficients it prints are pasted into the Rust sources as exact hex.

fit(g, w, powers, a, b): find c minimising max_x |w(x) (g(x) - sum c_k x^k)|
over [a, b], k in `powers`. `rounded=True` then rounds the coefficients to
the target format one at a time (lowest power first), refitting the others.

Scripts (each prints the hex coefficients pasted into the Rust sources):
fits_exp.py (exp), fits_em1.py (expm1, short f64 exp for f32 pow),
fits_hyp.py (sinh, tanh), fits_log.py (log), fits_trig.py (sin, cos, pi/2
parts), fits_inv.py (asin/acos), fits_atan.py (atan/atan2), fits_erf.py
(erf, f32 erfc), fit_erfc64.py (f64 erfc, Chebyshev), fits_pow.py (the
double-double log of pow); ref_points.py writes ../testdata/ref_f64.txt.
Run with python3 and mpmath (1.3).
"""
import sys
from mpmath import mp, mpf, matrix, lu_solve, cos, pi, sqrt, exp, log, sin, atan, asin, erf, erfc, tanh, sinh, fabs, ldexp, frexp
import struct

mp.dps = 60


def round_to(x, fmt):
    """Round an mpf to f32 or f64 (nearest)."""
    if fmt == 'f64':
        return mpf(float(x))
    f = float(x)
    return mpf(struct.unpack('f', struct.pack('f', f))[0]) if abs(f) < 3e38 else mpf(f)


def hexf(x, fmt):
    if fmt == 'f64':
        return '0x%016X' % struct.unpack('<Q', struct.pack('<d', float(x)))[0]
    return '0x%08X' % struct.unpack('<I', struct.pack('<f', float(x)))[0]


def _err(g, w, powers, c, x, fixed=()):
    s = mpf(0)
    for k, ck in zip(powers, c):
        s += ck * x ** k
    for k, ck in fixed:
        s += ck * x ** k
    return w(x) * (g(x) - s)


def _extrema(ef, a, b, npts):
    xs = [a + (b - a) * mpf(i) / npts for i in range(npts + 1)]
    es = [ef(x) for x in xs]
    ext = []
    for i in range(len(xs)):
        left = es[i - 1] if i > 0 else None
        right = es[i + 1] if i < len(xs) - 1 else None
        e = es[i]
        is_ext = True
        if left is not None and abs(left) > abs(e) and (left > 0) == (e > 0):
            is_ext = False
        if right is not None and abs(right) > abs(e) and (right > 0) == (e > 0):
            is_ext = False
        if is_ext:
            # golden-section refine of |e| around xs[i]
            lo = xs[i - 1] if i > 0 else xs[i]
            hi = xs[i + 1] if i < len(xs) - 1 else xs[i]
            if lo != hi:
                sgn = 1 if e > 0 else -1
                f = lambda t: -sgn * ef(t)
                gr = (sqrt(5) - 1) / 2
                c1 = hi - gr * (hi - lo)
                d1 = lo + gr * (hi - lo)
                fc, fd = f(c1), f(d1)
                for _ in range(40):
                    if fc < fd:
                        hi, d1, fd = d1, c1, fc
                        c1 = hi - gr * (hi - lo)
                        fc = f(c1)
                    else:
                        lo, c1, fc = c1, d1, fd
                        d1 = lo + gr * (hi - lo)
                        fd = f(d1)
                xm = (lo + hi) / 2
                cands = [xm, xs[i]]
                best = max(cands, key=lambda t: abs(ef(t)))
                ext.append((best, ef(best)))
            else:
                ext.append((xs[i], e))
    # merge to alternating sequence keeping largest of same-sign runs
    alt = []
    for x, e in ext:
        if alt and (alt[-1][1] > 0) == (e > 0):
            if abs(e) > abs(alt[-1][1]):
                alt[-1] = (x, e)
        else:
            alt.append((x, e))
    return alt


def remez(g, w0, powers, a, b, fixed=(), iters=25, npts=600, verbose=False):
    w = lambda x: abs(w0(x))
    a, b = mpf(a), mpf(b)
    n = len(powers)
    m = n + 1
    xs = [(a + b) / 2 - (b - a) / 2 * cos(pi * (i + mpf(0.5)) / m) for i in range(m)]
    xs[0], xs[-1] = a, b
    xs = [x if abs(w(x)) > mpf('1e-25') else x + (b - a) * mpf('1e-3') for x in xs]
    best = None
    for it in range(iters):
        A = matrix(m, m)
        rhs = matrix(m, 1)
        for i, x in enumerate(xs):
            for j, k in enumerate(powers):
                A[i, j] = x ** k
            A[i, n] = (-1) ** i / w(x)
            fx = g(x)
            for k, ck in fixed:
                fx -= ck * x ** k
            rhs[i] = fx
        sol = lu_solve(A, rhs)
        c = [sol[j] for j in range(n)]
        E = abs(sol[n])
        ef = lambda x: _err(g, w, powers, c, x, fixed)
        alt = _extrema(ef, a, b, npts)
        emax = max(abs(e) for _, e in alt)
        if verbose:
            print('  iter', it, 'E', mp.nstr(E, 5), 'max', mp.nstr(emax, 5), 'nalt', len(alt), file=sys.stderr)
        if best is None or emax < best[1]:
            best = (c, emax)
        if len(alt) < m:
            break
        # choose m consecutive alternating points containing the global max
        if len(alt) > m:
            imax = max(range(len(alt)), key=lambda i: abs(alt[i][1]))
            start = min(max(0, imax - m // 2), len(alt) - m)
            # prefer window with largest minimum
            bestw, bs = None, None
            for s in range(0, len(alt) - m + 1):
                if s <= imax < s + m:
                    mn = min(abs(e) for _, e in alt[s:s + m])
                    if bs is None or mn > bs:
                        bs, bestw = mn, s
            alt = alt[bestw:bestw + m]
        xs = [x if abs(w(x)) > mpf('1e-25') else x + (b - a) * mpf('1e-9') for x, _ in alt]
        if emax - E < E * mpf('1e-6'):
            break
    return best


def fit(name, g, w0, powers, a, b, fmt, fixed=(), rounded=True, verbose=False):
    w = lambda x: abs(w0(x))
    c, emax = remez(g, w, powers, a, b, fixed, verbose=verbose)
    if rounded:
        fixed = list(fixed)
        pw = list(powers)
        cr = []
        while pw:
            k = pw.pop(0)
            ck = round_to(c[0], fmt)
            cr.append((k, ck))
            fixed.append((k, ck))
            if pw:
                c, e2 = remez(g, w, pw, a, b, fixed)
                if verbose:
                    print('  fixed c%d, refit error %s' % (k, mp.nstr(e2, 5)), file=sys.stderr)
        c = [ck for _, ck in cr]
        ef = lambda x: _err(g, w, powers, c, x, [f for f in fixed if f[0] not in powers])
        alt = _extrema(ef, mpf(a), mpf(b), 2000)
        emax = max(abs(e) for _, e in alt)
    print('%s (%s) powers %s on [%s, %s]: max weighted error %s (2^%.2f)' % (
        name, fmt, list(powers), mp.nstr(mpf(a), 8), mp.nstr(mpf(b), 8), mp.nstr(emax, 5),
        float(log(emax, 2)) if emax > 0 else -999))
    for k, ck in zip(powers, c):
        print('    %s, // c%d = %s' % (hexf(ck, fmt), k, mp.nstr(ck, 20)))
    return c, emax
