"""The lessons' exercises: every lesson ends with an Exercises section; every exercise with
code has a stub, a check and our answer; the answer passes its check, the stub does not,
and a plausible wrong answer fails too (so the checks can fail). `python -m lessons.check`
reports the same.
"""
import ast
import importlib
import math

import numpy as np
import pytest

import tinytx.functional as F
from lessons import check

LESSONS = check.lesson_files()
NAMES = [check.exercise_name(p) for p in LESSONS]
EXERCISES = [(name, function) for name in NAMES if name
             for function, _ in check.checks(name)]


def docstring(lesson):
    return ast.get_docstring(ast.parse(lesson.read_text(encoding="utf-8")))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lesson_ends_with_two_to_four_exercises(lesson):
    doc = docstring(lesson)
    lines = doc.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Exercises")]
    assert starts, f"{lesson.name}: no line starting with 'Exercises' in its docstring"
    items = [line for line in lines[starts[-1]:] if line[:5].strip()[:-1].isdigit()
             and line.strip()[1:3] == ". "]
    assert 2 <= len(items) <= 4, f"{lesson.name}: {len(items)} exercises, expected 2 to 4"
    assert [int(line.strip()[0]) for line in items] == list(range(1, len(items) + 1))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lesson_names_its_exercises_stubs_and_solutions(lesson):
    name = check.exercise_name(lesson)
    assert name, f"{lesson.name}: its Exercises section names no lessons/exercises/*.py"
    stubs = importlib.import_module(f"lessons.exercises.{name}")
    ours = importlib.import_module(f"lessons.solutions.{name}")
    functions = [f for f, _ in check.checks(name)]
    assert functions, f"lessons/exercises/{name}.py has no check_* function"
    for f in functions:
        assert callable(getattr(stubs, f, None)), f"lessons/exercises/{name}.py lacks {f}"
        assert callable(getattr(ours, f, None)), f"lessons/solutions/{name}.py lacks {f}"
        assert f"`{f}(" in docstring(lesson), f"{lesson.name} does not ask for `{f}(`"


def test_exercise_files_have_distinct_names():
    assert len(set(NAMES)) == len(NAMES), f"two lessons share an exercises file: {NAMES}"


@pytest.mark.parametrize("name, function", EXERCISES, ids=[f"{n}.{f}" for n, f in EXERCISES])
def test_our_answer_passes_and_the_stub_does_not(name, function):
    checks = dict(check.checks(name))
    stub = getattr(importlib.import_module(f"lessons.exercises.{name}"), function)
    ours = getattr(importlib.import_module(f"lessons.solutions.{name}"), function)
    status, message = check.run_check(checks[function], ours)
    assert status == "PASS", f"our {name}.{function}: {status} {message}"
    # TODO, not FAIL: the check got as far as calling the learner's function
    assert check.run_check(checks[function], stub)[0] == "TODO"


# -- plausible mistakes each check must catch ----------------------------------------------
def attention_unscaled(q, k, v, causal):
    mask = F.causal_mask(q.shape[1]) if causal else None
    return F.scaled_dot_product_attention(q, k, v, mask=mask, similarity="dot")


def attention_scaled_by_length(q, k, v, causal):                # the report's √N
    mask = F.causal_mask(q.shape[1]) if causal else None
    return F.scaled_dot_product_attention(q, k, v, mask=mask, scale=1 / math.sqrt(q.shape[1]))


def split_heads_by_reshape(x, n_head):                          # right shape, wrong numbers
    B, T, C = x.shape
    return x.reshape(B, n_head, T, C // n_head)


def train_bpe_as_printed(text, vocab_size):                     # merges[pair] = i
    from lessons.solutions.tokenization import get_stats, merge
    ids, merges = list(text.encode()), {}
    for i in range(vocab_size - 256):
        pair = max(get_stats(ids), key=get_stats(ids).get)
        merges[pair] = i
        ids = merge(ids, pair, i)
    return merges


def relu_overwriting(x):                                         # = instead of +=
    out = type(x)(max(0.0, x.data), (x,), "relu")

    def _backward():
        x.grad = (x.data > 0) * out.grad
    out._backward = _backward
    return out


def power_without_chain_rule(x, k):                              # forgets * out.grad
    out = type(x)(x.data ** k, (x,), f"**{k}")

    def _backward():
        x.grad += k * x.data ** (k - 1)
    out._backward = _backward
    return out


def padding_mask_inverted(lengths, S):                           # PyTorch's "True at padding"
    return np.arange(S)[None, :] >= np.asarray(lengths)[:, None]


def top_k_keeping_smallest(logits, k):
    kth = np.sort(logits, axis=-1)[..., k - 1, None]
    return np.where(logits > kth, -np.inf, logits)


WRONG = [("attention", "attention", attention_unscaled),
         ("attention", "attention", attention_scaled_by_length),
         ("multihead", "split_heads", split_heads_by_reshape),
         ("tokenization", "train_bpe", train_bpe_as_printed),
         ("autograd", "relu", relu_overwriting),
         ("autograd", "power", power_without_chain_rule),
         ("cross_attention", "padding_mask", padding_mask_inverted),
         ("gpt_quixote", "top_k_filter", top_k_keeping_smallest)]


@pytest.mark.parametrize("name, function, wrong", WRONG, ids=[w.__name__ for *_, w in WRONG])
def test_a_wrong_answer_fails_its_check(name, function, wrong):
    status, message = check.run_check(dict(check.checks(name))[function], wrong)
    assert status == "FAIL" and message, (status, message)


# -- the command ---------------------------------------------------------------------------
def test_the_command_reports_each_exercise(capsys):
    assert check.main(["03"]) == 1                          # the stubs: still to do
    out = capsys.readouterr().out
    assert "0 of 2 pass, 2 still to do" in out and "TODO  attention" in out
    assert check.main(["attention", "--solutions"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 pass" in out and "PASS  causal_mask" in out


def test_a_lesson_is_found_by_number_slug_or_exercises_name():
    assert check.find_lesson("3") == check.find_lesson("03") == check.find_lesson("attention")
    assert check.find_lesson("cross_attention").stem.endswith("encoder_decoder")
    with pytest.raises(SystemExit, match="no lesson 'nonesuch'"):
        check.find_lesson("nonesuch")
