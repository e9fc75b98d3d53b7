"""GPT-2 import (tinytx.checkpoint.gpt2, tinytx.tokenizer.gpt2): a synthetic Hugging Face-format safetensors file
with GPT-2's names and shapes for a tiny config loads into our GPT, which then computes
what a plain NumPy GPT-2 forward computes from the same arrays. No network."""
import json

import numpy as np
import pytest
from safetensors.numpy import save_file

import tinytx as tx
from tinytx.checkpoint import hf_to_tinytx_name, load_gpt2
from tinytx.tokenizer import GPT2Tokenizer, bytes_to_unicode, load_gpt2_tokenizer

L, H, C, T, V = 2, 2, 8, 16, 50


def hf_arrays(rng, prefix=""):
    """Random arrays named and shaped as in Hugging Face's gpt2 model.safetensors."""
    f = lambda *shape: rng.normal(0, 0.2, shape).astype(np.float32)   # noqa: E731
    a = {"wte.weight": f(V, C), "wpe.weight": f(T, C), "ln_f.weight": 1 + f(C),
         "ln_f.bias": f(C)}
    for n in range(L):
        a.update({f"h.{n}.ln_1.weight": 1 + f(C), f"h.{n}.ln_1.bias": f(C),
                  f"h.{n}.attn.c_attn.weight": f(C, 3 * C), f"h.{n}.attn.c_attn.bias": f(3 * C),
                  f"h.{n}.attn.c_proj.weight": f(C, C), f"h.{n}.attn.c_proj.bias": f(C),
                  f"h.{n}.ln_2.weight": 1 + f(C), f"h.{n}.ln_2.bias": f(C),
                  f"h.{n}.mlp.c_fc.weight": f(C, 4 * C), f"h.{n}.mlp.c_fc.bias": f(4 * C),
                  f"h.{n}.mlp.c_proj.weight": f(4 * C, C), f"h.{n}.mlp.c_proj.bias": f(C),
                  # buffers HF keeps in older files: the causal mask and a constant
                  f"h.{n}.attn.bias": np.tril(np.ones((T, T), np.float32))[None, None],
                  f"h.{n}.attn.masked_bias": np.array(-1e4, np.float32)})
    return {prefix + k: v for k, v in a.items()}


def write_hf(folder, arrays, config=True):
    folder.mkdir(parents=True, exist_ok=True)
    save_file(arrays, str(folder / "model.safetensors"))
    if config:
        (folder / "config.json").write_text(json.dumps(
            {"model_type": "gpt2", "n_layer": L, "n_head": H, "n_embd": C, "n_positions": T,
             "vocab_size": V}))
    return folder


def gpt2_reference(a, ids):
    """GPT-2's forward in plain NumPy (float64), from the HF arrays: logits (T, V)."""
    a = {k: v.astype(np.float64) for k, v in a.items()}

    def ln(x, p):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * a[p + ".weight"] + a[p + ".bias"]

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))

    n = len(ids)
    x = a["wte.weight"][ids] + a["wpe.weight"][:n]
    for i in range(L):
        p = f"h.{i}"
        q, k, v = np.split(ln(x, p + ".ln_1") @ a[p + ".attn.c_attn.weight"]
                           + a[p + ".attn.c_attn.bias"], 3, axis=-1)
        heads = lambda m: m.reshape(n, H, C // H).transpose(1, 0, 2)   # noqa: E731
        s = heads(q) @ heads(k).transpose(0, 2, 1) / np.sqrt(C // H)
        s = np.where(np.tril(np.ones((n, n), bool)), s, -np.inf)
        w = np.exp(s - s.max(-1, keepdims=True))
        y = (w / w.sum(-1, keepdims=True)) @ heads(v)                  # (H, n, D)
        y = y.transpose(1, 0, 2).reshape(n, C)
        x = x + y @ a[p + ".attn.c_proj.weight"] + a[p + ".attn.c_proj.bias"]
        hdn = gelu(ln(x, p + ".ln_2") @ a[p + ".mlp.c_fc.weight"] + a[p + ".mlp.c_fc.bias"])
        x = x + hdn @ a[p + ".mlp.c_proj.weight"] + a[p + ".mlp.c_proj.bias"]
    return ln(x, "ln_f") @ a["wte.weight"].T


def test_names_map_by_prefix_and_buffers_are_skipped():
    assert hf_to_tinytx_name("wte.weight") == "transformer.wte.weight"
    assert hf_to_tinytx_name("h.1.mlp.c_proj.bias") == "transformer.h.1.mlp.c_proj.bias"
    assert hf_to_tinytx_name("transformer.ln_f.bias") == "transformer.ln_f.bias"
    for skipped in ("h.0.attn.bias", "h.0.attn.masked_bias", "lm_head.weight"):
        assert hf_to_tinytx_name(skipped) is None


def test_loaded_model_computes_gpt2(tmp_path):
    arrays = hf_arrays(np.random.default_rng(0))
    model = load_gpt2(write_hf(tmp_path / "gpt2", arrays))
    c = model.config
    assert (c.n_layer, c.n_head, c.n_embd, c.block_size, c.vocab_size) == (L, H, C, T, V)
    sd = model.state_dict()
    for name, array in arrays.items():
        ours = hf_to_tinytx_name(name)
        if ours is not None:
            np.testing.assert_array_equal(sd[ours], array)   # no transposes, no copies lost
    ids = [3, 14, 15, 9, 2, 6, 5, 35, 8, 9, 7]
    model.eval()
    with tx.no_grad():
        logits = model(tx.tensor([ids]))[0].numpy()[0]
    np.testing.assert_allclose(logits, gpt2_reference(arrays, ids), atol=2e-5)


def test_prefixed_file_with_lm_head_and_explicit_n_head(tmp_path):
    arrays = hf_arrays(np.random.default_rng(1), prefix="transformer.")
    arrays["lm_head.weight"] = arrays["transformer.wte.weight"].copy()
    folder = write_hf(tmp_path / "lm", arrays, config=False)
    with pytest.raises(ValueError, match="n_head"):
        load_gpt2(folder / "model.safetensors")
    model = load_gpt2(folder / "model.safetensors", n_head=H)
    np.testing.assert_array_equal(model.lm_head.weight.numpy(),
                                  arrays["transformer.wte.weight"])


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_gpt2(tmp_path)
    arrays = hf_arrays(np.random.default_rng(2))
    del arrays["h.1.mlp.c_fc.bias"]
    with pytest.raises(ValueError, match=r"h\.1\.mlp\.c_fc\.bias"):
        load_gpt2(write_hf(tmp_path / "missing", arrays))
    arrays = hf_arrays(np.random.default_rng(2))
    arrays["h.0.attn.c_proj.weight"] = arrays["h.0.attn.c_proj.weight"][:, :4].copy()
    with pytest.raises(ValueError, match=r"c_proj\.weight"):
        load_gpt2(write_hf(tmp_path / "shape", arrays))


# -- the tokenizer ----------------------------------------------------------------------------

def write_tokenizer(folder):
    """A tiny GPT-2-format BPE: the 256 byte characters, then a few merges."""
    chars = bytes_to_unicode()
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "D"), ("o", "n")]
    vocab = {chars[b]: i for i, b in enumerate(sorted(chars, key=lambda b: chars[b]))}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(
        f"{a} {b}" for a, b in merges) + "\n", encoding="utf-8")
    return folder, vocab


def test_gpt2_tokenizer_merges_by_rank_and_round_trips(tmp_path):
    folder, vocab = write_tokenizer(tmp_path / "tok")
    tok = load_gpt2_tokenizer(folder)
    ids = tok.encode("the Don then")
    assert ids == [vocab["t"], vocab["he"], vocab["ĠD"], vocab["on"], vocab["Ġthe"],
                   vocab["n"]]
    for text in ("the Don then", "señor, ¿qué?\n\n  x", "tab\tand 123"):
        assert tok.decode(tok.encode(text)) == text
    eot = vocab["<|endoftext|>"]
    assert tok.encode("a<|endoftext|>b", allowed_special="all") == [vocab["a"], eot,
                                                                     vocab["b"]]
    assert eot not in tok.encode("a<|endoftext|>b")


def test_bytes_to_unicode_is_a_bijection_with_space_as_G():
    chars = bytes_to_unicode()
    assert len(set(chars.values())) == 256 and chars[ord(" ")] == "Ġ"
    assert isinstance(GPT2Tokenizer({}, []).byte_char, dict)


def test_missing_tokenizer_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="vocab.json"):
        load_gpt2_tokenizer(tmp_path)


# -- writing back: save_gpt2 -------------------------------------------------------------------

def test_save_gpt2_round_trip_is_bit_identical(tmp_path):
    from tinytx.checkpoint import save_gpt2
    arrays = hf_arrays(np.random.default_rng(3))
    model = load_gpt2(write_hf(tmp_path / "in", arrays))
    tok = GPT2Tokenizer.from_merges([("Ġ", "t"), ("h", "e"), ("Ġt", "he")])
    save_gpt2(model, tmp_path / "out", tokenizer=tok)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "config.json", "merges.txt", "model.safetensors", "vocab.json"]   # no temp files
    again = load_gpt2(tmp_path / "out")
    assert again.config == model.config
    first, second = model.state_dict(), again.state_dict()
    assert list(first) == list(second)
    for name in first:
        assert first[name].dtype == second[name].dtype
        np.testing.assert_array_equal(first[name], second[name])
    save_gpt2(again, tmp_path / "out2", tokenizer=load_gpt2_tokenizer(tmp_path / "out"))
    for f in ("model.safetensors", "config.json", "vocab.json", "merges.txt"):
        assert (tmp_path / "out" / f).read_bytes() == (tmp_path / "out2" / f).read_bytes()
    tok2 = load_gpt2_tokenizer(tmp_path / "out2")
    assert tok2.encode("the then") == tok.encode("the then")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert (config["model_type"], config["n_layer"], config["n_head"], config["n_embd"],
            config["n_positions"], config["vocab_size"]) == ("gpt2", L, H, C, T, V)


def test_save_gpt2_refuses_what_gpt2_cannot_hold(tmp_path):
    from tinytx.checkpoint import save_gpt2
    from tinytx.models import GPT, GPTConfig
    with pytest.raises(ValueError, match="bias=False"):
        save_gpt2(GPT(GPTConfig(block_size=4, vocab_size=7, n_layer=1, n_head=1, n_embd=4,
                                bias=False)), tmp_path)
    with pytest.raises(ValueError, match="tokenizer"):
        save_gpt2(GPT(GPTConfig(block_size=4, vocab_size=7, n_layer=1, n_head=1,
                                n_embd=4)), tmp_path, tokenizer=object())
    assert not any(tmp_path.iterdir())                     # nothing half-written


def test_transformers_agrees_both_ways(tmp_path):
    """Optional: a random tiny GPT2LMHeadModel saved by transformers loads into tinytx with
    the same logits, and what save_gpt2 writes loads back into transformers."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tinytx.checkpoint import save_gpt2
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=16,
                                  vocab_size=V, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    hf.save_pretrained(tmp_path / "hf")
    ids = [3, 14, 15, 9, 2, 6, 5, 35, 8, 9, 7]
    with torch.no_grad():
        want = hf(torch.tensor([ids])).logits[0].numpy()
    model = load_gpt2(tmp_path / "hf")
    model.eval()
    with tx.no_grad():
        np.testing.assert_allclose(model(tx.tensor([ids]))[0].numpy()[0], want, atol=1e-4)
    model.transformer.h[0].mlp.c_fc.bias.data += 0.5          # a "finetuned" change
    with tx.no_grad():
        ours = model(tx.tensor([ids]))[0].numpy()[0]
    save_gpt2(model, tmp_path / "back")
    back = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "back").eval()
    with torch.no_grad():
        np.testing.assert_allclose(back(torch.tensor([ids])).logits[0].numpy(), ours,
                                   atol=1e-4)
