"""Every lesson runs in --smoke mode (seconds), writes its pictures as non-empty PNGs and
returns the smoke-sized facts its text quotes; no lesson uses a tinytx name before the
lesson that teaches it (lessons.TEACHES).

Lessons are run as a user runs them, `python lessons/NN_slug.py --smoke --out_dir=DIR`,
in a fresh process each; the process also writes what main() returns to facts.json.
"""
import ast
import importlib
import json
import math
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from lessons import TEACHES

LESSONS = sorted((Path(__file__).resolve().parents[1] / "lessons").glob("[0-9][0-9]_*.py"))


def test_lessons_are_00_to_14_in_order():
    numbers = [int(p.name[:2]) for p in LESSONS]
    assert numbers == list(range(0, 15))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_imports_only_the_installed_package(lesson):
    """A lesson runs from anywhere: it may not import the repository's tests/, examples/,
    bench/ or another lesson, only tinytx and third-party or standard modules."""
    tree = ast.parse(lesson.read_text(), filename=str(lesson))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            pytest.fail(f"{lesson.name}:{node.lineno}: relative import")
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            top = name.split(".")[0]
            assert top not in {"tests", "examples", "bench", "lessons", "conftest"}, (
                f"{lesson.name}:{node.lineno} imports {name}")


# `python lessons/NN_slug.py ARGS`, keeping what main(ARGS) returns (json: numpy scalars
# become numbers)
RUN_MAIN = ("import json, runpy, sys\n"
            "facts = runpy.run_path(sys.argv[1])['main'](sys.argv[2:])\n"
            "with open('facts.json', 'w') as f:\n"
            "    json.dump(facts, f, default=lambda o: o.item() if hasattr(o, 'item') else str(o))")


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_smoke_run_writes_pictures_and_its_facts(lesson, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, "-c", RUN_MAIN, str(lesson), "--smoke",
                          f"--out_dir={tmp_path}"],
                         capture_output=True, text=True, timeout=300, env=env,
                         cwd=tmp_path)
    assert run.returncode == 0, f"{lesson.name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert run.stdout.strip(), f"{lesson.name} printed nothing"
    facts = json.loads((tmp_path / "facts.json").read_text())
    assert isinstance(facts, dict), f"{lesson.name}: main() returned {facts!r}, not a dict"
    FACTS[lesson.stem](facts)
    pictures = sorted(tmp_path.rglob("*.png"))
    assert pictures, f"{lesson.name} wrote no PNG into {tmp_path}"
    for png in pictures:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, f"{png} is not a picture"


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_opens_as_a_notebook(lesson):
    """`# %%` lines cut the lesson into cells (JupyterLab with jupytext, VS Code): one
    opens the file, one opens each section and main(), and the last cell runs main(); its
    pictures go through tinytx.course.save_figure, which shows them in a notebook."""
    source = lesson.read_text()
    lines = source.splitlines()
    assert lines[0] == "# %%", f"{lesson.name} does not open with a cell"
    for i, line in enumerate(lines):
        if line.startswith(("# -- ", "def main(")):
            assert lines[i - 1] == "# %%", f"{lesson.name}:{i + 1}: no cell opens {line!r}"
    last = max(i for i, line in enumerate(lines) if line == "# %%")
    assert lines[last + 1:] == ['if __name__ == "__main__":', "    main()"], lesson.name
    assert "savefig" not in source, f"{lesson.name}: save pictures with save_figure"


SHARED = {"section", "max_diff", "load_book", "smoke_config", "show", "setup", "show_tokens",
          "save_figure"}


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_uses_the_shared_helpers_and_imports_at_the_top(lesson):
    """The helpers every lesson needs live once, in tinytx.course (not copied into the
    lessons), and every import sits at the top: before the imports only the docstring,
    `from __future__`, and setting environment variables that must precede NumPy."""
    source = lesson.read_text()
    tree = ast.parse(source, filename=str(lesson))
    copies = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in SHARED]
    assert not copies, f"{lesson.name} defines {copies}: use tinytx.course"
    assert "noqa: E402" not in source
    seen_code = None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            assert seen_code is None, (f"{lesson.name}:{node.lineno}: import after code "
                                       f"(line {seen_code})")
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                  or "os.environ" in ast.unparse(node)):
            seen_code = seen_code or node.lineno


# Where each tinytx name is taught (lessons/__init__.py's table, lesson by lesson)
TAUGHT_IN = {name: lesson for lesson, names in TEACHES.items() for name in names}


def tinytx_names(source: str) -> dict[str, int]:
    """The tinytx names a lesson's code uses -> the first line using each: what it imports
    from tinytx modules, and what it reads off the tinytx modules it imported (tx.tensor,
    nn.Linear, F.softmax, optim.AdamW). Modules themselves and tinytx.course's helpers
    are left out; names the lesson defines itself are its own, not tinytx's."""
    tree = ast.parse(source)
    modules, found = {}, {}

    def note(name, line):
        found[name] = min(found.get(name, line), line)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update({a.asname or a.name: a.name for a in node.names
                            if a.name.split(".")[0] == "tinytx"})
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinytx"):
            for a in node.names:
                obj = getattr(importlib.import_module(node.module), a.name)
                if isinstance(obj, types.ModuleType):
                    modules[a.asname or a.name] = obj.__name__
                elif node.module != "tinytx.course":
                    note(a.name, node.lineno)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            obj = getattr(importlib.import_module(modules[node.value.id]), node.attr, None)
            if obj is not None and not isinstance(obj, types.ModuleType):
                note(node.attr, node.lineno)
    return found


def early_uses(source: str, number: int, taught_in=TAUGHT_IN) -> list[str]:
    """The tinytx names lesson `number` uses before the lesson that teaches them, or that
    no lesson teaches, each as 'line N: name (lesson NN)' or 'line N: name (nowhere)'."""
    found = []
    for name, line in sorted(tinytx_names(source).items(), key=lambda item: item[1]):
        where = taught_in.get(name)
        if where is None or int(where[:2]) > number:
            taught = "nowhere" if where is None else f"lesson {where[:2]}"
            found.append(f"line {line}: {name} ({taught})")
    return found


def test_the_table_names_each_lesson_and_each_name_once():
    assert list(TEACHES) == [p.stem for p in LESSONS]
    names = [n for names in TEACHES.values() for n in names]
    assert len(names) == len(set(names)), sorted(n for n in set(names) if names.count(n) > 1)


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_uses_no_tinytx_name_before_it_is_taught(lesson):
    early = early_uses(lesson.read_text(), int(lesson.name[:2]))
    assert not early, f"{lesson.name} uses before they are taught (lessons.TEACHES): {early}"


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_uses_what_it_teaches(lesson):
    """The table is not a list of wishes: a lesson teaches only names its code uses."""
    unused = set(TEACHES[lesson.stem]) - set(tinytx_names(lesson.read_text()))
    assert not unused, f"lessons.TEACHES says {lesson.stem} teaches {sorted(unused)}, unused there"


def test_early_use_is_caught():
    """The check can fail: a lesson 05 that builds a Block, a GPT or a LayerNorm is caught
    (a comment does not excuse it), an untaught name is caught, a lesson's own class of a
    taught name's name is its own, and the same code passes in lesson 11."""
    lesson = ("import tinytx as tx\n"
              "from tinytx import nn\n"
              "from tinytx.models import GPT\n"
              "blk = nn.Block(8, 2)\n"
              "gpt = GPT(cfg)\n"
              "ln = nn.LayerNorm(8)   # (lesson 08 explains it)\n"
              "x = tx.tensor([1.0])\n")
    assert early_uses(lesson, 5) == ["line 3: GPT (lesson 11)", "line 4: Block (lesson 08)",
                                     "line 6: LayerNorm (lesson 08)"]
    assert early_uses(lesson, 11) == []
    assert early_uses("import tinytx.functional as F\ny = F.gelu(x)\n", 13) == [
        "line 2: gelu (nowhere)"]
    assert early_uses("class LayerNorm:\n    pass\nm = LayerNorm()\n", 0) == []


# -- the smoke-sized facts each lesson's text quotes ------------------------------------------
def close(a, b, tol=1e-6):
    return abs(a - b) <= tol


def facts_00(f):
    assert close(f["o"], math.sqrt(0.5), 1e-12)              # the neuron's output, 0.7071
    assert f["value_vs_central"] < 1e-7 and f["mlp_parameters"] == 41
    assert f["mlp_loss"][1] < f["mlp_loss"][0] / 100            # 3.590 -> 0.013 in 60 steps
    assert f["value_vs_tinytx"] < 1e-12 and f["array_vs_tinytx"] < 1e-12 and f["tanh_gradcheck"]


def facts_01(f):
    assert f["bigram_bpb"] < 8 and f["unigram_bpb"] < 8 and f["module_parameters"] == 67
    assert f["linear_vs_tinytx"] < 1e-12 and f["mlp_manual_vs_autograd"] < 1e-12
    assert f["embedding_vs_rows"] == 0                             # nn.Embedding: a row lookup
    assert f["ce_loss_vs_tinytx"] < 1e-12 and f["ce_grad_vs_tinytx"] < 1e-12
    assert close(f["uniform_loss"], math.log(256), 1e-12) and f["naive_overflows"]
    assert close(f["first_loss"], math.log(256), 0.5)              # near ln 256 at the start
    assert f["sgd_vs_tinytx"] < 1e-6 and f["momentum_vs_tinytx"] < 1e-6
    first, peak, last = f["schedule_lr"]
    assert first < peak and last < peak and 0 <= f["clipped_share"] <= 1
    assert all(b < 8 for b in f["held_out_bpb"].values()) and f["final_bpb"] < 8


def facts_02(f):
    assert f["x_grad"] == [2.0, 4.0, 6.0] and f["hs_shape"] == [2, 5, 4]
    assert f["cell_vs_hand"] == 0 and f["rnn_vs_hand"] < 1e-6
    assert f["bptt_dh"] < 1e-12 and f["bptt_dW"] < 1e-12
    assert f["gradcheck_cell"] and f["gradcheck_composed"] and f["wrong_backward_caught"]
    norms = f["norm_last_over_first"]
    assert norms["RNN"] < 1 and norms["RNN"] < norms["RNN, W x4"]  # 4W: more gradient
    assert f["sine_mse"][1] < f["sine_mse"][0] / 10


def facts_03(f):
    assert f["cell_vs_hand"] < 1e-6 and f["gates_in_0_1"]
    assert f["fused_vs_composed_forward"] < 1e-12 and f["fused_vs_composed_backward"] < 1e-12
    assert f["graph_ops"][1] < f["graph_ops"][0]                # fused: fewer ops
    assert all(0 <= a <= 1 for a in f["recall_accuracy"].values())
    norms = f["norm_last_over_first"]
    assert norms["RNN"] < norms["LSTM"] < 1                     # the RNN's gradient vanishes


def facts_04(f):
    assert f["hand_vs_library"] < 1e-6 and f["P_rows_sum_to_1"]
    assert f["masked_weights_zero"] and f["all_padding_output"] == 0
    assert all(close(s, 1.0, 0.05) for s in f["score_std_sqrt_D"])   # √D: spread 1 at any T
    short, long = f["score_std_sqrt_T"]
    assert short > 2 and long < 0.5                              # √T: depends on T


def facts_05(f):
    assert f["y_shape"] == [2, 5, 8] and f["hand_vs_composed"] == 0
    assert f["hand_vs_fused"] < 1e-6 and f["loop_vs_heads"] == 0
    assert f["parameters_per_H"] == [288] * 4                   # heads add no weights
    assert min(f["toy_accuracy"]) > 0.95                         # the toy reaches its target
    assert f["favourite_offsets"] == [1, 2]                      # one head per offset


def facts_06(f):
    assert f["slips_fail"] == [True] * 4 and f["fixed_same_merges"] and f["fixed_round_trip"]
    assert f["possessive_zero_or_one"]
    assert f["whitespace_chunks"] == ["Don", "'t", "  ", " go", "  \n", "now", "!", "   "]
    tokens = f["held_out_tokens"]
    assert tokens == sorted(tokens, reverse=True)                # a larger V: fewer tokens


def facts_07(f):
    assert f["lookup_vs_rows"] == 0 and f["lookup_vs_one_hot"] == 0
    assert f["unused_rows_zero"] and f["grad_rows_as_expected"] and f["vocabulary"] > 0


def facts_08(f):
    assert f["ln_row_means"] < 1e-5 and all(close(v, 1, 3e-3) for v in f["ln_row_vars"])
    assert f["ln_scale_invariance"] < 1e-2                       # up to eps
    assert f["block_parameters"] == [12704, 12704]              # 12·C² + 13·C for C = 32
    assert f["block_out_shape"] == [2, 5, 32]


def facts_09(f):
    lo, hi, expected = f["row_norms"]
    assert close(lo, expected, 1e-9) and close(hi, expected, 1e-9)
    assert f["rotation_error"] < 1e-12 and f["dot_spread"] < 1e-12
    assert f["permutation_error"] < 1e-5                         # no positions: a set
    assert set(f["token_accuracy"]) == {"none", "sinusoidal", "learned"}


def facts_10(f):
    same = f["same_decodes"]
    assert same["no mask, KV cache"] == 1.0                     # the mask changes nothing there
    assert same["no mask, whole prefix every step"] < 1.0       # ... and something here


def facts_11(f):
    assert f["xy_shifted"] and close(f["first_loss"], f["log_vocab"], 0.3)   # ln V at step 0
    assert all(shape[1] == shape[2] for shape in f["attention_shapes"])      # (H, T, T)
    assert f["attention_rows_sum_to_1"] and f["attention_causal"]
    for run, share in f["copied"].values():
        assert run >= 0 and 0 <= share <= 1
    assert f["copied"]["held-out passage of the book (baseline)"][0] > 0   # book text: found
    assert f["companion_parameters"] == 20_169_216     # = GPT(6 layers, 384 wide, V 24540)


def facts_12(f):
    assert math.isfinite(f["val_loss"]) and [r["width"] for r in f["beam"]] == [1, 2]
    assert f["layer_parameters"] == [3_152_384, 4_204_032]
    assert f["nb_nn_parameters"] == {"6+8": 56_642_560, "8+12": 79_763_456}


def facts_13(f):
    assert f["finetuned"] < f["pretrained, before"] and f["same_order_at_every_T"]
    assert f["beam_length"] > 0


def facts_14(f):
    sums, n = f["allreduce"], f["allreduce"]["n"]
    worlds = sorted({int(k.split("_")[1]) for k in sums if k != "n"})
    for W in worlds:
        assert sums[f"naive_{W}"]["error"] < 1e-12 and sums[f"ring_{W}"]["error"] < 1e-12
        assert sums[f"naive_{W}"]["busiest"] == (W - 1) * n * 8        # the root: (W-1)·n
        assert sums[f"ring_{W}"]["busiest"] == 2 * (W - 1) * n // W * 8   # 2(W-1)/W·n
        assert sums[f"naive_{W}"]["total"] == sums[f"ring_{W}"]["total"]
    shards = f["shards"]
    assert shards["equal_shards"] < 1e-12 and shards["unequal_weighted"] < 1e-12
    assert shards["unequal_plain"] > 1e-3              # unequal shards need their weights
    mpi = f["mpi"]
    if mpi["ran"]:
        assert mpi["max_diff"] < 1e-6 and mpi["buckets"] > 1
        assert mpi["started_during_backward"] > 0                 # communication overlaps
    else:
        assert "mpi4py" in mpi["skipped"], mpi          # says why, and what to install


FACTS = {p.stem: globals()[f"facts_{p.name[:2]}"] for p in LESSONS}


def test_lesson_14_without_mpi4py_says_why_and_skips_only_section_3(tmp_path):
    """Where mpi4py is missing (None in sys.modules: its import fails), sections 1 and 2
    still run and section 3 says what to install."""
    lesson = next(p for p in LESSONS if p.name.startswith("14_"))
    code = "import sys; sys.modules['mpi4py'] = None\n" + RUN_MAIN
    run = subprocess.run([sys.executable, "-c", code, str(lesson), "--smoke",
                          f"--out_dir={tmp_path}"], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "MPLBACKEND": "Agg"}, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "pip install -e '.[mpi]'" in run.stdout and "skipped" in run.stdout
    facts = json.loads((tmp_path / "facts.json").read_text())
    assert facts["mpi"]["ran"] is False
    facts_14(facts)


def test_fact_checks_can_fail():
    with pytest.raises(AssertionError):
        facts_05({"y_shape": [2, 5, 8], "hand_vs_composed": 0, "hand_vs_fused": 0,
                  "loop_vs_heads": 0, "parameters_per_H": [288] * 4,
                  "toy_accuracy": [1.0, 1.0], "favourite_offsets": [1, 1]})   # one job, twice
    with pytest.raises(AssertionError):
        facts_10({"same_decodes": {"no mask, KV cache": 0.9,
                                   "no mask, whole prefix every step": 0.5}})
    good = {"allreduce": {"n": 4, "naive_2": {"error": 0, "busiest": 32, "total": 64},
                          "ring_2": {"error": 0, "busiest": 32, "total": 64}},
            "shards": {"equal_shards": 0, "unequal_weighted": 0, "unequal_plain": 0.04},
            "mpi": {"ran": False, "skipped": "mpi4py is not installed"}}
    facts_14(good)
    for wrong in ({"shards": {**good["shards"], "unequal_plain": 1e-17}},   # no need of weights?
                  {"mpi": {"ran": False, "skipped": ""}},                     # no reason given
                  {"mpi": {"ran": True, "max_diff": 1e-3, "buckets": 5,
                           "started_during_backward": 5}}):
        with pytest.raises(AssertionError):
            facts_14({**good, **wrong})
