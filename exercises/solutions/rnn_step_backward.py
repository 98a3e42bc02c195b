"""Exercise 2: the backward pass of one tanh RNN step, written as an engine `Function` (lesson 2).

forward:  h_next = tanh(z),  z = x @ W_xh + h_prev @ W_hh + b
backward: given dh_next = dL/dh_next (B, H), return the gradient of L for every input of forward.
Keep what backward needs with self.save_for_backward(...) and read it back from self.saved_tensors.
"""

import numpy as np

from tinygrad_seq import Function


class RNNStep(Function):
    """One tanh RNN step as a graph node: RNNStep.apply(x, h_prev, W_xh, W_hh, b) -> h_next."""

    def forward(self, x, h_prev, W_xh, W_hh, b):
        """x (B, D), h_prev (B, H), W_xh (D, H), W_hh (H, H), b (H,) -> h_next (B, H)."""
        h_next = np.tanh(x @ W_xh + h_prev @ W_hh + b)
        self.save_for_backward(x, h_prev, W_xh, W_hh, h_next)
        return h_next

    def backward(self, dh_next):
        """dh_next (B, H) -> (dx, dh_prev, dW_xh, dW_hh, db), each the shape of its input.

        tanh'(z) = 1 - tanh(z)**2, and tanh(z) is h_next, which forward saved.
        """
        x, h_prev, W_xh, W_hh, h_next = self.saved_tensors
        dz = dh_next * (1 - h_next * h_next)
        return dz @ W_xh.T, dz @ W_hh.T, x.T @ dz, h_prev.T @ dz, dz.sum(axis=0)
