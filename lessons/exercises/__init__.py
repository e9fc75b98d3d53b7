"""Your answers to the lessons' exercises: one file per lesson, named in its docstring.

Check them with `python -m lessons.check NN` (see lessons/check.py)."""
