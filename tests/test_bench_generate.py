"""bench/generate.py's hand-written NumPy loop (the floor a NumPy engine could reach) runs
the same model as tinytx: the same greedy tokens, through cached steps and the refill
when the context is full, so its column in the benchmark measures the same work."""
import numpy as np
import pytest

from project_scripts import load_script


@pytest.mark.parametrize("batch, use_cache", [(1, True), (2, True), (2, False)])
def test_the_hand_written_numpy_loop_gives_tinytx_tokens(batch, use_cache):
    bench = load_script("bench/generate.py", "bench_generate")
    block, n = 24, 12                       # 16-token prompts: the last 4 steps refill
    ours = bench.tinytx_runner()(block, batch, n, use_cache)
    floor = bench.numpy_runner()(block, batch, n, use_cache)
    assert ours.shape == (batch, bench.PROMPT + n)
    np.testing.assert_array_equal(floor, ours)
