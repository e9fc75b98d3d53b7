"""Float64 gradient checks, with a random upstream gradient, for every op in F.

Each case is one line: a function of tensors and the shapes of its inputs. Positive
inputs are used where the op needs them (log, sqrt, pow with fractional exponents).
"""
import numpy as np
import pytest

import tinytx as tx
import tinytx.functional as F

pos = "pos"  # marks an input that must be positive


def _idx(device, values):
    return tx.tensor(np.array(values), device=device)


# name -> (function of (device, *tensors), input shapes)
CASES = {
    "add": (lambda d, a, b: F.add(a, b), [(3, 4), (4,)]),
    "add_scalar": (lambda d, a: a + 2.5, [(3, 4)]),
    "sub": (lambda d, a, b: F.sub(a, b), [(2, 1, 4), (3, 1)]),
    "mul": (lambda d, a, b: F.mul(a, b), [(3, 4), (3, 1)]),
    "div": (lambda d, a, b: F.div(a, b), [(3, 4), ((3, 4), pos)]),
    "rdiv": (lambda d, a: 2.0 / a, [((3, 4), pos)]),
    "neg": (lambda d, a: F.neg(a), [(3, 4)]),
    "pow": (lambda d, a: F.pow(a, 3), [(3, 4)]),
    "pow_frac": (lambda d, a: F.pow(a, 1.5), [((3, 4), pos)]),
    "exp": (lambda d, a: F.exp(a), [(3, 4)]),
    "log": (lambda d, a: F.log(a), [((3, 4), pos)]),
    "sqrt": (lambda d, a: F.sqrt(a), [((3, 4), pos)]),
    "tanh": (lambda d, a: F.tanh(a), [(3, 4)]),
    "sigmoid": (lambda d, a: F.sigmoid(a), [(3, 4)]),
    "relu": (lambda d, a: F.relu(a), [(3, 4)]),
    "gelu": (lambda d, a: F.gelu(a), [(3, 4)]),
    "gelu_tanh": (lambda d, a: F.gelu(a, approximate="tanh"), [(3, 4)]),
    "sum": (lambda d, a: F.sum(a), [(3, 4)]),
    "sum_axis": (lambda d, a: F.sum(a, axis=(0, 2), keepdims=True), [(2, 3, 4)]),
    "mean": (lambda d, a: F.mean(a, axis=-1), [(3, 4)]),
    "max": (lambda d, a: F.max(a, axis=1), [(3, 4)]),
    "max_all": (lambda d, a: F.max(a), [(3, 4)]),
    "var": (lambda d, a: F.var(a, axis=-1, keepdims=True), [(3, 5)]),
    "var_ddof": (lambda d, a: F.var(a, axis=0, ddof=1), [(4, 3)]),
    "reshape": (lambda d, a: F.reshape(a, 4, -1) * a.reshape(4, 3), [(2, 6)]),
    "transpose": (lambda d, a: F.transpose(a, 0, 2), [(2, 3, 4)]),
    "permute": (lambda d, a: F.permute(a, 0, 2, 1, 3), [(2, 3, 4, 2)]),
    "broadcast_to": (lambda d, a: F.broadcast_to(a, (2, 3, 4)), [(3, 1)]),
    "squeeze": (lambda d, a: F.squeeze(a, 1), [(3, 1, 4)]),
    "unsqueeze": (lambda d, a: F.unsqueeze(a, -1), [(3, 4)]),
    "getitem": (lambda d, a: F.getitem(a, (slice(1, None), slice(None, None, 2))), [(3, 4)]),
    "getitem_int_array": (lambda d, a: a[_idx(d, [0, 2, 0])], [(3, 4)]),
    "getitem_pairs": (lambda d, a: a[_idx(d, [0, 1, 1]), _idx(d, [3, 3, 3])], [(3, 4)]),
    "getitem_mask": (lambda d, a: a[a > 0], [(3, 4)]),
    "concat": (lambda d, a, b: F.concat([a, b, a], axis=1), [(2, 3), (2, 2)]),
    "stack": (lambda d, a, b: F.stack([a, b], axis=1), [(2, 3), (2, 3)]),
    "split": (lambda d, a: F.split(a, 2, axis=1)[0] * F.split(a, 2, axis=1)[2][:, :1],
              [(2, 5)]),
    "split_unused": (lambda d, a: F.split(a, [1, 3], axis=0)[1], [(4, 2)]),
    "matmul": (lambda d, a, b: F.matmul(a, b), [(3, 4), (4, 5)]),
    "matmul_batched": (lambda d, a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    "matmul_broadcast": (lambda d, a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)]),
    "matmul_fold": (lambda d, a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "matmul_vec": (lambda d, a, b: a @ b, [(4,), (4, 3)]),
    "matmul_matvec": (lambda d, a, b: a @ b, [(2, 3, 4), (4,)]),
    "where": (lambda d, a, b: F.where(a > 0, a, b), [(3, 4), (4,)]),
    "masked_fill": (lambda d, a: F.masked_fill(a, a < 0, -7.0), [(3, 4)]),
    "softmax": (lambda d, a: F.softmax(a, axis=-1), [(3, 5)]),
    "softmax_axis0": (lambda d, a: F.softmax(a, axis=0), [(3, 5)]),
    "log_softmax": (lambda d, a: F.log_softmax(a), [(3, 5)]),
    "logsumexp": (lambda d, a: F.logsumexp(a, axis=1), [(3, 5)]),
    "logsumexp_keep": (lambda d, a: F.logsumexp(a, axis=0, keepdims=True), [(3, 5)]),
    "cross_entropy": (lambda d, a: F.cross_entropy(a, _idx(d, [[1, 4], [0, 0]])),
                      [(2, 2, 5)]),
    "cross_entropy_ignore": (lambda d, a: F.cross_entropy(a, _idx(d, [1, -100, 3]),
                                                          ignore_index=-100), [(3, 5)]),
    "layer_norm": (lambda d, a, w, b: F.layer_norm(a, w, b), [(3, 6), (6,), (6,)]),
    "layer_norm_plain": (lambda d, a: F.layer_norm(a), [(2, 3, 4)]),
    "dropout": (lambda d, a: F.dropout(a, 0.5), [(4, 5)]),
    "embedding": (lambda d, w: F.embedding(_idx(d, [[0, 2], [2, 3]]), w), [(4, 3)]),
    "linear": (lambda d, x, w, b: F.linear(x, w, b), [(2, 3, 4), (4, 5), (5,)]),
    "astype": (lambda d, a: F.astype(F.astype(a, np.float64) * a, np.float64), [(3, 4)]),
    "to_device": (lambda d, a: F.to_device(a, "strict" if d.name == "cpu" else "cpu") ** 2,
                  [(3, 4)]),
    "scaled_dot_product_attention": (
        lambda d, q, k, v: F.scaled_dot_product_attention(
            q, k, v, mask=F.combine_masks(F.causal_mask(3, d), F.padding_mask([3, 2], device=d))),
        [(2, 1, 3, 4), (2, 1, 3, 4), (2, 1, 3, 4)]),
}


def _make(device, spec, rng):
    positive = spec[-1] == pos
    x = rng.standard_normal(spec[0] if positive else spec)
    if positive:
        x = np.abs(x) + 0.5
    return tx.tensor(x, device=device, requires_grad=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name, device, rng):
    fn, shapes = CASES[name]
    inputs = [_make(device, s, rng) for s in shapes]
    assert tx.gradcheck(lambda *xs: fn(device, *xs), inputs)


def test_every_op_has_a_gradient_check():
    """Each op has a case named exactly after it (variants such as `sum_axis` come on
    top): a prefix match would let `log_softmax` stand in for a deleted `log` case."""
    missing = [op for op in F.OPS if op not in F.NOT_DIFFERENTIABLE and op not in CASES]
    assert not missing, f"ops without a gradient check: {missing}"
    for op in F.OPS:
        assert callable(getattr(F, op)), op


def test_gradcheck_catches_a_wrong_backward(device):
    class BadSoftmax(F.activations.Softmax):
        def backward(self, gy):  # forgets the Σ gy·y term: invisible to an all-ones gy
            return self.y * gy

    x = tx.randn(3, 4, dtype="float64", device=device, requires_grad=True)
    with pytest.raises(AssertionError, match="differ"):
        tx.gradcheck(lambda a: BadSoftmax()(a), [x])
