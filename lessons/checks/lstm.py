"""The checks of lesson 03's exercises (lessons/exercises/lstm.py), run by
`python -m lessons.check lstm`: the answer against tinytx's lstm_cell."""
import tinytx.functional as F
from tinytx.nn.recurrent import lstm_cell
from lessons.check import same_function


def coupled_by_lstm_cell(x, h_prev, c_prev, W, b):
    """tinytx's four-gate lstm_cell with the update gate's weights set to minus the forget
    gate's: Γ_u = σ(-z_f) = 1 - σ(z_f) = 1 - Γ_f."""
    W_f, W_o, W_c = F.split(W, W.shape[1] // 3, axis=1)          # (H+I, 3H) -> 3 × (H+I, H)
    b_f, b_o, b_c = F.split(b, b.shape[0] // 3, axis=0)
    return lstm_cell(x, h_prev, c_prev, F.concat([W_f, -W_f, W_o, W_c], axis=1),
                     F.concat([b_f, -b_f, b_o, b_c], axis=0))


def check_cifg_cell(cifg_cell):
    B, I, H = 3, 4, 5
    same_function(cifg_cell, coupled_by_lstm_cell, [(B, I), (B, H), (B, H), (H + I, 3 * H),
                                                    (3 * H,)])
    return ("(h_t, C_t) equal tinytx's lstm_cell with Γ_u = σ(-z_f) = 1 - Γ_f, forward and "
            "gradients (float64)")
