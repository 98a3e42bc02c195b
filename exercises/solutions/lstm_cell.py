"""Exercise 6: the LSTM cell, forward and backward, with a forget bias (lessons 5 and 9).

The four gates are packed side by side in the columns of W_x (D, 4H), W_h (H, 4H) and b (4H,), in the
order i, f, g, o (columns 0..H-1 are i, H..2H-1 are f, and so on):
    a = x @ W_x + h_prev @ W_h + b                    (B, 4H)
    i = sigmoid(a_i),  f = sigmoid(a_f + forget_bias),  g = tanh(a_g),  o = sigmoid(a_o)
    c_next = f * c_prev + i * g,  h_next = o * tanh(c_next)
The forget bias (usually 1.0) keeps f near 1 at the start, so the cell remembers by default.
sigmoid'(a) = s * (1 - s) with s = sigmoid(a); tanh'(a) = 1 - tanh(a)**2.
"""

import numpy as np

from tinygrad_seq import Function


def sigmoid(a):  # given
    """1 / (1 + exp(-a)), elementwise."""
    return 1.0 / (1.0 + np.exp(-a))


class LSTMCell(Function):
    """One LSTM step as a graph node: LSTMCell.apply(x, h_prev, c_prev, W_x, W_h, b, forget_bias=1.0)."""

    def forward(self, x, h_prev, c_prev, W_x, W_h, b, forget_bias=1.0):
        """x (B, D), h_prev (B, H), c_prev (B, H), W_x (D, 4H), W_h (H, 4H), b (4H,) -> (h_next, c_next)."""
        H = h_prev.shape[1]
        a = x @ W_x + h_prev @ W_h + b
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H] + forget_bias)
        g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c_next = f * c_prev + i * g
        tanh_c = np.tanh(c_next)
        self.save_for_backward(x, h_prev, c_prev, W_x, W_h, i, f, g, o, tanh_c)
        return o * tanh_c, c_next

    def backward(self, dh_next, dc_next):
        """(dh_next, dc_next), each (B, H) -> (dx, dh_prev, dc_prev, dW_x, dW_h, db).

        c_next reaches the loss twice: directly (dc_next) and through h_next = o * tanh(c_next). Pack the
        gates' gradients back into one (B, 4H) array in the order i, f, g, o.
        """
        x, h_prev, c_prev, W_x, W_h, i, f, g, o, tanh_c = self.saved_tensors
        dc = dc_next + dh_next * o * (1 - tanh_c ** 2)
        da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g ** 2),
                             dh_next * tanh_c * o * (1 - o)], axis=1)
        return da @ W_x.T, da @ W_h.T, dc * f, x.T @ da, h_prev.T @ da, da.sum(axis=0)
