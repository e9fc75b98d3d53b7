"""Function.__call__ under no_grad: the short road records nothing (no graph, no
bookkeeping on the op), gives the same values as the recording road, and still converts
constants and rejects inputs on different devices."""
import numpy as np
import pytest

import tinytx as tx
import tinytx.functional as F
from tinytx.functional.arithmetic import Add
from tinytx.functional.shape import Split
from tinytx.kernels.linear import LinearFunction


def _inputs():
    rng = np.random.default_rng(0)
    x = tx.tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    w = tx.tensor(rng.normal(size=(4, 5)), requires_grad=True)
    b = tx.tensor(rng.normal(size=5), requires_grad=True)
    return x, w, b


def test_no_grad_call_builds_no_graph_and_no_bookkeeping():
    x, w, b = _inputs()
    op = LinearFunction()
    with tx.no_grad():
        y = op(x, w, b)
    assert y._ctx is None and not y.requires_grad
    for name in ("needs_input_grad", "inputs", "output_meta", "n_outputs"):
        assert not hasattr(op, name), name
    graph_op = LinearFunction()
    z = graph_op(x, w, b)                                # gradients on: recorded
    assert z._ctx is graph_op and z.requires_grad
    assert graph_op.inputs == [x, w, b] and graph_op.needs_input_grad == (True, True, True)
    np.testing.assert_array_equal(y.numpy(), z.numpy())


def test_no_grad_multi_output_op():
    x, _, _ = _inputs()
    op = Split([1, 3], axis=2)
    with tx.no_grad():
        parts = op(x)
    assert isinstance(parts, tuple) and [p.shape for p in parts] == [(2, 3, 1), (2, 3, 3)]
    assert all(p._ctx is None and not p.requires_grad for p in parts)
    assert not hasattr(op, "needs_input_grad")


def test_no_grad_constants_and_devices():
    x, _, _ = _inputs()
    with tx.no_grad():
        y = F.add(x, 2)                                   # a constant: the full road
        assert y._ctx is None
        np.testing.assert_array_equal(y.numpy(), x.numpy() + 2)
        other = tx.tensor(np.ones((2, 3, 4)), device="strict")
        with pytest.raises(RuntimeError, match="different devices"):
            Add()(x, other)
    with pytest.raises(TypeError, match="at least one Tensor"):
        with tx.no_grad():
            Add()(1.0, 2.0)


def test_no_grad_model_output_has_no_graph_and_same_values():
    from tinytx.models import GPT, GPTConfig
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    idx = tx.tensor([[1, 2, 3]])
    with_graph, _ = model(idx)
    assert with_graph._ctx is not None
    with tx.no_grad():
        plain, _ = model(idx)
    assert plain._ctx is None
    np.testing.assert_array_equal(plain.numpy(), with_graph.numpy())
