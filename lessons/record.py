"""Record what each lesson prints on a full run, and check a fresh run against the record.

Run from the repository root:

    python -m lessons.record                 # every lesson, in order (~20 min on 2 cores)
    python -m lessons.record 03 attention    # some lessons, by number or slug
    python -m lessons.record --check         # rerun them, compare with the records
    python -m lessons.record 00 --smoke --out=/tmp/rec   # --smoke runs, records in /tmp/rec

Each lesson runs as a user runs it, `python lessons/NN_slug.py` in a fresh process (this
interpreter, from the repository root), and `lessons/expected/NN_slug.txt` gets a short
header (command, date, commit, CPU, NumPy, wall time) and then the lesson's stdout,
exactly as printed. Then `lessons/expected/README.md`, the table of wall times that the
README's lesson table quotes, is rebuilt from all the records' headers. A lesson that
fails writes nothing (the record it had stays) and the tool exits 1 naming it. The
lessons' docstrings quote abridged excerpts of these records.

`--check` compares number by number (`first_difference`): both outputs are cut into text
and numbers; the text must be the same (runs of spaces count as one, since columns widen
with their numbers) and two numbers match when they differ by at most 5% of the larger,
or by one unit of the last digit printed when they have decimals or an exponent (0.0131
and 0.0132 may be one value, rounded), or by 1e-12 (float64 round-off: 0.0e+00 against
2.2e-16). An integer gets no such unit (it is most often a count): only the 5%.
Times and speeds are not compared (`TIMINGS`, `TIME_COLUMN`).

`--smoke` runs the lessons with `--smoke`, their pictures going to `OUT/NN_slug/`; it
needs `--out=DIR`, so that smoke records never replace the full ones. It lets the tests
try this tool in seconds.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tinytx.files import atomic_write_text

from .check import find_lesson, lesson_files

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ROOT / "lessons" / "expected"
END_OF_HEADER = "# --- the lesson's stdout follows, exactly as it printed it ---\n"

NUMBER = r"(?:(?<![\w)\]])[-+])?\d+(?:,\d{3}(?!\d))*(?:\.\d+)?(?:[eE][-+]?\d+)?"
RTOL, ROUND_OFF = 0.05, 1e-12
# What the lessons print that depends on the machine's speed, never compared (a number
# whole, not one after a letter: the "99s" of a printed byte string "\x99s" is no time):
TIMINGS = re.compile("|".join(rf"(?<![\w.,\\]){pattern}" for pattern in (
    rf"{NUMBER}\s*(?:s|ms|µs)\b",          # (0.1 s)  done in 1.3 s  46.1 ms  309 µs
    rf"{NUMBER}\s*(?:tokens|steps|it)/s",  # 46,134 tokens/s (lesson 11)
    rf"\({NUMBER}x\)",                     # composed ms / fused ms (lesson 03)
    r"\btime (?:/|grew).*",                # ratios of times, to the line's end (lesson 05)
    r"\brun-to-run spread.*",              # how much the times varied (lesson 05)
    r"\((?:during|after) backward\)",      # when a bucket's all-reduce began (lesson 14)
)))
# A table's column headed by a time ("RNN ms", "train s", "seconds", "speed-up"; lessons
# 05, 06, 08, 09, 12): a word after a space after a non-digit ("0.1 s" is a unit). The
# numbers that end where it ends (right-aligned, "1.00x" too) are times, in the lines
# below it up to the first that has none.
TIME_COLUMN = re.compile(r"(?<![\d\s])\s+(ms|s|µs|seconds|speed-up)(?!\S)")
CELL = NUMBER + "x?"


# -- running a lesson -----------------------------------------------------------------------
def run_lesson(lesson: Path, smoke: bool, out: Path):
    """Run `python lessons/NN_slug.py` from the repository root (with --smoke: also
    `--smoke --out_dir=OUT/NN_slug`) -> (command, the finished process, wall seconds)."""
    path = lesson.relative_to(ROOT) if lesson.is_relative_to(ROOT) else lesson
    args = [str(path)] + (["--smoke", f"--out_dir={out / lesson.stem}"] if smoke else [])
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True,
                          encoding="utf-8", errors="replace",
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    return " ".join(["python", *args]), done, time.perf_counter() - start


def failure(lesson: Path, done) -> str:
    """What to print when a lesson exits non-zero: its name, status and last words."""
    return (f"{lesson.stem}: FAILED (exit status {done.returncode}); its stderr ends:\n"
            f"{done.stderr[-2000:]}")


def cpu_model() -> str:
    """The CPU's name (from /proc/cpuinfo on Linux, else `platform`) and its cores."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    names = re.findall(r"^model name\s*:\s*(.+)$", info, flags=re.MULTILINE)
    name = names[0] if names else platform.processor() or platform.machine()
    return f"{name}, {os.cpu_count()} cores"


def commit() -> str:
    """`git rev-parse --short HEAD` of the repository, or "unknown" outside git."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True)
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


# -- the records ----------------------------------------------------------------------------
def header(command: str, seconds: float) -> str:
    """A record's first lines: how, when, where and how long the lesson ran."""
    fields = {"command": command, "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
              "commit": commit(), "cpu": cpu_model(), "numpy": np.__version__,
              "wall time": f"{seconds:.1f} s"}
    return "".join(f"# {key}: {value}\n" for key, value in fields.items()) + END_OF_HEADER


def read_record(path: Path) -> tuple[dict, str]:
    """A record file -> ({header field: value}, the lesson's stdout)."""
    head, found, output = path.read_text(encoding="utf-8").partition(END_OF_HEADER)
    if not found:
        raise SystemExit(f"lessons.record: {path} is not a record (no line "
                         f"{END_OF_HEADER.strip()!r})")
    fields = dict(line[2:].split(": ", 1) for line in head.splitlines())
    return fields, output


TABLE = """# What the lessons print: recorded full runs

Each `NN_slug.txt` here is the output of one lesson's full run, `python lessons/NN_slug.py`
from the repository root: a header (the command, date, commit, CPU, NumPy, wall time),
then the lesson's stdout exactly as it printed it. The lessons' docstrings quote abridged
excerpts of these files, README.md's lesson table copies its "full run" column from the
table below, and docs/measured.md points here. To regenerate them, on a quiet machine:

    python -m lessons.record            # every lesson in order (or name some: 03 attention)
    python -m lessons.record --check    # rerun, compare with these files number by number

| lesson | wall time | date | commit |
|---|---:|---|---|
{rows}
| whole course | {total:,.0f} s = {minutes:.1f} min | | |

Measured on: {machines}.
"""


def write_table(out: Path):
    """Rebuild OUT/README.md, the wall-time table, from the records' headers."""
    records = {p.stem: read_record(p)[0] for p in sorted(out.glob("[0-9][0-9]_*.txt"))}
    seconds = {name: float(f["wall time"].split()[0]) for name, f in records.items()}
    rows = [f"| {name} | {seconds[name]:,.1f} s | {f['date'][:10]} | {f['commit']} |"
            for name, f in records.items()]
    machines = sorted({f"{f['cpu']}, NumPy {f['numpy']}" for f in records.values()})
    total = sum(seconds.values())
    atomic_write_text(out / "README.md", TABLE.format(
        rows="\n".join(rows), total=total, minutes=total / 60, machines="; ".join(machines)))


def record(lessons: list[Path], out: Path, smoke: bool = False) -> list[str]:
    """Run each lesson and write OUT/NN_slug.txt, then OUT/README.md -> the failed ones."""
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    for lesson in lessons:
        command, done, seconds = run_lesson(lesson, smoke, out)
        if done.returncode != 0:
            print(failure(lesson, done))
            failed.append(lesson.stem)
            continue
        path = atomic_write_text(out / f"{lesson.stem}.txt", header(command, seconds) +
                                 done.stdout)
        print(f"{lesson.stem}: {seconds:.1f} s, recorded in {path}", flush=True)
    write_table(out)
    return failed


# -- comparing two runs ---------------------------------------------------------------------
def masked(lines: list[str]) -> list[str]:
    """The lines with every time and speed (TIMINGS, a TIME_COLUMN's cells) replaced by
    "<time>"."""
    result, column_ends = [], []
    for line in lines:
        heads = [m.end(1) for m in TIME_COLUMN.finditer(line)]
        cells = [m for m in re.finditer(CELL, line) if m.end() in column_ends]
        timing_note = not re.search(NUMBER, TIMINGS.sub("", line)) and TIMINGS.search(line)
        if not timing_note:                 # a line that is only a timing keeps the table
            column_ends = heads or (column_ends if cells else [])
        for m in reversed(cells):                   # right to left: the spans stay valid
            line = line[:m.start()] + "<time>" + line[m.end():]
        result.append(TIMINGS.sub("<time>", line))
    return result


def last_digit(number: str) -> float:
    """One unit in the last digit printed: 0.001 for "5.572", 1e-07 for "1.2e-06"; 0 for
    an integer (a count more often than a rounded value) or a zero in e-notation."""
    mantissa, _, exponent = number.replace(",", "").lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    if not (decimals or exponent) or (exponent and float(mantissa) == 0):
        return 0.0
    return 10.0 ** (int(exponent or 0) - decimals)


def same_number(recorded: str, fresh: str) -> bool:
    a, b = (float(n.replace(",", "")) for n in (recorded, fresh))
    return abs(a - b) <= max(RTOL * max(abs(a), abs(b)), last_digit(recorded),
                             last_digit(fresh), ROUND_OFF)


def same_line(recorded: str, fresh: str) -> bool:
    """Whether two masked lines have the same text and the same numbers (see above)."""
    a, b = re.split(f"({NUMBER})", recorded), re.split(f"({NUMBER})", fresh)
    return len(a) == len(b) and all(
        same_number(x, y) if i % 2 else x.split() == y.split()
        for i, (x, y) in enumerate(zip(a, b)))


def first_difference(recorded: str, fresh: str) -> tuple[int, str, str] | None:
    """Where two outputs of a lesson first differ, beyond times and the tolerance ->
    (line number from 1, recorded line, fresh line), a missing line given as
    "(no more lines)"; None when they match.

        >>> first_difference("loss 2.345 (0.5 s)", "loss 2.346 (0.9 s)") is None
        True
        >>> first_difference("a\\nloss 2.345", "a\\nloss 3.000")
        (2, 'loss 2.345', 'loss 3.000')
    """
    a, b = recorded.splitlines(), fresh.splitlines()
    pairs = itertools.zip_longest(masked(a), masked(b))
    for i, (x, y) in enumerate(pairs):
        if x is None or y is None or not same_line(x, y):
            return (i + 1, a[i] if x is not None else "(no more lines)",
                    b[i] if y is not None else "(no more lines)")
    return None


def check(lessons: list[Path], out: Path, smoke: bool = False) -> list[str]:
    """Rerun each lesson and compare its stdout with OUT/NN_slug.txt -> those that
    differ, fail or have no record."""
    bad = []
    for lesson in lessons:
        path = out / f"{lesson.stem}.txt"
        if not path.exists():
            print(f"{lesson.stem}: no record {path} (python -m lessons.record "
                  f"{lesson.stem[:2]} makes it)")
            bad.append(lesson.stem)
            continue
        fields, recorded = read_record(path)
        _, done, seconds = run_lesson(lesson, smoke, out)
        if done.returncode:
            print(failure(lesson, done))
            bad.append(lesson.stem)
            continue
        diff = first_difference(recorded, done.stdout)
        if diff:
            line, was, now = diff
            print(f"{lesson.stem}: DIFFERS from line {line} on\n  recorded: {was}\n"
                  f"  fresh:    {now}")
            bad.append(lesson.stem)
        else:
            print(f"{lesson.stem}: MATCH ({seconds:.1f} s; recorded {fields['wall time']})",
                  flush=True)
    return bad


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lessons.record",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="numbers or slugs (default: all)")
    parser.add_argument("--check", action="store_true", help="compare with the records")
    parser.add_argument("--smoke", action="store_true", help="--smoke runs (needs --out)")
    parser.add_argument("--out", type=Path, help=f"records' folder (default {EXPECTED})")
    args = parser.parse_args(argv)
    if args.smoke and args.out is None:
        parser.error("--smoke needs --out=DIR: smoke records must not replace the full "
                     "ones in lessons/expected/")
    lessons = [find_lesson(w) for w in args.lessons] or lesson_files()
    out = (args.out or EXPECTED).resolve()        # the lessons run from the repository root
    bad = (check if args.check else record)(lessons, out, args.smoke)
    if bad:
        print(f"lessons.record: {'not matching' if args.check else 'failed'}: "
              f"{', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
