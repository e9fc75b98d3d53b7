"""Lesson 11's exercises (training a GPT): the training pairs X, Y and the GPT's forward
pass; the sampler (top-k, top-p and the sampling loop); attention with a KV cache.

Write your answers in the functions below, replacing `raise NotImplementedError`; then
run `python -m lessons.check gpt_quixote` (the checks are in lessons/checks/gpt_quixote.py).
"""
import numpy as np                     # noqa: F401 (for your answer)

import tinytx as tx                    # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def xy_batch(ids, starts, block_size):
    """The report's X and Y (eq. 1-3) as two NumPy int arrays (B, T): row b of X is the
    window ids[s : s + T] starting at s = starts[b], and Y is X shifted by one token, so
    Y[b, t] is the token that follows X[b, t]. T = block_size."""
    raise NotImplementedError("your answer here")


def gpt_forward(model, idx, targets):
    """The GPT's forward pass from its parts -> (logits (B, T, V), loss), with tinytx ops:
        x = wte.weight[idx] + wpe.weight[:T]      token + position embeddings, (B, T, C)
        x = block(x) for each block of model.transformer.h (lesson 08's Block)
        logits = ln_f(x) @ wte.weight.T           the head shares wte's weight (tying)
        loss = the mean cross-entropy of logits and targets over all B·T positions
    where wte, wpe and ln_f are model.transformer's. idx, targets: int Tensors (B, T).
    Hint: F.cross_entropy wants (N, V) logits and (N,) targets."""
    raise NotImplementedError("your answer here")


def top_k_filter(logits, k):
    """Keep the k largest logits of each row and set the others to -inf, so that sampling
    picks only among the k most likely tokens. logits: a NumPy array (..., V); returns a
    new array of the same shape (the input unchanged). Hint: np.sort or np.argsort."""
    raise NotImplementedError("your answer here")


def top_p_filter(logits, p):
    """Nucleus filtering: keep the smallest set of most likely tokens whose probabilities
    (the softmax of the row) sum to at least p, and set the others to -inf. A token is
    kept when the probability of the tokens ranked above it is below p, so the most
    likely token is always kept and p = 1 keeps everything. logits: a NumPy array
    (..., V); returns a new array of the same shape (the input unchanged)."""
    raise NotImplementedError("your answer here")


def sample(model, ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None, rng=None):
    """The sampling loop: continue the prompt `ids` (a list of token ids) by
    max_new_tokens tokens drawn from the GPT `model`; -> the list prompt + new tokens.

    Each step: run the model (under tx.no_grad()) on the last model.config.block_size
    tokens, as a (1, T) Tensor; take the logits of the last position, (V,); divide them by
    the temperature; then keep the top_k (if not None), then the nucleus top_p (if not
    None); turn them into probabilities p (a softmax: -inf gets 0) and draw the token
    with rng.choice(len(p), p=p), one draw per step; append it. rng is a
    numpy.random.Generator. (tinytx.generate.generate does the same for a batch.)"""
    raise NotImplementedError("your answer here")


def cached_attention(q, k, v, cache):
    """One decoding step of causal attention with a KV cache, on NumPy arrays.

    q, k, v: the new token's query, key and value, (B, H, 1, D) each. cache: None at the
    first step, else the (K, V) returned by the previous step, (B, H, T, D) each: the keys
    and values of the T earlier tokens. Append k and v to the cache (after the earlier
    ones), then let q attend to every cached key, itself included: softmax(q Kᵀ / √D) V.
    -> (output (B, H, 1, D), the new cache (K, V), (B, H, T + 1, D) each).
    Fed one token at a time, the outputs equal causal attention over the whole sequence,
    but each step costs one row of attention instead of recomputing all earlier rows."""
    raise NotImplementedError("your answer here")
