"""T5 (tinytx.models.t5, tinytx.checkpoint.t5, tinytx.tokenizer.unigram): relative position
buckets, float64 gradient checks, KV cache == no cache, Hugging Face files written by the
tests (and, when transformers + torch are installed, logits and greedy decodes against
transformers' own T5 for v1.0 and v1.1), and a SentencePiece unigram model file."""
import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import tinytx as tx
from tinytx.checkpoint import load_t5, load_t5_tokenizer, save_t5
from tinytx.generate import beam_search_seq2seq, generate_seq2seq
from tinytx.models.t5 import T5, T5Config, rms_norm
from tinytx.models.t5_attention import T5Attention, relative_position_bucket
from tinytx.tokenizer.unigram import UnigramTokenizer, parse_model, write_model

SRC = np.array([[5, 9, 33, 12, 7, 40, 22, 8, 1, 0, 0], [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 1]])
TGT = np.array([[0, 3, 17, 25, 9, 2, 44, 5, 6], [0, 7, 8, 9, 30, 31, 1, 0, 0]])


def tiny(ff="relu", tie=True, **kw):
    fields = dict(vocab_size=64, d_model=16, d_kv=4, d_ff=24, num_layers=2,
                  num_decoder_layers=3, num_heads=3, relative_attention_num_buckets=8,
                  relative_attention_max_distance=20, dropout=0.0, feed_forward_proj=ff,
                  tie_word_embeddings=tie)
    return T5Config(**{**fields, **kw})


def test_relative_position_buckets():
    rel = np.arange(-200, 201)                                    # rel[200] = 0
    enc = relative_position_bucket(rel, True, 32, 128)
    assert enc[200] == 0 and enc[201] == 17 and enc[199] == 1    # 0, +1 (other half), -1
    assert enc[200 - 7] == 7 and enc[200 - 8] == 8 and enc[200 - 9] == 8   # exact below 8
    assert enc.max() == 31 and enc[0] == 15 and enc.min() == 0   # far: the last buckets
    assert np.all(np.diff(enc[:200]) <= 0) and np.all(np.diff(enc[201:]) >= 0)  # monotone
    dec = relative_position_bucket(rel, False, 32, 128)
    assert np.all(dec[200:] == 0)                                 # future keys: bucket 0
    assert dec[200 - 15] == 15 and dec[200 - 16] == 16 and dec[0] == 31


def test_relative_position_buckets_match_transformers():
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import torch
    rel = np.arange(-300, 301)[None, :] - np.arange(0, 50)[:, None]
    bucket = transformers.models.t5.modeling_t5.T5Attention._relative_position_bucket
    for bidirectional in (True, False):
        want = bucket(torch.tensor(rel), bidirectional, 32, 128).numpy()
        np.testing.assert_array_equal(relative_position_bucket(rel, bidirectional), want)


def test_rms_norm_gradcheck():
    x = tx.randn(2, 3, 5, dtype="float64", requires_grad=True)
    w = tx.randn(5, dtype="float64", requires_grad=True)
    assert tx.gradcheck(lambda x, w: rms_norm(x, w, 1e-6), [x, w])
    y = rms_norm(x, tx.tensor(np.ones(5)), 1e-6).numpy()
    ms = (x.numpy() ** 2).mean(-1)                  # unit mean square, up to eps exactly
    np.testing.assert_allclose((y ** 2).mean(-1), ms / (ms + 1e-6), rtol=1e-12)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_attention_with_position_bias_gradcheck(bidirectional):
    tx.manual_seed(0)
    attn = T5Attention(tiny(), True, bidirectional).to(dtype="float64")
    x = tx.randn(2, 5, 16, dtype="float64", requires_grad=True)
    mask = tx.tensor(np.array([True, True, True, False, True]).reshape(1, 1, 1, 5))
    table = attn.relative_attention_bias.weight
    assert tx.gradcheck(lambda x, t, q: attn(x, mask=mask)[0], [x, table, attn.q.weight])


@pytest.mark.parametrize("ff,tie", [("relu", True), ("gated-gelu", False)])
def test_whole_model_gradcheck(ff, tie):
    tx.manual_seed(1)
    model = T5(tiny(ff, tie, num_layers=1, num_decoder_layers=1, vocab_size=12, d_model=8,
                    num_heads=2, d_ff=12)).to(dtype="float64")
    src, tgt = tx.tensor(SRC[:, 6:] % 12), tx.tensor(TGT[:, :4] % 12)
    mask = tx.tensor(SRC[:, 6:] != 0)                      # may attend: not padding
    params = dict(model.named_parameters())
    names = ["shared.weight", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias"
             ".weight", "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
             "decoder.block.0.layer.1.EncDecAttention.k.weight",
             "encoder.block.0.layer.1.layer_norm.weight", "lm_head.weight"]
    checked = [params[n] for n in dict.fromkeys(names) if n in params]
    assert tx.gradcheck(lambda *ps: model(src, tgt, mask)[0], checked, atol=1e-5)


@pytest.mark.parametrize("ff,tie", [("relu", True), ("gated-gelu", False)])
def test_kv_cache_equals_no_cache(ff, tie):
    tx.manual_seed(2)
    model = T5(tiny(ff, tie)).eval()
    mask = SRC != 0
    mask[0, :9] = True
    memory = model.encode(tx.tensor(SRC), tx.tensor(mask))
    with tx.no_grad():
        full = model.decode(tx.tensor(TGT), memory, tx.tensor(mask)).numpy()
        cache = tx.nn.kv_cache.KVCache(3, capacity=16)
        steps = [model.decode(tx.tensor(TGT[:, :4]), memory, tx.tensor(mask), cache=cache)]
        steps += [model.decode(tx.tensor(TGT[:, t:t + 1]), memory, tx.tensor(mask),
                               cache=cache) for t in range(4, TGT.shape[1])]
    np.testing.assert_allclose(np.concatenate([s.numpy() for s in steps], 1), full,
                               atol=1e-5)
    for use_cache in (True, False):
        out = generate_seq2seq(model, SRC, mask, 0, 1, 8, greedy=True, use_cache=use_cache)
        beam = beam_search_seq2seq(model, SRC, mask, 0, 1, 8, beam_width=3,
                                   no_repeat_ngram_size=2, use_cache=use_cache)
        if use_cache:
            cached = out.numpy(), beam.numpy()
    np.testing.assert_array_equal(cached[0], out.numpy())
    np.testing.assert_array_equal(cached[1], beam.numpy())


# -- Hugging Face files -------------------------------------------------------------------------

def write_t5_folder(folder, model: T5, tie_in_config=True, lm_head=False):
    """model as Hugging Face (transformers 4) writes a T5 folder: save_t5's files plus
    the tied copy encoder.embed_tokens.weight, lm_head only if asked, and no
    scale_decoder_outputs in config.json (tie_word_embeddings then decides the rescale)."""
    save_t5(model, folder)
    arrays = load_file(str(folder / "model.safetensors"))
    arrays["encoder.embed_tokens.weight"] = arrays["shared.weight"].copy()
    if lm_head:
        arrays["lm_head.weight"] = model.lm_head.weight.numpy().copy()
    else:
        arrays.pop("lm_head.weight", None)
    save_file(arrays, str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    del config["scale_decoder_outputs"]
    (folder / "config.json").write_text(json.dumps({**config,
                                                    "tie_word_embeddings": tie_in_config}))
    return folder


def test_load_t5_round_trips_names_and_untied_head(tmp_path):
    tx.manual_seed(3)
    model = T5(tiny("gated-gelu", tie=False, scale_decoder_outputs=False)).eval()
    loaded = load_t5(write_t5_folder(tmp_path / "v11", model, False, lm_head=True))
    assert not loaded.config.tie_word_embeddings and not loaded.config.rescale
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v)
    with tx.no_grad():
        np.testing.assert_array_equal(loaded(tx.tensor(SRC), tx.tensor(TGT))[0].numpy(),
                                      model(tx.tensor(SRC), tx.tensor(TGT))[0].numpy())
    tied = load_t5(write_t5_folder(tmp_path / "v10", T5(tiny())))
    assert tied.config.tie_word_embeddings and tied.config.rescale
    assert tied.lm_head.weight is tied.shared.weight


def test_load_t5_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_t5(tmp_path)
    folder = write_t5_folder(tmp_path / "bad", T5(tiny()))
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "d_ff": 20}))
    with pytest.raises(ValueError, match="DenseReluDense.wi.weight"):
        load_t5(folder)
    (folder / "config.json").write_text(json.dumps({**cfg, "model_type": "bart"}))
    with pytest.raises(ValueError, match="model_type"):
        load_t5(folder)


@pytest.mark.parametrize("ff", ["relu", "gated-gelu"])
def test_matches_transformers(tmp_path, ff):
    """Optional: transformers' random tiny T5 (v1.0: ReLU, tied; v1.1: gated GELU, no
    rescale), saved with save_pretrained: same logits (<= 1e-4) and greedy decodes."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.T5Config(
        vocab_size=64, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_decoder_layers=3,
        num_heads=4, feed_forward_proj=ff, tie_word_embeddings=ff == "relu",
        relative_attention_num_buckets=8, relative_attention_max_distance=20,
        dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    hf = transformers.T5ForConditionalGeneration(cfg).eval()
    hf.save_pretrained(tmp_path)
    attention = torch.tensor(SRC != 0).long()
    attention[0, :9] = 1
    with torch.no_grad():
        want = hf(input_ids=torch.tensor(SRC), attention_mask=attention,
                  decoder_input_ids=torch.tensor(TGT)).logits.numpy()
        greedy = hf.generate(torch.tensor(SRC), attention_mask=attention, max_new_tokens=10,
                             do_sample=False, num_beams=1, use_cache=False).numpy()
    model = load_t5(tmp_path).eval()
    attend = attention.numpy() == 1            # HF's attention_mask is "may attend" too
    with tx.no_grad():
        got = model(tx.tensor(SRC), tx.tensor(TGT), tx.tensor(attend))[0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    ours = generate_seq2seq(model, SRC, attend, 0, 1, 10, greedy=True).numpy()
    n = min(ours.shape[1], greedy.shape[1])
    np.testing.assert_array_equal(ours[:, :n], greedy[:, :n])
    save_t5(model, tmp_path / "back")                  # and transformers reads ours
    back = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path / "back").eval()
    with torch.no_grad():
        np.testing.assert_allclose(back(input_ids=torch.tensor(SRC), attention_mask=attention,
                                        decoder_input_ids=torch.tensor(TGT)).logits.numpy(),
                                   want, atol=1e-4)


# -- the SentencePiece unigram tokenizer ---------------------------------------------------------

PIECES = [("<pad>", 0.0, 3), ("</s>", 0.0, 3), ("<unk>", 0.0, 2), ("▁the", -1.0, 1),
          ("▁", -2.0, 1), ("t", -3.0, 1), ("h", -3.0, 1), ("e", -3.0, 1), ("▁th", -2.5, 1),
          ("en", -2.0, 1), ("▁then", -1.5, 1), ("n", -3.5, 1), ("é", -3.0, 1)]


def test_unigram_reads_the_model_file_and_finds_the_best_segmentation(tmp_path):
    tok = load_t5_tokenizer(write_model(tmp_path / "spiece.model", PIECES).parent)
    assert len(tok) == len(PIECES) and tok.unk_id == 2
    ids = tok.encode("then  the\tthen")
    assert [tok.pieces[i][0] for i in ids] == ["▁then", "▁the", "▁then"]
    # "then" as ▁then (-1.5) beats ▁the + n (-4.5) and ▁th + en (-4.5)
    assert tok.encode("xx the") == [4, 2, 3]                      # ▁, <unk> (merged), ▁the
    assert tok.decode(tok.encode("then the é") + [1]) == "then the é"
    assert tok.decode([3, 2, 1, 0]) == "the \u2047 "
    assert tok.decode([3, len(PIECES) + 99, len(PIECES) + 100]) == "the<extra_id_0>"
    assert tok.encode("ｔｈｅ") == tok.encode("the")                 # NFKC
    with pytest.raises(ValueError, match="unigram"):
        load_t5_tokenizer(write_model(tmp_path / "bpe.model", PIECES, model_type=2))
    pieces, spec = parse_model((tmp_path / "spiece.model").read_bytes())
    assert pieces[3] == ("▁the", -1.0, 1) and spec["add_dummy_prefix"]


def test_unigram_matches_sentencepiece(tmp_path):
    """Optional: a unigram model trained by the sentencepiece package encodes the same."""
    spm = pytest.importorskip("sentencepiece")
    text = ("In a village of La Mancha, the name of which I have no desire to call to mind, "
            "there lived not long since one of those gentlemen that keep a lance.\n") * 30
    (tmp_path / "text.txt").write_text(text)
    spm.SentencePieceTrainer.train(input=str(tmp_path / "text.txt"),
                                   model_prefix=str(tmp_path / "sp"), vocab_size=40,
                                   model_type="unigram", normalization_rule_name="nfkc")
    ref = spm.SentencePieceProcessor(model_file=str(tmp_path / "sp.model"))
    ours = UnigramTokenizer.load(tmp_path / "sp.model")
    for line in ("In a village of La Mancha", "the name of which  I have", "gentlemen, zq!"):
        assert ours.encode(line) == ref.encode(line)
        assert ours.decode(ours.encode(line)) == ref.decode(ref.encode(line))
    write_model(tmp_path / "ours.model", PIECES)         # and it reads what we write
    ref = spm.SentencePieceProcessor(model_file=str(tmp_path / "ours.model"))
    ours = UnigramTokenizer.load(tmp_path / "ours.model")
    for line in ("then the then", "the é xx"):
        assert ours.encode(line) == ref.encode(line)
