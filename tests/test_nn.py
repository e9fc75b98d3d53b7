"""Module registration, naming, modes, devices and state dicts; gradient checks of the
layers on every device."""
import numpy as np
import pytest

import tinytx as tx
from tinytx import nn
from tinytx.backend import StrictArray


class Block(nn.Module):
    """A miniature of GPT's layout, enough to check dotted names."""

    def __init__(self, n_embd=4):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = nn.Module()
        self.attn.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.drop = nn.Dropout(0.5)
        self.register_buffer("bias", tx.ones(3, 3), persistent=False)


class TinyGPT(nn.Module):
    def __init__(self, vocab_size=7, n_embd=4, n_layer=2):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd),
            h=nn.ModuleList([Block(n_embd) for _ in range(n_layer)]),
            ln_f=nn.LayerNorm(n_embd, bias=False)))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied (shapes differ: fine here)
        self.register_buffer("step_count", tx.zeros(1))


def test_dotted_names_follow_assignment_order():
    names = [n for n, _ in TinyGPT().named_parameters()]
    assert names == ["transformer.wte.weight",
                     "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias",
                     "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
                     "transformer.h.1.ln_1.weight", "transformer.h.1.ln_1.bias",
                     "transformer.h.1.attn.c_attn.weight", "transformer.h.1.attn.c_attn.bias",
                     "transformer.ln_f.weight"]
    assert [n for n, _ in TinyGPT().named_buffers()] == [
        "step_count", "transformer.h.0.bias", "transformer.h.1.bias"]


def test_tied_weight_counted_once():
    model = TinyGPT()
    ps = list(model.parameters())
    assert sum(p is model.transformer.wte.weight for p in ps) == 1
    assert "lm_head.weight" not in dict(model.named_parameters())
    assert "lm_head.weight" in dict(model.named_parameters(remove_duplicate=False))
    assert model.num_parameters() == sum(p.size for p in ps)
    sd = model.state_dict()
    assert "transformer.wte.weight" in sd and "lm_head.weight" not in sd
    assert "step_count" in sd and "transformer.h.0.bias" not in sd  # non-persistent


def test_tied_weight_loads_under_its_alias():
    src, dst = TinyGPT(), TinyGPT()
    sd = src.state_dict()
    sd["lm_head.weight"] = sd.pop("transformer.wte.weight")  # e.g. a PyTorch-style dict
    dst.load_state_dict(sd)
    np.testing.assert_array_equal(dst.lm_head.weight.numpy(), src.lm_head.weight.numpy())
    assert dst.lm_head.weight is dst.transformer.wte.weight


def test_registration_rules():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="'weight'.*registered Parameter"):
        m.weight = tx.zeros(2, 3)
    m.bias = None                                  # a parameter may be switched off
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.bias = nn.Parameter(tx.zeros(3))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    del m.bias
    assert [n for n, _ in m.named_parameters()] == ["weight"]

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tx.zeros(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    with pytest.raises(KeyError, match="hide the attribute"):
        nn.ModuleDict({"train": nn.GELU()})


def test_containers():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and layers[-1] is list(layers)[2]
    layers.append(nn.GELU())
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3"]
    layers[0] = nn.Linear(2, 2, bias=False)
    assert len(list(layers.parameters())) == 1 + 2 * 2
    seq = nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1))
    assert seq(tx.randn(5, 2)).shape == (5, 1) and len(seq) == 3
    assert isinstance(seq[1], nn.GELU) and len(seq[:2]) == 2
    d = nn.ModuleDict({"a": nn.GELU()})
    d["b"] = nn.Dropout(0.1)
    assert list(d) == ["a", "b"] and "b" in d and len(d) == 2


def test_repr_is_nested():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.ModuleList([nn.GELU("tanh")])))
    assert text == ("Sequential(\n"
                    "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                    "  (1): ModuleList(\n"
                    "    (0): GELU(approximate='tanh')\n"
                    "  )\n"
                    ")")


def test_train_eval_propagates_and_dropout_is_identity_in_eval():
    model = TinyGPT()
    model.eval()
    assert all(not m.training for m in model.modules())
    x = tx.randn(4, 8)
    drop = model.transformer.h[0].drop
    assert drop(x) is x
    model.train()
    assert all(m.training for m in model.modules())
    y = drop(x).numpy()
    assert ((y == 0) | np.isclose(y, 2 * x.numpy())).all() and (y == 0).any()


def test_state_dict_round_trip_copies():
    src, dst = TinyGPT(), TinyGPT()
    sd = src.state_dict()
    sd_f64 = {k: v.astype(np.float64) for k, v in sd.items()}
    assert dst.load_state_dict(sd_f64) == ([], [])
    for (name, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert b.dtype == np.float32                    # cast to the parameter's dtype
    sd_f64["transformer.ln_f.weight"][:] = 5.0          # no aliasing either way
    assert not (dst.transformer.ln_f.weight.numpy() == 5).any()
    sd2 = dst.state_dict()
    sd2["transformer.ln_f.weight"][:] = 7.0
    assert not (dst.transformer.ln_f.weight.numpy() == 7).any()


@pytest.mark.parametrize("change, message", [
    (lambda sd: sd.pop("transformer.ln_f.weight"), r"missing key 'transformer.ln_f.weight'"),
    (lambda sd: sd.update(extra=np.zeros(2)), r"unexpected key 'extra'"),
    (lambda sd: sd.update({"transformer.h.1.attn.c_attn.weight": np.zeros((4, 5))}),
     r"'transformer.h.1.attn.c_attn.weight': shape \(4, 5\) in state_dict, "
     r"expected \(4, 12\)"),
])
def test_load_state_dict_errors_change_nothing(change, message):
    src, dst = TinyGPT(), TinyGPT()
    before = dst.state_dict()
    sd = src.state_dict()
    change(sd)
    with pytest.raises(ValueError, match=message):
        dst.load_state_dict(sd)
    for name, arr in dst.state_dict().items():
        np.testing.assert_array_equal(arr, before[name], err_msg=name)


def test_load_state_dict_not_strict_reports_names():
    sd = TinyGPT().state_dict()
    sd.pop("step_count")
    sd["unused"] = np.zeros(1)
    missing, unexpected = TinyGPT().load_state_dict(sd, strict=False)
    assert missing == ["step_count"] and unexpected == ["unused"]


def test_to_moves_parameters_buffers_and_grads_in_place():
    model = TinyGPT()
    w = model.transformer.wte.weight
    w.grad = np.ones(w.shape, dtype=np.float32)
    assert model.to("strict") is model
    for t in [*model.parameters(), *model.buffers()]:
        assert isinstance(t.data, StrictArray) and t.device.name == "strict"
    assert isinstance(w.grad, StrictArray)
    assert model.lm_head.weight is w                    # still tied
    model.to(dtype="float64")
    assert all(p.dtype == np.float64 for p in model.parameters())
    idx = tx.tensor([[1, 2]], device="strict")
    assert model.transformer.wte(idx).device.name == "strict"
    model.zero_grad()
    assert w.grad is None


def test_layer_shapes_and_init(device):
    tx.manual_seed(0)
    lin = nn.Linear(64, 3, device=device)
    assert lin.weight.shape == (64, 3) and lin.bias.shape == (3,)
    w = lin.weight.numpy()
    assert np.abs(w).max() <= 1 / 8 and w.std() > 0.05  # uniform(-1/√64, 1/√64)
    assert lin.weight.device is device and lin.weight.requires_grad
    emb = nn.Embedding(100, 50, device=device)
    assert abs(emb.weight.numpy().std() - 1) < 0.05
    ln = nn.LayerNorm(5, bias=False, device=device)
    assert ln.bias is None and (ln.weight.numpy() == 1).all()
    with pytest.raises(ValueError, match="in_features must be a positive int, got 0"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match=r"input must end in an axis of size 5, got shape "
                                         r"\(2, 4\)"):
        ln(tx.randn(2, 4, device=device))


@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_linear(device, bias):
    lin = nn.Linear(4, 3, bias=bias, device=device, dtype="float64")
    x = tx.randn(2, 5, 4, dtype="float64", device=device, requires_grad=True)
    assert tx.gradcheck(lambda x, *ps: lin(x), [x, *lin.parameters()])


@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_layer_norm(device, bias):
    ln = nn.LayerNorm(6, bias=bias, device=device, dtype="float64")
    for p in ln.parameters():  # move away from ones/zeros so every term matters
        p.data = p.data + device.randn(p.shape, np.float64)
    x = tx.randn(3, 6, dtype="float64", device=device, requires_grad=True)
    assert tx.gradcheck(lambda x, *ps: ln(x), [x, *ln.parameters()])


def test_gradcheck_embedding(device):
    emb = nn.Embedding(5, 3, device=device, dtype="float64")
    idx = tx.tensor([[0, 2, 2], [4, 0, 1]], device=device)  # repeated rows add up
    assert tx.gradcheck(lambda idx, w: emb(idx), [idx, emb.weight])


def test_gradcheck_sequential_with_dropout_and_gelu(device):
    mlp = nn.Sequential(nn.Linear(3, 5, device=device, dtype="float64"),
                        nn.GELU(), nn.Dropout(0.3),
                        nn.Linear(5, 2, device=device, dtype="float64"))
    x = tx.randn(4, 3, dtype="float64", device=device, requires_grad=True)
    assert tx.gradcheck(lambda x, *ps: mlp(x), [x, *mlp.parameters()])


@pytest.mark.parametrize("shape", [(0,), (0, 5)])
def test_embedding_of_an_empty_batch(device, shape):
    """As in PyTorch: an empty output and a zero gradient for the table (the backward
    used to raise IndexError in the CPU scatter-add)."""
    emb = nn.Embedding(7, 3, device=device)
    y = emb(tx.tensor(np.zeros(shape, np.int64), device=device))
    assert y.shape == (*shape, 3)
    y.sum().backward()
    g = device.to_host(emb.weight.grad)
    assert g.shape == (7, 3) and not g.any()


@pytest.mark.parametrize("use_fused", [True, False])
def test_gpt_runs_on_an_empty_batch(device, use_fused):
    """The choice for a (0, T) batch: it runs, as in PyTorch, giving (0, T, V) logits, the
    loss 0 of a cross-entropy with no counted target, and a zero gradient everywhere."""
    from tinytx.models.gpt import GPT, GPTConfig
    from tinytx.nn.fused import fused
    tx.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    model.to(device)
    idx = tx.tensor(np.zeros((0, 5), np.int64), device=device)
    with fused(use_fused):
        logits, loss = model(idx, idx)
        loss.backward()
    assert logits.shape == (0, 5, 11) and loss.item() == 0.0
    for name, p in model.named_parameters():
        g = device.to_host(p.grad)
        assert g.shape == p.shape and not g.any(), name
