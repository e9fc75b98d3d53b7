"""lessons/record.py: comparing two outputs of a lesson number by number, times ignored;
recording a lesson's --smoke run and checking a fresh one against it; a failing lesson
writes nothing."""
import numpy as np
import pytest

from lessons import record
from lessons.record import first_difference

OUTPUT = """\
== 2. A tiny MLP trained with Value ======================================
MLP with 41 parameters: loss 3.590 -> 0.0131 in 60 steps
  SGD                  after 40 steps: held-out 5.572 bits per byte (train 5.268; 0.1 s)
  do/dw2 = +0.0000; max |difference| 0.0e+00
        lr norm       loss (first 2)   loss (last 2)  held-out loss     s
     0.001 pre-LN              5.672           5.203          5.084   0.1
done in 1.3 s
"""


def replaced(text, old, new):
    assert old in text
    return text.replace(old, new, 1)


def test_identical_outputs_match():
    assert first_difference(OUTPUT, OUTPUT) is None


# (recorded, fresh): each lesson's way of printing a time or a speed, as the lessons print it
TIMINGS = [
    ("(train 5.268; 0.1 s)", "(train 5.268; 12.3 s)"),                                 # 01
    ("done in 1.3 s", "done in 104.9 s"),                                               # 01-05
    ("composed 46.1 ms, fused 15.4 ms (3.0x)", "composed 91.0 ms, fused 20.2 ms (4.5x)"),  # 03
    ("RNN time / attention time: T=8: 2.19, T=16: 5.12",                               # 05
     "RNN time / attention time: T=8: 1.19, T=16: 7.12"),
    ("(4x longer) the time grew: RNN 6x, LSTM 10x",                                     # 05
     "(4x longer) the time grew: RNN 9x, LSTM 12x"),
    ("per sequential step at T=32: RNN 309 µs", "per sequential step at T=32: RNN 1,012 µs"),
    ("(run-to-run spread at T=256: up to 14% of the mean)",                             # 05
     "(run-to-run spread at T=256: up to 4% of the mean)"),
    ("   0 s, 46,134 tokens/s", "   13 s, 7,299 tokens/s"),                             # 11
    ("bucket 4: all-reduce started at    7.7 ms (during backward), seen done at   39.7 ms",
     "bucket 4: all-reduce started at   17.7 ms (after backward), seen done at   19.7 ms"),
    ("    T |   RNN ms  LSTM ms\n    8 |     1.56     1.92\n   16 |     4.11     7.19",
     "    T |   RNN ms  LSTM ms\n    8 |    11.56     0.92\n   16 |     4.11   107.19"),
    ("     T      impl        ms | speed-up\n    64  composed       2.7 |    1.00x\n"
     "    64     fused       2.6 |    1.04x",
     "     T      impl        ms | speed-up\n    64  composed       5.2 |    1.00x\n"
     "    64     fused       2.1 |    2.48x"),                                          # 05
    ("   width   BLEU   chrF  seconds\n       1   0.50   7.49      0.0",               # 12
     "   width   BLEU   chrF  seconds\n       1   0.50   7.49     10.3"),
]


@pytest.mark.parametrize("recorded, fresh", TIMINGS)
def test_outputs_that_differ_only_in_times_match(recorded, fresh):
    assert first_difference(recorded, fresh) is None


@pytest.mark.parametrize("old, new", [
    ("5.572", "5.600"),            # 0.5%
    ("0.0131", "0.0132"),          # one unit in the last digit printed
    ("0.0e+00", "2.2e-16"),        # float64 round-off
    ("+0.0000", "-0.0000"),
])
def test_numbers_within_the_tolerance_match(old, new):
    assert first_difference(OUTPUT, replaced(OUTPUT, old, new)) is None


@pytest.mark.parametrize("old, new", [
    ("5.572", "5.900"),            # 6% more
    ("41 parameters", "44 parameters"),
    ("0.0e+00", "1.0e-06"),
    ("5.203", "4.203"),            # a number in a row of a table with a time column
])
def test_a_number_beyond_the_tolerance_differs(old, new):
    fresh = replaced(OUTPUT, old, new)
    line = next(i for i, s in enumerate(fresh.splitlines(), 1) if new in s)
    assert first_difference(OUTPUT, fresh) == (line, OUTPUT.splitlines()[line - 1],
                                               fresh.splitlines()[line - 1])


def test_a_number_that_only_looks_like_a_time_is_compared():
    """Lesson 01 prints bytes as b'or\\xe2\\x80\\x99s w': its "99s" is no time."""
    assert first_difference(r"b'\x99s w'", r"b'\x10s w'") == (1, r"b'\x99s w'",
                                                                r"b'\x10s w'")


@pytest.mark.parametrize("old, new", [("bits per byte", "bits per token"),
                                      ("SGD ", "Adam "), ("(train", "(val")])
def test_a_changed_word_differs(old, new):
    assert first_difference(OUTPUT, replaced(OUTPUT, old, new))[0] == 3


def test_a_missing_line_differs():
    shorter = OUTPUT.replace("done in 1.3 s\n", "")
    assert first_difference(OUTPUT, shorter) == (7, "done in 1.3 s", "(no more lines)")


def test_smoke_records_need_their_own_folder(capsys):
    with pytest.raises(SystemExit):
        record.main(["00", "--smoke"])
    assert "--out" in capsys.readouterr().err


def test_a_smoke_record_then_its_check(tmp_path, capsys):
    assert record.main(["00", "--smoke", f"--out={tmp_path}"]) == 0
    fields, output = record.read_record(tmp_path / "00_autograd.txt")
    assert fields["command"] == (f"python lessons/00_autograd.py --smoke "
                                 f"--out_dir={tmp_path.resolve() / '00_autograd'}")
    assert fields["numpy"] == np.__version__ and fields["wall time"].endswith(" s")
    assert fields["date"] and fields["commit"] and fields["cpu"]
    assert output.startswith("\n== 1. A scalar Value") and "MLP with 41 parameters" in output
    assert "| 00_autograd |" in (tmp_path / "README.md").read_text()
    capsys.readouterr()

    assert record.main(["00", "--check", "--smoke", f"--out={tmp_path}"]) == 0
    assert "00_autograd: MATCH" in capsys.readouterr().out

    path = tmp_path / "00_autograd.txt"
    path.write_text(replaced(path.read_text(), "MLP with 41", "MLP with 57"))
    assert record.main(["autograd", "--check", "--smoke", f"--out={tmp_path}"]) == 1
    said = capsys.readouterr().out
    assert "00_autograd: DIFFERS" in said and "MLP with 57" in said and "MLP with 41" in said


def test_a_failing_lesson_writes_nothing_and_is_named(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "00_fine.py").write_text("print('fine: 1.0')\n")
    (folder / "01_broken.py").write_text("print('half of it')\nraise SystemExit('broken')\n")
    out = tmp_path / "expected"
    out.mkdir()
    old = record.header("python lessons/01_broken.py", 1.0) + "the output it had\n"
    (out / "01_broken.txt").write_text(old)
    monkeypatch.setattr(record, "lesson_files", lambda: sorted(folder.glob("*.py")))
    assert record.main([f"--out={out}"]) == 1
    said = capsys.readouterr().out
    assert "01_broken: FAILED" in said and "broken" in said.splitlines()[-1]
    assert (out / "01_broken.txt").read_text() == old
    assert record.read_record(out / "00_fine.txt")[1] == "fine: 1.0\n"
    assert sorted(p.name for p in out.iterdir()) == ["00_fine.txt", "01_broken.txt",
                                                     "README.md"]


def test_the_readme_quotes_the_recorded_wall_times():
    """README.md's lesson table and its course total are copies of the records' headers
    (lessons/expected/), to the second and to the tenth of a minute."""
    import re
    from pathlib import Path

    from lessons.check import lesson_files
    root = Path(record.__file__).resolve().parents[1]
    seconds = {p.stem[:2]: float(record.read_record(p)[0]["wall time"].split()[0])
               for p in sorted((root / "lessons" / "expected").glob("[0-9][0-9]_*.txt"))}
    assert sorted(seconds) == [p.stem[:2] for p in lesson_files()], "a lesson has no record"
    readme = (root / "README.md").read_text(encoding="utf-8")
    quoted = dict(re.findall(r"^\| (\d\d) \w+ \|.*\| (\d+) s \|$", readme, re.M))
    assert quoted == {n: str(round(s)) for n, s in seconds.items()}
    total = re.search(r"whole\s+course\s+took\s+([\d.]+)\s+minutes", readme)
    assert total and total.group(1) == f"{sum(seconds.values()) / 60:.1f}"


def test_a_time_column_continues_past_a_line_that_is_only_a_timing():
    """Lesson 05's table: a "(run-to-run spread ...)" note between its T=256 and T=1024
    rows; the ms column below it is still times, the other numbers still compared."""
    table = ("     T      impl        ms  peak MiB\n"
             "   256  composed       7.3      12.6\n"
             "       (run-to-run spread at T=256: up to 14% of the mean)\n"
             "  1024  composed     129.8     195.1\n")
    slower = table.replace("129.8", "146.1").replace("14%", "4%")
    assert first_difference(table, slower) is None
    assert first_difference(table, slower.replace("195.1", "250.0")) is not None
