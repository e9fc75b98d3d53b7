"""Tensor.register_grad_hook: a leaf's hook runs once per backward, right after its last
gradient has been accumulated (data-parallel training starts its all-reduce there)."""
import numpy as np
import pytest

import tinytx as tx


def test_hook_sees_the_final_gradient_of_a_leaf_used_many_times():
    w = tx.tensor([1.0, 2.0], requires_grad=True, dtype="float64")
    seen = []
    remove = w.register_grad_hook(lambda p: seen.append(p.grad.copy()))
    (w * 3.0 + w * w + (w * 5.0).sum()).sum().backward()   # w reaches the loss 4 ways
    remove()
    np.testing.assert_allclose(w.grad, 3.0 + 2 * w.data + 5.0 * 2)
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], w.grad)


def test_hooks_run_in_the_order_the_gradients_become_final():
    """The sweep goes from the loss back to the input: the last layer's weight is final
    first — which is why DDP's buckets hold the parameters in reverse order."""
    x = tx.randn(4, 3, dtype="float64")
    w1 = tx.randn(3, 3, dtype="float64", requires_grad=True)
    w2 = tx.randn(3, 3, dtype="float64", requires_grad=True)
    order = []
    removers = [w.register_grad_hook(lambda p, n=n: order.append((n, p.grad is not None)))
                for n, w in (("w1", w1), ("w2", w2))]
    ((x @ w1).tanh() @ w2).sum().backward()
    (x @ w1).sum().backward()                 # w2 is not in this graph: only w1's hook runs
    for remove in removers:
        remove()
        remove()                              # a second remove changes nothing
    (x @ w1 @ w2).sum().backward()            # removed: no hook runs
    assert order == [("w2", True), ("w1", True), ("w1", True)]
    assert tx.autograd._hooked[0] == 0


def test_a_leaf_backward_runs_its_hook_and_non_leaves_refuse_hooks():
    w = tx.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    remove = w.register_grad_hook(calls.append)
    w.backward(tx.tensor([1.0, 1.0]))
    remove()
    assert calls == [w]
    with pytest.raises(RuntimeError, match="only a leaf"):
        (w * 2).register_grad_hook(print)
