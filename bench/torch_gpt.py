"""tinytx's GPT in PyTorch (nanoGPT's layout, SDPA attention, tied lm_head): the other side
of the training comparisons of bench/train_step.py (CPU) and bench/gpu.py (GPU).

Imported by those scripts inside the functions that need PyTorch (it is optional there);
they run from bench/, so this file is found beside them.
"""
import torch
from torch import nn


def torch_gpt(n_layer, n_head, n_embd, block_size, vocab_size, dropout):
    """A GPT with GPTConfig's fields (bias on, GELU tanh); model(idx, targets) -> the loss."""
    C, V, p = n_embd, vocab_size, dropout

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(approximate="tanh"),
                                     nn.Linear(4 * C, C), nn.Dropout(p))
            self.drop = nn.Dropout(p)

        def forward(self, x):
            B, T, _ = x.shape
            q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2)   # (B, H, T, D)
                       for t in self.c_attn(self.ln_1(x)).split(C, dim=2))
            y = torch.nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=p if self.training else 0.0)
            x = x + self.drop(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(block_size, C)
            self.drop, self.ln_f = nn.Dropout(p), nn.LayerNorm(C)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.lm_head = nn.Linear(C, V, bias=False)
            self.lm_head.weight = self.wte.weight

        def forward(self, idx, targets):
            pos = torch.arange(idx.shape[1], device=idx.device)
            x = self.drop(self.wte(idx) + self.wpe(pos))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return torch.nn.functional.cross_entropy(logits.view(-1, V), targets.view(-1))
    return TorchGPT()
