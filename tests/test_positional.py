"""Positional encodings: the report's sinusoidal table (§6.1) and learned positions."""
import numpy as np
import pytest

import tinytx as tx
from tinytx.nn import LearnedPositionalEmbedding, SinusoidalPositionalEncoding, sinusoidal_table


def test_table_is_sin_on_even_and_cos_on_odd_dimensions():
    T, C = 7, 6
    pe = sinusoidal_table(T, C)
    for pos in range(T):
        for i in range(C // 2):
            angle = pos / 10000 ** (2 * i / C)
            assert pe[pos, 2 * i] == pytest.approx(np.sin(angle))
            assert pe[pos, 2 * i + 1] == pytest.approx(np.cos(angle))


def test_odd_width_and_relative_positions_are_linear():
    assert sinusoidal_table(4, 5).shape == (4, 5)
    pe, k = sinusoidal_table(50, 8), 3
    # PE(pos + k) = PE(pos) @ M_k with M_k made of 2x2 rotations, the same for every pos
    M = np.linalg.lstsq(pe[:-k], pe[k:], rcond=None)[0]
    np.testing.assert_allclose(pe[:-k] @ M, pe[k:], atol=1e-9)


def test_sinusoidal_module_adds_the_table_from_start(device):
    enc = SinusoidalPositionalEncoding(4, max_len=10).to(device)
    x = tx.zeros(2, 3, 4, device=device)
    np.testing.assert_allclose(enc(x, start=2).numpy()[1], sinusoidal_table(10, 4)[2:5],
                               atol=1e-6)
    assert "pe" not in enc.state_dict()   # a fixed table, not saved
    with pytest.raises(ValueError, match="max_len is 10"):
        enc(tx.zeros(1, 11, 4, device=device))


def test_learned_positions_are_trained_rows(device):
    wpe = LearnedPositionalEmbedding(5, 3).to(device)
    out = wpe(2, start=1)
    assert out.shape == (2, 3)
    (out * 2).sum().backward()
    grad = wpe.weight.device.to_host(wpe.weight.grad)
    assert grad[[1, 2]].tolist() == [[2] * 3] * 2 and not grad[[0, 3, 4]].any()
    with pytest.raises(ValueError, match="block_size"):
        wpe(6)
