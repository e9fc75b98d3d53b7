"""Lesson 02's exercises (the LSTM): the cell's gates, in the report's words.

Write your answer in the function below, replacing `raise NotImplementedError`; then run
`python -m lessons.check lstm`.
"""
from tinytx.nn.recurrent import lstm_cell as tinytx_lstm_cell
from lessons.check import same_function


# -- your answers --------------------------------------------------------------------------
def lstm_cell(x, h_prev, c_prev, W, b):
    """One LSTM step with tinytx ops -> (h_t, C_t):

        z = [h_{t-1}, x_t] W + b, cut into four (B, H) slices in the order f, u, o, c
        Γ_f, Γ_u, Γ_o = σ(z_f), σ(z_u), σ(z_o);   C̃_t = tanh(z_c)
        C_t = Γ_f ⊗ C_{t-1} + Γ_u ⊗ C̃_t;          h_t = Γ_o ⊗ tanh(C_t)

    Shapes: x (B, I), h_prev (B, H), c_prev (B, H), W (H+I, 4H), b (4H,) -> two (B, H).
    Hint: F.concat, @, F.split(z, H, axis=-1), F.sigmoid, F.tanh.
    """
    raise NotImplementedError("your answer here")


# -- the checks, run by `python -m lessons.check lstm`: no need to edit below --------------
def check_lstm_cell(lstm_cell):
    B, I, H = 3, 4, 5
    same_function(lstm_cell, tinytx_lstm_cell, [(B, I), (B, H), (B, H), (H + I, 4 * H),
                                                (4 * H,)])
    return "(h_t, C_t) equal tinytx's lstm_cell, forward and gradients (float64)"
