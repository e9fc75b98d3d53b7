"""Transformer layers and models: gradient checks of whole modules, fused against composed,
GPT-2's parameter count, weight tying, Seq2Seq padding."""
import numpy as np
import pytest

import tinytx as tx
from tinytx.functional.attention import causal_mask, padding_mask
from tinytx.models import GPT, GPTConfig, Seq2Seq, Seq2SeqConfig
from tinytx.nn.attention import CrossAttention, MultiHeadAttention
from tinytx.nn.fused import fused
from tinytx.nn.transformer import Block, DecoderLayer, EncoderLayer


def _f64(module, device):
    return module.to(device=device, dtype="float64")


def _check_module(fn, module, inputs):
    """gradcheck with respect to the inputs and every parameter of the module."""
    params = list(module.parameters())
    n = len(inputs)
    assert tx.gradcheck(lambda *xs: fn(*xs[:n]), list(inputs) + params)


def _x(device, *shape, seed=0):
    rng = np.random.default_rng(seed)
    return tx.tensor(rng.standard_normal(shape), device=device, requires_grad=True)


@pytest.mark.parametrize("similarity", ["scaled_dot", "dot", "cosine"])
@pytest.mark.parametrize("masking", ["none", "causal", "padding", "both"])
def test_multi_head_attention_gradcheck(device, similarity, masking):
    attn = _f64(MultiHeadAttention(4, 2, causal=masking in ("causal", "both"),
                                   similarity=similarity), device)
    mask = padding_mask([3, 2], S=3, device=device) if masking in ("padding", "both") else None
    _check_module(lambda x: attn(x, mask), attn, [_x(device, 2, 3, 4)])


def test_cross_attention_gradcheck(device):
    attn = _f64(CrossAttention(4, 2), device)
    mask = padding_mask([1, 3], S=3, device=device)
    _check_module(lambda x, m: attn(x, m, mask), attn, [_x(device, 2, 2, 4),
                                                         _x(device, 2, 3, 4, seed=1)])


def test_block_gradcheck(device):
    block = _f64(Block(4, 2), device)
    _check_module(block, block, [_x(device, 1, 3, 4)])


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_and_decoder_layers_gradcheck(device, norm_first):
    enc = _f64(EncoderLayer(4, 2, norm_first=norm_first), device)
    dec = _f64(DecoderLayer(4, 2, norm_first=norm_first), device)
    src_mask = padding_mask([3, 1], S=3, device=device)
    _check_module(lambda x: enc(x, src_mask), enc, [_x(device, 2, 3, 4)])
    _check_module(lambda x, m: dec(x, m, memory_mask=src_mask), dec,
                  [_x(device, 2, 2, 4), _x(device, 2, 3, 4, seed=1)])


def test_fused_and_composed_give_the_same_gpt(device):
    tx.manual_seed(0)
    model = _f64(GPT(GPTConfig(block_size=8, vocab_size=13, n_layer=2, n_head=2,
                               n_embd=8)), device)
    idx = tx.tensor(np.random.default_rng(0).integers(0, 13, (2, 7)), device=device)
    results = []
    for on in (True, False):
        with fused(on):
            model.zero_grad()
            logits, loss = model(idx, idx)
            loss.backward()
            results.append((logits.numpy(), {n: p.device.to_host(p.grad).copy()
                                             for n, p in model.named_parameters()}))
    np.testing.assert_allclose(results[0][0], results[1][0], atol=1e-10)
    for name in results[0][1]:
        np.testing.assert_allclose(results[0][1][name], results[1][1][name], atol=1e-10,
                                   err_msg=name)


def test_gpt2_small_parameter_count():
    model = GPT(GPTConfig(block_size=1024, vocab_size=50257, n_layer=12, n_head=12,
                          n_embd=768))
    assert model.num_parameters() == 124_439_808


def test_gpt_names_and_tied_weights():
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8))
    names = dict(model.named_parameters())
    for n in ["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.1.ln_1.weight",
              "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_proj.bias",
              "transformer.h.0.ln_2.bias", "transformer.h.0.mlp.c_fc.weight",
              "transformer.h.0.mlp.c_proj.weight", "transformer.ln_f.weight"]:
        assert n in names, n
    assert model.lm_head.weight is model.transformer.wte.weight
    assert "lm_head.weight" not in names and "lm_head.weight" not in model.state_dict()
    # the tied array's gradient is the sum of its two uses (embedding and lm_head)
    idx = tx.tensor([[1, 2, 3]])
    _, loss = model(idx, idx)
    loss.backward()
    w = model.transformer.wte.weight
    assert w.grad is not None and np.abs(w.grad[4:]).sum() > 0  # only lm_head touches rows 4+


def test_gpt_rejects_too_long_sequences():
    model = GPT(GPTConfig(block_size=4, vocab_size=5, n_layer=1, n_head=1, n_embd=4))
    with pytest.raises(ValueError, match="block_size 4"):
        model(tx.tensor([[1, 2, 3, 4, 0]]))


def test_seq2seq_ignores_padding(device):
    tx.manual_seed(0)
    cfg = Seq2SeqConfig(vocab_size=10, n_embd=8, n_head=2, n_encoder_layer=1,
                        n_decoder_layer=1, dropout=0.0)
    model = _f64(Seq2Seq(cfg), device)
    src = tx.tensor([[4, 5, 6, 0], [7, 8, 0, 0]], device=device)
    tgt_in = tx.tensor([[1, 4, 5], [1, 7, 0]], device=device)
    tgt = tx.tensor([[4, 5, 2], [7, 2, 0]], device=device)
    logits, loss = model(src, tgt_in, src != 0, tgt_in != 0, tgt)     # "may attend" masks
    assert logits.shape == (2, 3, 10) and np.isfinite(loss.item())
    # changing a padded source token changes nothing: it is masked out everywhere
    src2 = tx.tensor([[4, 5, 6, 0], [7, 8, 0, 9]], device=device)
    logits2, _ = model(src2, tgt_in, src != 0, tgt_in != 0, tgt)
    np.testing.assert_allclose(logits.numpy(), logits2.numpy(), atol=1e-12)


def test_seq2seq_rejects_padding_masks():
    """One mask convention: "may attend". A padding mask (True at padding), as Seq2Seq
    took before, has a row with no True (the batch's longest sequence): a clear error.
    The old keywords are gone, so a call by name fails loudly too."""
    model = Seq2Seq(Seq2SeqConfig(vocab_size=10, n_embd=8, n_head=2, n_encoder_layer=1,
                                  n_decoder_layer=1))
    src, tgt_in = tx.tensor([[4, 5, 6], [7, 8, 0]]), tx.tensor([[1, 4], [1, 7]])
    with pytest.raises(ValueError, match=r"src_mask: row 0 may attend no position.*~pad_mask"):
        model(src, tgt_in, src == 0)
    with pytest.raises(ValueError, match="tgt_mask: row 0"):
        model(src, tgt_in, src != 0, tgt_in == 0)
    with pytest.raises(ValueError, match="bool"):
        model.encode(src, tx.tensor([[1.0, 1.0, 0.0]] * 2))
    with pytest.raises(TypeError, match="src_pad_mask"):
        model(src, tgt_in, src_pad_mask=src == 0)


def test_causal_mask_blocks_the_future(device):
    """Changing a later token never changes an earlier position's logits."""
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8))
    model.to(device)
    a, _ = model(tx.tensor([[1, 2, 3, 4]], device=device))
    b, _ = model(tx.tensor([[1, 2, 3, 9]], device=device))
    np.testing.assert_allclose(a.numpy()[:, :3], b.numpy()[:, :3], atol=1e-6)
    assert causal_mask(3, device).shape == (3, 3)


def test_seq2seq_tied_generator(device):
    """tie_generator: the output layer is the shared embedding table (one Parameter, saved
    once), logits = x @ Eᵀ, and the whole model still passes a gradient check."""
    tx.manual_seed(0)
    cfg = Seq2SeqConfig(vocab_size=7, n_embd=4, n_head=2, n_encoder_layer=1,
                        n_decoder_layer=1, dropout=0.0, tie_generator=True)
    model = _f64(Seq2Seq(cfg), device)
    assert model.generator.weight is model.tgt_emb.weight is model.src_emb.weight
    assert not any(k.startswith("generator") for k in model.state_dict())
    src = tx.tensor([[4, 5, 6, 0]], device=device)
    tgt_in = tx.tensor([[1, 4, 5]], device=device)
    memory = model.encode(src, src != 0)
    logits = model.decode(tgt_in, memory, src != 0)
    assert logits.shape == (1, 3, 7)
    _check_module(lambda: model.decode(tgt_in, model.encode(src, src != 0), src != 0),
                  model, [])
