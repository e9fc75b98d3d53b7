"""tinytx.capture on the CUDA path: a replay runs the same CUDA kernels as eager mode and
gives its result bit for bit (in numba's simulator on the cpu device here; on a GPU with
TINYTX_CUDA_TESTS=gpu, bench/device_check.sh), and `cuda_graph=True` replays a
fixed-shape step as one CUDA graph on a GPU (the plain replay elsewhere)."""
from cudasim import DEVICE, SIMULATED  # first, before tinytx  # isort: skip

import contextlib

import numpy as np
from random_models import randomize

import tinytx as tx
from tinytx.capture import capture
from tinytx.generate import gpt_stepper, inference
from tinytx.kernels import dispatch
from tinytx.models import GPT, GPTConfig


def cuda_kernels():
    """The ops go to the CUDA kernels: in the simulator on the cpu device, else on cuda."""
    return dispatch.simulating_cuda(DEVICE) if SIMULATED else contextlib.nullcontext()


def tiny_gpt():
    cfg = GPTConfig(block_size=8, vocab_size=16, n_layer=1, n_head=2, n_embd=8)
    return randomize(GPT(cfg), 0, DEVICE, "float32").eval()


def batch(seed):
    ids = np.random.default_rng(seed).integers(0, 16, (2, 5))
    return tx.tensor(ids, device=DEVICE), tx.tensor(np.roll(ids, -1, 1), device=DEVICE)


def test_an_evaluation_step_replays_the_cuda_kernels_bit_for_bit():
    model = tiny_gpt()
    with cuda_kernels(), tx.no_grad():
        eager = []
        for seed in range(4):                  # eager once; each capture below against it
            with dispatch.counting() as counts:
                eager.append(model(*batch(seed)))
        eager_launches = counts["launches"]
        for graph in (False, True):
            step = capture(lambda x, y: model(x, y), cuda_graph=graph)
            for seed in range(4):              # eager, record, record, replay
                with dispatch.counting() as counts:
                    logits, loss = step(*batch(seed))
                np.testing.assert_array_equal(logits.numpy(), eager[seed][0].numpy())
                np.testing.assert_array_equal(loss.numpy(), eager[seed][1].numpy())
            assert step.replays == 1
            if not graph or SIMULATED:                 # the replay launched what eager did
                assert counts["launches"] == eager_launches > 0
            program = next(iter(step.programs.values()))
            if graph and not SIMULATED:                # a GPU: one graph, or why not
                assert program.graph is not None or program.why_not


def test_a_cached_decode_step_replays_the_cuda_kernels_bit_for_bit():
    model = tiny_gpt()
    ids = np.random.default_rng(1).integers(0, 16, (2, 2))
    with cuda_kernels(), inference(model):
        fast, slow = gpt_stepper(model), gpt_stepper(model, captured=False)
        for _ in range(6):                   # prompt, eager, record twice, replay twice
            a, b = fast(ids), slow(ids)
            np.testing.assert_array_equal(a, b)
            ids = np.concatenate([ids, a.argmax(1)[:, None]], axis=1)
    assert fast.forward.replays == 2
