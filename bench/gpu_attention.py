"""bench/gpu.py's check and attention sections: causal attention through the CUDA kernel
against the composed ops (the check), then timed against them and PyTorch's SDPA.

A part of bench/gpu.py (run that, which says what each section measures).
"""
import numpy as np
from gpu_timing import interleaved, ratio_lines

import tinytx as tx
from tinytx.kernels import dispatch
from tinytx.nn.fused import attention


# -- check: attention against the composed ops -------------------------------------------

def qkv(shape, device, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]
    q, k, v = (tx.tensor(a, device=device, requires_grad=True) for a in arrays[:3])
    return q, k, v, tx.tensor(arrays[3], device=device)


def attention_backward(fused_on, q, k, v, g):
    """Causal attention forward and backward (upstream gradient g); returns the output."""
    for t in (q, k, v):
        t.grad = None
    with dispatch.fused(fused_on):
        o = attention(q, k, v, is_causal=True)
        o.backward(g)
    return o


def check(sizes, at):
    q, k, v, g = qkv(sizes.check, at.device, seed=1)
    host = q.device.to_host

    def run(fused_on):
        o = attention_backward(fused_on, q, k, v, g)
        return {"o": host(o.data), "dq": host(q.grad), "dk": host(k.grad), "dv": host(v.grad)}
    with dispatch.counting() as counts:
        kernel = run(True)
    picked = counts["attention:cuda"]
    composed = run(False)
    errors = {name: float(np.abs(kernel[name] - composed[name]).max()
                          / max(np.abs(composed[name]).max(), 1e-30)) for name in kernel}
    ok = picked == 1 and all(e <= 1e-4 for e in errors.values())
    B, H, T, D = sizes.check
    print(f"\n== check: causal attention B {B}, H {H}, T {T}, D {D}, fp32: the CUDA kernel "
          f"against {at.composed}; max |difference| / max |composed| (pass: <= 1e-4)")
    print("   " + "   ".join(f"{n} {e:.2e}" for n, e in errors.items())
          + f"   kernel picked {picked}x, {counts['launches']} launches: "
          + ("pass" if ok else "FAIL"))
    return {"shape": sizes.check, "relative_error": errors, "kernel_picked": picked,
            "launches": counts["launches"], "pass": ok}, ok


# -- attention: timed ---------------------------------------------------------------------

def attention_flops(B, H, T, D):
    """Useful FLOPs of causal attention: QK^T and PV, 2·T²·D each per head, half masked."""
    forward = 4 * B * H * T * T * D / 2
    return forward, 3.5 * forward          # backward: five such products, 2.5 x forward


def tinytx_attention_runs(shape, at, fused_on):
    q, k, v, g = qkv(shape, at.device, seed=2)

    def forward():
        with dispatch.fused(fused_on), tx.no_grad():
            attention(q, k, v, is_causal=True)

    return forward, lambda: attention_backward(fused_on, q, k, v, g)


def torch_attention_runs(shape, device, dtype):
    import torch
    F = torch.nn.functional
    gen = torch.Generator(device=device).manual_seed(2)
    q, k, v, g = (torch.randn(shape, generator=gen, device=device).to(dtype) for _ in range(4))
    for t in (q, k, v):
        t.requires_grad_(True)

    def forward():
        with torch.no_grad():
            F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def forward_backward():
        for t in (q, k, v):
            t.grad = None
        F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)
    return forward, forward_backward


def attention_timing(sizes, at):
    shape = sizes.attention
    runs = {"tinytx kernel": tinytx_attention_runs(shape, at, True),
            at.composed: tinytx_attention_runs(shape, at, False)}
    if at.torch:
        import torch
        runs["PyTorch SDPA fp32"] = torch_attention_runs(shape, at.torch, torch.float32)
        runs["PyTorch SDPA bf16"] = torch_attention_runs(shape, at.torch, torch.bfloat16)
    flops = attention_flops(*shape)
    result = {}
    for i, phase in enumerate(("forward", "forward_backward")):
        t = interleaved({n: r[i] for n, r in runs.items()}, at.sync, sizes.repeats,
                        sizes.warmup)
        result[phase] = {n: {"ms": 1e3 * s, "tflops": flops[i] / s / 1e12} for n, s in t.items()}
    B, H, T, D = shape
    print(f"\n== attention: causal, B {B}, H {H}, T {T}, D {D} (median of {sizes.repeats}, "
          f"interleaved; bf16 only as context)")
    print(f"   {'':20s} {'forward ms':>11s} {'TFLOP/s':>8s} {'fwd+bwd ms':>11s} {'TFLOP/s':>8s}")
    for name in runs:
        f, fb = result["forward"][name], result["forward_backward"][name]
        print(f"   {name:20s} {f['ms']:11.3f} {f['tflops']:8.2f} {fb['ms']:11.3f} "
              f"{fb['tflops']:8.2f}")
    ratios = ratio_lines(result["forward_backward"], "ms", "tinytx kernel", lower=True)
    result["ratios_forward_backward"] = ratios
    print("   forward + backward: " + "; ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    return result, True
