"""The lessons, their exercises (lessons/exercises/), the exercises' checks
(lessons/checks/), our answers (lessons/solutions/) and the checker
(python -m lessons.check NN)."""
