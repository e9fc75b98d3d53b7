"""The suite does not depend on the user's environment (tests/conftest.py isolates it).

A few test files run again in a subprocess with odd values for what a user may have set:
TINYTX_DATA_DIR and the cache pointing at a wrong "book", HOME somewhere else, odd thread
counts, the fused kernels switched off.
"""
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FILES = ["test_data.py", "test_checkpoint.py", "test_tensor.py", "test_crash.py"]


def test_suite_ignores_the_users_environment(tmp_path):
    odd = tmp_path / "odd"
    (odd / "cache" / "tinytx").mkdir(parents=True)
    for folder in (odd, odd / "cache" / "tinytx"):   # a "book" that is not the book
        (folder / "quixote.txt").write_text("not the book\n")
    env = {**os.environ, "TINYTX_DATA_DIR": str(odd), "XDG_CACHE_HOME": str(odd / "cache"),
           "HOME": str(odd / "home"), "TINYTX_MALLOC_TUNE": "0", "TINYTX_FUSED": "0",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "3", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *[str(TESTS / f) for f in FILES]], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "[100%]" in run.stdout   # the tests ran (returncode 5 would mean none did)
