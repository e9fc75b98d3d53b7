"""tinytx.erf against the standard library's math.erf (a correctly-rounded-ish libm erf)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytx.erf import erf

# Every interval edge of the fdlibm algorithm, and the points just either side of it.
EDGES = [2.0**-28, 0.84375, 1.0, 1.25, 1 / 0.35, 6.0]
BOUNDARY_POINTS = np.array([np.nextafter(e, d) for e in EDGES for d in (0.0, np.inf)] + EDGES)


def _ref(xs):
    return np.array([math.erf(v) for v in np.asarray(xs, dtype=np.float64).ravel()])


def _check_close(xs):
    xs = np.asarray(xs, dtype=np.float64)
    xs = np.concatenate([xs, -xs])
    got, want = erf(xs), _ref(xs)
    abs_err = np.abs(got - want)
    assert abs_err.max() <= 1e-15
    big = np.abs(xs) > 1e-300  # relative error, counted in units in the last place
    ulps = abs_err[big] / np.spacing(np.abs(want[big]))
    assert ulps.max() <= 4
    return abs_err.max(), ulps.max() if ulps.size else 0.0


def test_dense_grid():
    _check_close(np.linspace(-7.0, 7.0, 200_001))


def test_random_points_and_scales():
    rng = np.random.default_rng(0)
    uniform = rng.uniform(-7.0, 7.0, 100_000)
    log_scale = np.exp(rng.uniform(np.log(1e-300), np.log(7.0), 50_000))  # tiny through large
    _check_close(np.concatenate([uniform, log_scale]))


def test_interval_boundaries():
    _check_close(BOUNDARY_POINTS)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_matches_math_erf_anywhere(v):
    assert abs(float(erf(v)) - math.erf(v)) <= 4 * np.spacing(abs(math.erf(v))) + 1e-320


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, width=64))
def test_odd_symmetry(v):
    assert erf(-v) == -erf(v)


def test_float32_in_float32_out():
    x = np.linspace(-7.0, 7.0, 20_001, dtype=np.float32)
    y = erf(x)
    assert y.dtype == np.float32
    assert np.abs(y.astype(np.float64) - _ref(x)).max() <= 1e-7


@pytest.mark.parametrize("dtype,out", [(np.float16, np.float16), (np.float32, np.float32),
                                       (np.float64, np.float64), (np.int32, np.float64),
                                       (np.int64, np.float64), (np.bool_, np.float64)])
def test_dtypes(dtype, out):
    x = np.array([0, 1], dtype=dtype)
    y = erf(x)
    assert y.dtype == out
    np.testing.assert_allclose(y.astype(np.float64), [0.0, math.erf(1.0)], rtol=1e-3)


def test_special_values():
    y = erf(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 6.0, -30.0, 1e308, 5e-324]))
    assert np.isnan(y[0])
    assert y[1] == 1.0 and y[2] == -1.0
    assert y[3] == 0.0 and not np.signbit(y[3])
    assert y[4] == 0.0 and np.signbit(y[4])
    assert y[5] == 1.0 and y[6] == -1.0 and y[7] == 1.0
    assert y[8] == math.erf(5e-324)  # subnormal input


def test_scalars_and_shapes():
    for v in (0.5, 2, np.float64(0.5), np.array(0.5)):
        y = erf(v)
        assert isinstance(y, np.ndarray) and y.shape == ()
        assert float(y) == math.erf(float(v))
    x = np.linspace(-3, 3, 24).reshape(2, 3, 4)
    assert erf(x).shape == (2, 3, 4)
    assert erf(np.array([])).shape == (0,)


def test_complex_rejected():
    with pytest.raises(TypeError):
        erf(np.array([1 + 1j]))
