"""Exercise 1: one-hot vectors and one step of a tanh RNN, forward (lesson 1).

Shapes: B sequences in a batch, V tokens in the vocabulary, D inputs, H hidden units.
"""

import numpy as np


def one_hot(ids, vocab_size):
    """The one-hot rows of token ids: (B,) integers -> (B, V) float64, row b all zeros but a 1 at ids[b].

    Example: one_hot(np.array([2, 0]), 3) -> [[0, 0, 1], [1, 0, 0]]
    """
    out = np.zeros((len(ids), vocab_size))
    out[np.arange(len(ids)), ids] = 1.0
    return out


def rnn_step_forward(x, h_prev, W_xh, W_hh, b):
    """One step of a tanh RNN: h_next = tanh(x @ W_xh + h_prev @ W_hh + b).

    x (B, D), h_prev (B, H), W_xh (D, H), W_hh (H, H), b (H,)  ->  h_next (B, H)
    """
    return np.tanh(x @ W_xh + h_prev @ W_hh + b)
