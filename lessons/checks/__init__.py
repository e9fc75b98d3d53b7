"""The checks of the lessons' exercises, one file per exercises file, with its name:
`check_<function>(answer)` compares an answer with a reference of its own (tinytx's op,
analytic values or a naive loop), never with the answer itself. Run them with
`python -m lessons.check NN` (see lessons/check.py)."""
