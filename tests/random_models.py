"""Random GPT and Seq2Seq models for the generation tests (tests/test_generate.py,
tests/test_beam_search.py): tiny, float64 by default, with weights ~ N(0, 0.5²) so that
their predictions are peaked rather than near-uniform."""
import numpy as np

from tinytx.models import GPT, GPTConfig, Seq2Seq, Seq2SeqConfig

V = 24


def randomize(model, seed, device="cpu", dtype="float64"):
    """Weights ~ N(0, 0.5²): a random model with peaked (not near-uniform) predictions."""
    model.to(device=device, dtype=dtype)
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = p.device.asarray(rng.normal(0, 0.5, p.shape), dtype=p.dtype)
    return model


def random_gpt(seed=0, device="cpu", dtype="float64", block_size=8, vocab_size=V):
    cfg = GPTConfig(block_size=block_size, vocab_size=vocab_size, n_layer=2, n_head=2,
                    n_embd=16)
    return randomize(GPT(cfg), seed, device, dtype)


def random_seq2seq(seed=0, device="cpu", dtype="float64", block_size=8):
    cfg = Seq2SeqConfig(vocab_size=V, n_embd=16, n_head=2, n_encoder_layer=1,
                        n_decoder_layer=2, dropout=0.1, block_size=block_size)
    return randomize(Seq2Seq(cfg), seed, device, dtype)


def random_prompts(B=3, T=5, seed=1):
    return np.random.default_rng(seed).integers(0, V, (B, T))


SRC = np.array([[3, 4, 5, 6, 0], [7, 8, 9, 0, 0]])          # two padded sources (pad 0)
