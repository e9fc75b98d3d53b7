"""Our answers to the lessons' exercises (lessons/exercises/), the same function names.

Read one after trying; `python -m lessons.check NN --solutions` runs the checks on them."""
