"""Exercise 3: backpropagation through time by hand, for a tanh RNN over T steps (lesson 2).

h[t] = tanh(xs[t] @ W_xh + h[t-1] @ W_hh + b), starting from h[-1] = h0. The loss L reads every
h[t]; dhs[t] = dL/dh[t] is the part of the gradient that comes from the loss at step t directly.
The weights are shared by every step, so each weight's gradient is a sum over the steps.
"""

import numpy as np


def rnn_forward(xs, h0, W_xh, W_hh, b):
    """Run the RNN over the sequence: xs (T, B, D), h0 (B, H) -> hs (T, B, H), hs[t] = h[t]."""
    hs = []
    h = h0
    for x in xs:
        h = np.tanh(x @ W_xh + h @ W_hh + b)
        hs.append(h)
    return np.stack(hs)


def rnn_backward(xs, h0, hs, W_xh, W_hh, dhs):
    """BPTT: go from the last step to the first, carrying dh_next, the gradient that h[t] gets from step t+1.

    xs (T, B, D), h0 (B, H), hs (T, B, H) from rnn_forward, W_xh (D, H), W_hh (H, H), dhs (T, B, H)
    -> (dxs (T, B, D), dh0 (B, H), dW_xh (D, H), dW_hh (H, H), db (H,)).
    Each step is the RNN step of exercise 2, its upstream gradient dhs[t] + dh_next; each weight's
    gradient adds up the shares of all the steps.
    """
    dxs = np.zeros_like(xs)
    dW_xh, dW_hh, db = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros(W_hh.shape[1])
    dh_next = np.zeros_like(h0)
    for t in range(len(xs) - 1, -1, -1):
        h_prev = hs[t - 1] if t > 0 else h0
        dz = (dhs[t] + dh_next) * (1 - hs[t] ** 2)
        dxs[t] = dz @ W_xh.T
        dh_next = dz @ W_hh.T
        dW_xh += xs[t].T @ dz
        dW_hh += h_prev.T @ dz
        db += dz.sum(axis=0)
    return dxs, dh_next, dW_xh, dW_hh, db
