"""bench/gpu.py's training section: tokens/s of one seed-small training step (forward,
backward, clip at 1.0, AdamW) for tinytx with its kernels, tinytx composed, PyTorch eager.

A part of bench/gpu.py (run that, which says what each section measures).
"""
import numpy as np
from gpu_timing import interleaved, ratio_lines

import tinytx as tx
from tinytx import optim
from tinytx.kernels import dispatch
from tinytx.models import GPT, GPTConfig


def tinytx_training_step(cfg, batch, at, fused_on):
    tx.manual_seed(0)
    model = GPT(cfg).to(at.device)
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-3)
    x, y = (tx.tensor(a, device=at.device) for a in batch)

    def step():
        with dispatch.fused(fused_on):
            _, loss = model(x, y)
            loss.backward()
            optim.clip_grad_norm(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
    return step


def torch_training_step(cfg, batch, device):
    import torch
    from torch_gpt import torch_gpt
    torch.manual_seed(0)
    model = torch_gpt(cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size, cfg.vocab_size,
                      cfg.dropout).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": rest, "weight_decay": 0.0}], lr=1e-3)
    x, y = (torch.as_tensor(a, device=device) for a in batch)

    def step():
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def training(sizes, at):
    result = {}
    for dropout in (0.2, 0.0):
        cfg = GPTConfig(**sizes.model, dropout=dropout, bias=True)
        rng = np.random.default_rng(0)
        x = rng.integers(0, cfg.vocab_size, (sizes.batch, cfg.block_size))
        batch = (x, np.roll(x, -1, axis=1))
        steps = {"tinytx kernels": tinytx_training_step(cfg, batch, at, True),
                 at.composed: tinytx_training_step(cfg, batch, at, False)}
        if at.torch:
            steps["PyTorch eager"] = torch_training_step(cfg, batch, at.torch)
        with dispatch.counting() as counts:    # only the kernels side launches kernels
            seconds = interleaved(steps, at.sync, sizes.repeats, sizes.warmup)
        tokens, n_steps = sizes.batch * cfg.block_size, sizes.repeats + sizes.warmup
        rows = {n: {"tokens_per_s": tokens / s, "ms": 1e3 * s} for n, s in seconds.items()}
        result[f"dropout {dropout}"] = {
            "rows": rows, "launches_per_step": counts["launches"] / n_steps,
            "picks_per_step": {k: v / n_steps for k, v in counts.items() if k != "launches"},
            "ratios": ratio_lines(rows, "tokens_per_s", "tinytx kernels", lower=False)}
        free_memory(at)
    m = sizes.model
    print(f"\n== training: one step, {m['n_layer']} layers, {m['n_head']} heads, {m['n_embd']} "
          f"wide, block {m['block_size']}, vocab {m['vocab_size']}, batch {sizes.batch} "
          f"(tokens/s, median of {sizes.repeats}, interleaved)")
    names = list(next(iter(result.values()))["rows"])
    print(f"   {'':12s}" + "".join(f"{n:>18s}" for n in names) + "   launches/step")
    for label, r in result.items():
        print(f"   {label:12s}" + "".join(f"{r['rows'][n]['tokens_per_s']:18.0f}" for n in names)
              + f"   {r['launches_per_step']:.0f}")
        print(f"   {'':12s}" + "; ".join(f"{k} {v:.2f}x" for k, v in r["ratios"].items()))
    return result, True


def free_memory(at):
    if not at.simulate:
        import cupy
        cupy.get_default_memory_pool().free_all_blocks()
    if at.torch == "cuda":
        import torch
        torch.cuda.empty_cache()
