"""Where each wrong exercise answer says what it is wrong for: `@wrong(lesson, function,
kind)` above its definition (tests/wrong_answers_*.py) adds it to WRONG, which
tests/test_exercises.py feeds to the checks. kind: "consistent" (self-consistent but
wrong: its gradients agree with its own central differences) or "slip"."""
WRONG = []          # (exercise file, function, kind, the wrong answer)


def wrong(lesson: str, function: str, kind: str):
    assert kind in ("consistent", "slip"), kind

    def register(answer):
        WRONG.append((lesson, function, kind, answer))
        return answer
    return register
