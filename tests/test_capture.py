"""tinytx.capture: a replay gives the eager result bit for bit (evaluation batches of GPT,
Seq2Seq and T5, on the cpu and strict devices); every guard records anew; what cannot be
captured raises CaptureError. Decode steps and generation: tests/test_capture_generation.py.
"""
import numpy as np
import pytest
from random_models import SRC, random_gpt, random_prompts, random_seq2seq

import tinytx as tx
from tinytx.capture import CaptureError, capture, why_not_graph
from tinytx.function import Function
from tinytx.models.t5 import T5, T5Config
from tinytx.nn.fused import fused

DEVICES = ["cpu", "strict"]


def tiny_t5(device):
    tx.manual_seed(3)
    cfg = T5Config(vocab_size=24, d_model=16, d_kv=4, d_ff=24, num_layers=1,
                   num_decoder_layers=2, num_heads=2, relative_attention_num_buckets=8,
                   relative_attention_max_distance=20, dropout=0.0)
    return T5(cfg).to(device).eval()


def batches(device, n=4, seed=0):
    """n (src, src_mask, tgt_in, targets) batches of one shape, different values."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        src = rng.integers(1, 24, SRC.shape)
        tgt = rng.integers(1, 24, (2, 7))
        yield (tx.tensor(src, device=device), tx.tensor(SRC != 0, device=device),
               tx.tensor(tgt[:, :-1], device=device), tx.tensor(tgt[:, 1:], device=device))


def same_arrays(a, b):
    return all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a, b))


def eval_steps():
    return {
        "gpt": (lambda d: random_gpt(device=d).eval(),
                lambda m, src, mask, tgt, y: m(tgt, y)),
        "seq2seq": (lambda d: random_seq2seq(device=d).eval(),
                    lambda m, src, mask, tgt, y: m(src, tgt, mask, targets=y)),
        "t5": (tiny_t5, lambda m, src, mask, tgt, y: m(src, tgt, mask, targets=y)),
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["gpt", "seq2seq", "t5"])
def test_evaluation_batches_replay_bit_for_bit(device, name):
    make, run = eval_steps()[name]
    model = make(device)
    step = capture(lambda *batch: run(model, *batch))
    with tx.no_grad():
        for batch in batches(device):
            logits, loss = step(*batch)
            eager = run(model, *batch)
            assert same_arrays((logits, loss), eager)
            assert logits.device is tx.get_device(device)
    assert (step.records, step.replays) == (2, 1)     # eager, record twice, replay


def test_a_replay_calls_only_the_forwards(monkeypatch):
    """No Function.__call__ (so no Tensor, graph or device bookkeeping) in a replay; the
    program's source has one line per op."""
    model = random_gpt().eval()
    step = capture(lambda x: model(x)[0])
    x = tx.tensor(random_prompts())
    calls = []
    original = Function.__call__
    monkeypatch.setattr(Function, "__call__", lambda fn, *a: calls.append(fn) or
                        original(fn, *a))
    with tx.no_grad():
        for _ in range(3):
            step(x)
        eager = len(calls)
        step(x)
    assert step.replays == 1 and len(calls) == eager > 0
    program = next(iter(step.programs.values()))
    assert sum(" = f" in line for line in program.source.splitlines()) == len(program.ops)


def test_replay_reads_parameters_when_it_runs():
    model = random_gpt().eval()
    step = capture(lambda x: model(x)[0])
    x = tx.tensor(random_prompts())
    with tx.no_grad():
        for _ in range(4):
            step(x)
        model.lm_head.weight.data *= 2              # in place: the replay sees it
        model.transformer.wpe.weight.data = model.transformer.wpe.weight.data + 1  # new array
        assert np.array_equal(step(x).numpy(), model(x)[0].numpy())
    assert step.replays == 2


@pytest.mark.parametrize("change", ["shape", "dtype", "device", "fused", "constant"])
def test_every_guard_records_anew(change):
    w = tx.randn(4, 4, dtype="float64")
    step = capture(lambda x, scale=2.0: tx.nn.fused.layer_norm(x @ w.to(x.device, x.dtype),
                                                               None) * scale)
    x = tx.randn(3, 4, dtype="float64")
    variants = {"shape": lambda: (tx.randn(5, 4, dtype="float64"),),
                "dtype": lambda: (x.to(dtype="float32"),),
                "device": lambda: (x.to("strict"),),
                "fused": lambda: (x,),
                "constant": lambda: (x, 3.0)}
    with tx.no_grad():
        for _ in range(4):
            step(x)
        assert (step.records, step.replays) == (2, 1)
        with fused(change != "fused"):
            args = variants[change]()
            for i in range(4):
                y = step(*args)
                assert np.array_equal(y.numpy(), step.fn(*args).numpy())
        assert (step.records, step.replays) == (4, 2)
        step(x)                                       # the first program is kept
    assert (step.records, step.replays) == (4, 3)


def host_reads():
    return {
        "item": lambda x: x * x.sum().item(),
        "bool": lambda x: x * 2 if x.sum() > 0 else x,
        "numpy": lambda x: x + float(x.numpy().max()),
        "tolist": lambda x: x + len(x.tolist()),
    }


@pytest.mark.parametrize("read", list(host_reads()))
def test_host_reads_while_recording_raise(read):
    step = capture(host_reads()[read])
    with tx.no_grad():
        step(tx.ones(3))                                  # the first call runs eagerly
        with pytest.raises(CaptureError, match="reads a tensor's values"):
            step(tx.ones(3))


def test_a_raw_host_read_of_a_strict_array_raises():
    step = capture(lambda x: x * float(x.data.sum()))
    with tx.no_grad():
        step(tx.ones(3, device="strict"))
        with pytest.raises(CaptureError, match="host read of a device array"):
            step(tx.ones(3, device="strict"))


def test_a_value_that_changes_without_being_an_input_raises():
    calls = []

    def shifted(x):                       # a constant made from Python state, not an op
        calls.append(1)
        return x + tx.tensor(float(len(calls)))
    step = capture(shifted)
    with tx.no_grad():
        for _ in range(3):                # eager, record, record: one difference is
            step(tx.ones(2))              # allowed (a warm-up)
        with pytest.raises(CaptureError, match="changed between the runs"):
            step(tx.ones(2))


def test_control_flow_on_python_state_that_changes_raises():
    calls = []

    def branchy(x):
        calls.append(1)
        return x * 2 if len(calls) % 2 else x + 1
    step = capture(branchy)
    with tx.no_grad():
        for _ in range(3):
            step(tx.ones(2))
        with pytest.raises(CaptureError, match="another op"):
            step(tx.ones(2))


def test_misuse_is_a_clear_error():
    step = capture(lambda x: x * 2)
    with pytest.raises(CaptureError, match="no_grad"):
        step(tx.ones(2, requires_grad=True))
    with tx.no_grad():
        with pytest.raises(CaptureError, match="hashable"):
            step(tx.ones(2), [1, 2])
        outer = capture(lambda x: step(x) + 1)
        outer(tx.ones(2))
        with pytest.raises(CaptureError, match="another step"):
            outer(tx.ones(2))


def test_cuda_graph_option_is_the_plain_replay_off_the_gpu():
    model = random_gpt().eval()
    x = tx.tensor(random_prompts())
    plain = capture(lambda x: model(x)[0])
    graphed = capture(lambda x: model(x)[0], cuda_graph=True)
    with tx.no_grad():
        for _ in range(4):
            assert np.array_equal(plain(x).numpy(), graphed(x).numpy())
    program = next(iter(graphed.programs.values()))
    assert program.why_not is None and program.graph is None     # graphable, not on cpu
    assert why_not_graph(next(iter(plain.programs.values()))) is None
