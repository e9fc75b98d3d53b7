"""The error function erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t*t) dt, on NumPy arrays.

Why it is here: the exact GELU activation is GELU(x) = x * Phi(x), where Phi is the standard
normal CDF, Phi(x) = 1/2 * (1 + erf(x / sqrt(2))). NumPy has no `erf` and tinytx does not
depend on SciPy, so this module supplies one. Introduced in lesson 08 ("MLP and the
transformer block"); on CUDA the backend uses CuPy's own erf instead.

Where the algorithm comes from: fdlibm's `s_erf.c` (Sun Microsystems, 1993; the same code
lives on in FreeBSD's libm). It splits |x| into five intervals and uses a rational
approximation P/Q fitted to each, with the published coefficients copied verbatim:

    |x| < 2**-28        erf(x) = x + efx*x                    (first term of the Taylor series)
    |x| < 0.84375       erf(x) = x + x * P(x*x) / Q(x*x)
    |x| < 1.25          erf(x) = erx + P(s) / Q(s),            s = |x| - 1
    |x| < 1/0.35        erf(x) = 1 - exp(-x*x - 0.5625 + R(z)/S(z)) / |x|,   z = 1/(x*x)
    |x| < 6             same form, a second R/S pair
    |x| >= 6            erf(x) = 1  (1 - erf(6) is 2.2e-17, below half an ulp of 1)

and erf(-x) = -erf(x). Here the branches become boolean masks instead of `if`: each piece
runs on just the elements of its interval, so one call handles a whole array. fdlibm splits
-x*x as -z*z + (z-x)(z+x), with z = x truncated to 32 bits, to keep exp's argument exact; for
erf (as opposed to erfc) that refinement changes nothing measurable (max error 1 ulp either
way), so the plain form is used. tests/test_erf.py checks the result against `math.erf`.
"""
# The coefficients below are from fdlibm's s_erf.c, which carries this notice:
#   Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
#   Developed at SunSoft, a Sun Microsystems, Inc. business.
#   Permission to use, copy, modify, and distribute this software is freely granted,
#   provided that this notice is preserved.
from __future__ import annotations

import numpy as np

__all__ = ["erf"]

# |x| < 2**-28: erf(x) = x + efx*x, efx = 2/sqrt(pi) - 1; efx8 = 8*efx avoids underflow.
EFX8 = 1.02703333676410069053e+00
# [0, 0.84375): erf(x) = x + x * PP(x*x) / QQ(x*x)
PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
      -5.77027029648944159157e-03, -2.37630166566501626084e-05)
QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
      1.32494738004321644526e-04, -3.96022827877536812320e-06)
# [0.84375, 1.25): erf(1 + s) = ERX + PA(s) / QA(s), ERX = erf(1) rounded to single precision
ERX = 8.45062911510467529297e-01
PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
      3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
      -2.16637559486879084300e-03)
QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
      1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
# [1.25, 1/0.35): erfc(x) = exp(-x*x - 0.5625 + RA(z) / SA(z)) / x, z = 1/(x*x)
RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
      -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
      -8.12874355063065934246e+01, -9.81432934416914548592e+00)
SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
      6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
      6.57024977031928170135e+00, -6.04244152148580987438e-02)
# [1/0.35, 6): the same form with RB / SB
RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
      -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
      -4.83519191608651397019e+02)
SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
      3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
      -2.24409524465858183362e+01)


def _horner(coeffs, t):
    """coeffs[0] + coeffs[1]*t + coeffs[2]*t**2 + ..., evaluated from the highest power down."""
    acc = np.full_like(t, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc = acc * t + c
    return acc


def _erfc_tail(t, R, S):  # erfc(t) for t >= 1.25, given that interval's R/S pair
    w = 1.0 / (t * t)
    return np.exp(-t * t - 0.5625 + _horner(R, w) / _horner(S, w)) / t


# (upper end of the interval, erf(t) for t = |x| in it); each piece runs only on its elements.
_PIECES = [
    (2.0**-28, lambda t: (8.0 * t + EFX8 * t) / 8.0),
    (0.84375, lambda t: t + t * (_horner(PP, t * t) / _horner(QQ, t * t))),
    (1.25, lambda t: ERX + _horner(PA, t - 1.0) / _horner(QA, t - 1.0)),
    (1 / 0.35, lambda t: 1.0 - _erfc_tail(t, RA, SA)),
    (6.0, lambda t: 1.0 - _erfc_tail(t, RB, SB)),
]


def erf(x) -> np.ndarray:
    """Elementwise erf. Float16/32/64 input keeps its dtype; other real input gives float64.

    Computed in float64 throughout; erf(nan) = nan, erf(+-inf) = +-1, erf(-0.0) = -0.0.
    Scalars and 0-d arrays give a 0-d ndarray.
    """
    x = np.asarray(x)
    if x.dtype.kind == "c":
        raise TypeError("erf is defined here for real input only")
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    ax = np.abs(x.astype(np.float64))
    y = np.where(np.isnan(ax), ax, 1.0)  # |x| >= 6 (inf included): erf is 1 to double precision
    lo = 0.0
    for hi, piece in _PIECES:
        mask = (ax >= lo) & (ax < hi)  # nan fails both comparisons, so it stays nan
        y[mask] = piece(ax[mask])
        lo = hi
    return np.asarray(np.copysign(y, x), dtype=out_dtype)  # erf is odd; keeps erf(-0.0) = -0.0
