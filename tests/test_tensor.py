"""Tensor, autograd sweep, devices and the errors a user meets first."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinytx as tx
import tinytx.functional as F
from tinytx.backend import StrictArray


def test_factories_default_to_float32(device):
    assert tx.tensor([1.0, 2.0], device=device).dtype == np.float32
    assert tx.tensor([1, 2], device=device).dtype.kind == "i"
    for t in (tx.zeros(2, 3, device=device), tx.ones((2, 3), device=device),
              tx.randn(2, 3, device=device), tx.rand(2, 3, device=device),
              tx.full((2, 3), 7.0, device=device)):
        assert t.shape == (2, 3) and t.dtype == np.float32 and t.device is device
        assert device.is_own(t.data)
    assert tx.arange(5, device=device).tolist() == [0, 1, 2, 3, 4]
    r = tx.randint(0, 10, (100,), device=device).numpy()
    assert r.min() >= 0 and r.max() < 10


def test_backward_accumulates_into_leaves(device):
    x = tx.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    y = x * x + x          # x used three times
    y.sum().backward()
    np.testing.assert_allclose(x.device.to_host(x.grad), [3.0, -3.0, 7.0])
    (x * 2).sum().backward()  # a second backward adds to the gradient
    np.testing.assert_allclose(x.device.to_host(x.grad), [5.0, -1.0, 9.0])


def test_leaves_never_share_a_gradient_array():
    a = tx.tensor([1.0], requires_grad=True)
    b = tx.tensor([2.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad
    a.grad *= 3  # an optimizer scaling a's gradient in place must not touch b's
    assert b.grad[0] == 1.0


def test_leaves_never_share_a_gradient_array_through_views():
    # add hands one array to both inputs; reshape's backward makes a view of it for `a`
    a = tx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = tx.tensor([[4.0, 5.0, 6.0]], requires_grad=True)
    (a.reshape(1, 3) + b).backward(tx.ones(1, 3))
    assert not np.shares_memory(a.grad, b.grad)
    a.grad *= 3
    np.testing.assert_array_equal(b.grad, [[1.0, 1.0, 1.0]])


@pytest.mark.parametrize("convert", ["double", "float", "to_dtype", "to_device"])
def test_conversions_of_a_non_leaf_stay_in_the_graph(convert, device):
    x = tx.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    y = x * 2
    other = "strict" if device.name == "cpu" else "cpu"
    y = {"double": lambda: y.double(), "float": lambda: y.double().float(),
         "to_dtype": lambda: y.to(dtype="float64"),
         "to_device": lambda: y.to(other)}[convert]()
    assert y.requires_grad and not y.is_leaf
    w = np.array([0.5, -1.0, 2.0])
    (y * tx.tensor(w, dtype=y.dtype, device=y.device)).sum().backward()
    assert x.grad is not None and x.grad.dtype == x.dtype and x.device.is_own(x.grad)
    np.testing.assert_allclose(x.device.to_host(x.grad), 2 * w)


def test_conversions_without_grad_are_plain_copies():
    x = tx.tensor([1.0, 2.0])
    y = x.double()
    assert y.dtype == np.float64 and y.is_leaf and not y.requires_grad
    assert x.to("cpu") is x and x.float() is x


def test_backward_without_gradient_on_non_scalar_is_an_error():
    x = tx.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"gradient must be passed.*shape \(3,\)"):
        (x * 2).backward()
    (x * 2).backward(tx.ones(3))  # with an explicit gradient it works
    np.testing.assert_allclose(x.grad, [2, 2, 2])


def test_backward_twice_needs_retain_graph():
    x = tx.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_no_grad_records_nothing():
    x = tx.randn(3, requires_grad=True)
    with tx.no_grad():
        y = x * 2
    assert not y.requires_grad and y._ctx is None
    assert (x * 2).requires_grad


def test_retain_grad_keeps_an_intermediate_gradient():
    x = tx.randn(4, requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.numpy(), rtol=1e-6)


def test_chain_of_100k_ops_does_not_recurse():
    x = tx.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad[0] == 1.0


def test_diamond_graph_order():
    """A node used by two consumers gets both gradients before its own backward."""
    x = tx.tensor([2.0], dtype="float64", requires_grad=True)
    a = x * x          # 4
    b = a * x          # 8, uses a and x
    c = a + b          # the graph reaches a both directly and through b
    c.backward(tx.tensor([1.0], dtype="float64"))
    assert x.grad[0] == pytest.approx(2 * 2 + 3 * 4)  # d(x² + x³)/dx


def test_comparisons_and_indexing(device):
    x = tx.tensor([[1.0, 5.0], [3.0, -1.0]], device=device)
    assert (x > 2).dtype == np.bool_ and (x > 2).tolist() == [[False, True], [True, False]]
    assert x[x > 2].tolist() == [5.0, 3.0]
    assert x[:, 1].tolist() == [5.0, -1.0]
    assert x[tx.tensor([1, 1, 0], device=device)].shape == (3, 2)
    assert x.T.tolist() == [[1.0, 3.0], [5.0, -1.0]]
    assert x.sum().item() == 8.0


# -- devices ---------------------------------------------------------------------------------
def test_mixed_devices_is_an_error_naming_both():
    a = tx.randn(3, device="cpu")
    b = tx.randn(3, device="strict")
    with pytest.raises(RuntimeError, match="different devices: cpu and strict"):
        a + b


def test_to_moves_between_devices():
    a = tx.randn(2, 3, requires_grad=True)
    b = a.to("strict")
    assert isinstance(b.data, StrictArray) and b.requires_grad
    np.testing.assert_array_equal(b.numpy(), a.numpy())
    assert b.to("cpu").device is tx.get_device("cpu")
    assert a.to(dtype="float64").dtype == np.float64


def test_strict_arrays_refuse_host_arrays():
    s = tx.get_device("strict").asarray(np.ones(3))
    with pytest.raises(TypeError, match="implicit conversion"):
        s + np.ones(3)
    with pytest.raises(TypeError, match="implicit conversion"):
        tx.get_device("strict").xp.exp(np.ones(3))
    assert isinstance(s + 1, StrictArray) and isinstance(s.sum(), StrictArray)


@pytest.mark.parametrize("misuse", [
    lambda s: np.asarray(s), lambda s: np.array(s), lambda s: s.__array__(),
    lambda s: np.asarray([s[0], s[1]]), lambda s: np.ascontiguousarray(s),
    lambda s: s * np.array(2.0), lambda s: np.float64(2.0) + s + np.array(1.0),
    lambda s: s[np.array([0, 2])], lambda s: s[np.array([True, False, True])],
    lambda s: s.__setitem__(np.array([0]), 1.0), lambda s: s.__setitem__(0, np.array(1.0)),
    lambda s: np.concatenate([s, np.ones(3)]),
], ids=["asarray", "array", "__array__", "list", "contiguous", "0-d", "0-d-right",
        "index", "mask", "set-index", "set-0-d", "function"])
def test_strict_arrays_refuse_implicit_host_conversion(misuse):
    """What CuPy refuses: the strict device must refuse it too, or a CPU-only CI misses
    CuPy's most common failure (np.asarray on a device array)."""
    s = tx.get_device("strict").asarray(np.arange(3.0))
    with pytest.raises(TypeError, match="strict device"):
        misuse(s)


def test_strict_arrays_allow_what_cupy_allows():
    dev = tx.get_device("strict")
    s = dev.asarray(np.arange(3.0))
    assert float((s * np.float32(2) + 1).sum()) == 9.0 and float(s[1]) == 1.0
    assert isinstance(s[dev.asarray(np.array([0, 2]))], StrictArray)
    np.testing.assert_array_equal(dev.to_host(s[s > 0]), [1.0, 2.0])
    assert isinstance(dev.xp.asarray(np.ones(2)), StrictArray)  # explicit transfer


def test_op_returning_a_host_array_on_strict_is_caught():
    class Leaky(F.arithmetic.Exp):
        def forward(self, x):
            return np.exp(self.device.to_host(x))  # computes on the host, returns it

    with pytest.raises(TypeError, match="ops must compute with the device's xp"):
        Leaky()(tx.randn(3, device="strict"))


def test_cuda_without_gpu_is_a_clear_error():
    if tx.cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="device 'cuda' was asked for"):
        tx.randn(3, device="cuda")


def test_unknown_device_is_an_error():
    with pytest.raises(ValueError, match="expected one of"):
        tx.get_device("tpu")


def test_matmul_shape_error_shows_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        tx.randn(2, 3) @ tx.randn(4, 5)


def test_requires_grad_on_integers_is_an_error():
    with pytest.raises(TypeError, match="only floating"):
        tx.tensor([1, 2], requires_grad=True)


def test_seed_makes_randomness_repeatable():
    tx.manual_seed(7)
    a = tx.randn(5).numpy()
    tx.manual_seed(7)
    np.testing.assert_array_equal(a, tx.randn(5).numpy())


# -- hypothesis: broadcasting gradients ---------------------------------------------------------
def _numeric(f, a, b, eps=1e-6):
    """Central differences of Σ w·f(a, b), for both arguments."""
    out = []
    for x in (a, b):
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + eps
            up = f(a, b)
            x[i] = old - eps
            down = f(a, b)
            x[i] = old
            g[i] = (up - down) / (2 * eps)
        out.append(g)
    return out


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       op=st.sampled_from(["add", "mul", "div"]), seed=st.integers(0, 2**16))
def test_broadcasting_gradients(shapes, op, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a = np.asarray(rng.standard_normal(sa))
    b = np.asarray(rng.uniform(0.5, 2.0, sb) * rng.choice([-1, 1], sb))
    w = np.asarray(rng.standard_normal(shapes.result_shape))
    np_op = {"add": np.add, "mul": np.multiply, "div": np.divide}[op]
    ta = tx.tensor(a, requires_grad=True)
    tb = tx.tensor(b, requires_grad=True)
    (getattr(F, op)(ta, tb) * tx.tensor(w)).sum().backward()
    ga, gb = _numeric(lambda x, y: float((np_op(x, y) * w).sum()), a.copy(), b.copy())
    assert ta.grad.shape == sa and tb.grad.shape == sb
    np.testing.assert_allclose(ta.grad, ga, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tb.grad, gb, rtol=1e-5, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(batch=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3),
       n=st.integers(1, 3), k=st.integers(1, 3), m=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_matmul_broadcasting_gradients(batch, n, k, m, seed):
    rng = np.random.default_rng(seed)
    sa, sb = batch.input_shapes[0] + (n, k), batch.input_shapes[1] + (k, m)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    w = rng.standard_normal(np.broadcast_shapes(sa[:-2], sb[:-2]) + (n, m))
    ta, tb = tx.tensor(a, requires_grad=True), tx.tensor(b, requires_grad=True)
    ((ta @ tb) * tx.tensor(w)).sum().backward()
    ga, gb = _numeric(lambda x, y: float((np.matmul(x, y) * w).sum()), a.copy(), b.copy())
    assert ta.grad.shape == sa and tb.grad.shape == sb
    np.testing.assert_allclose(ta.grad, ga, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tb.grad, gb, rtol=1e-5, atol=1e-6)


def test_backward_drops_exactly_what_forward_saved():
    """An op's `saved` names are what its forward assigned (here Exp's y and the softmax's
    y); backward reads them, then drops them and the inputs. The op's own settings stay."""
    x = tx.randn(3, 4, requires_grad=True)
    y = F.softmax(x.exp(), axis=0)
    soft, exp = y._ctx, y._ctx.inputs[0]._ctx
    assert soft.saved == ("y",) and exp.saved == ("y",) and soft.axis == 0
    y.backward(tx.randn(3, 4))
    for fn in (soft, exp):
        assert fn.released and fn.inputs == () and "y" not in vars(fn)
    assert soft.axis == 0
