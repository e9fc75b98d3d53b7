"""Lesson 03's exercises (the LSTM): a cell with coupled input and forget gates.

Write your answer in the function below, replacing `raise NotImplementedError`; then run
`python -m lessons.check lstm` (the checks are in lessons/checks/lstm.py).
"""
import tinytx.functional as F            # noqa: F401 (for your answer)


# -- your answers --------------------------------------------------------------------------
def cifg_cell(x, h_prev, c_prev, W, b):
    """One step of an LSTM with coupled input and forget gates ("CIFG", one of the variants
    Greff et al. 2017 compare in "LSTM: A Search Space Odyssey"): the update gate is not
    learned but set to 1 - Γ_f, so the cell writes exactly as much as it forgets.
    With tinytx ops -> (h_t, C_t):

        z = [h_{t-1}, x_t] W + b, cut into three (B, H) slices in the order f, o, c
        Γ_f, Γ_o = σ(z_f), σ(z_o);   C̃_t = tanh(z_c)
        C_t = Γ_f ⊗ C_{t-1} + (1 - Γ_f) ⊗ C̃_t;   h_t = Γ_o ⊗ tanh(C_t)

    Shapes: x (B, I), h_prev (B, H), c_prev (B, H), W (H+I, 3H), b (3H,) -> two (B, H).
    """
    raise NotImplementedError("your answer here")
