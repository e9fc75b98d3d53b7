"""Sample from a GPT checkpoint written by examples/train_quixote.py (lesson 11).

    python examples/sample.py                                   # out/quixote/best
    python examples/sample.py --prompt="Sancho said" --temperature=0.5 --top_k=20
    python examples/sample.py --top_p=0.9 --num_samples=3 --seed=7
    python examples/sample.py --greedy --stop="." --max_new_tokens=100
    python examples/sample.py --beam_width=4 --no_repeat_ngram_size=3
    python examples/sample.py --checkpoint=out/quixote/last --no_cache

Every option is `--key=value` (a bare `--flag` sets a bool). The model and its tokenizer
are rebuilt from the checkpoint alone (tinytx.checkpoint.load_model).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import tinytx as tx
from tinytx.checkpoint import load_model
from tinytx.config import parse_config, run_main
from tinytx.generate import beam_search, generate_text


@dataclass
class Config:
    checkpoint: str = "out/quixote/best"
    prompt: str = '"Here is the apple of which I spoke," said Don Quixote,'
    max_new_tokens: int = 100
    num_samples: int = 1
    temperature: float = 0.8       # 0 means greedy
    top_k: int = 0                 # 0: no top-k filter
    top_p: float = 1.0             # 1: no nucleus filter
    greedy: bool = False
    stop: str = ""                 # stop once this string is generated ("" = never)
    no_repeat_ngram_size: int = 0
    beam_width: int = 0            # > 0: beam search instead of sampling
    length_penalty: float = 1.0
    no_cache: bool = False
    seed: int = 1337
    device: str = "cpu"


def main(argv=None):
    try:
        cfg = parse_config(Config(), sys.argv[1:] if argv is None else argv)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    model, tok = load_model(cfg.checkpoint, cfg.device)
    outputs = []
    for i in range(cfg.num_samples):
        if cfg.beam_width > 0:
            ids = tok.encode(cfg.prompt)
            out = beam_search(model, ids, cfg.max_new_tokens, beam_width=cfg.beam_width,
                              length_penalty=cfg.length_penalty,
                              no_repeat_ngram_size=cfg.no_repeat_ngram_size)
            text = tok.decode(out.tolist()[0][len(ids):])
        else:
            text = generate_text(model, tok, cfg.prompt, cfg.max_new_tokens,
                                 temperature=cfg.temperature, top_k=cfg.top_k or None,
                                 top_p=cfg.top_p if cfg.top_p < 1 else None,
                                 greedy=cfg.greedy, stop_strings=cfg.stop or None,
                                 no_repeat_ngram_size=cfg.no_repeat_ngram_size,
                                 use_cache=not cfg.no_cache, rng=cfg.seed + i)
        outputs.append(cfg.prompt + text)
        print(f"--- sample {i + 1}\n{cfg.prompt + text}")
    return outputs


if __name__ == "__main__":
    tx.manual_seed(0)
    sys.exit(run_main(main))
