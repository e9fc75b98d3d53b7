"""The lessons, their exercises (lessons/exercises/), our answers (lessons/solutions/)
and the checker (python -m lessons.check NN)."""
