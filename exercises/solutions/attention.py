"""Exercise 11: scaled dot-product attention with a causal mask, forward and backward (lesson 10).

q, k, v (B, T, d): B sequences of T positions. Position t may look at positions 0..t only (causal):
    S = q @ k^T / sqrt(d)                         (B, T, T)   scores; S[b, t, s]: how much t looks at s
    S[b, t, s] = -inf where s > t                             (the future is masked)
    P = softmax(S) over the last axis                          (each row sums to 1)
    out = P @ v                                   (B, T, d)
Backward, given dout (B, T, d), goes through these steps in reverse; a masked score gets no gradient
(P is 0 there). (^T swaps the last two axes: transpose(0, 2, 1).)
"""

import numpy as np

from tinygrad_seq import Function


class CausalAttention(Function):
    """Causal scaled dot-product attention as one graph node: CausalAttention.apply(q, k, v) -> out."""

    def forward(self, q, k, v):
        """q, k, v (B, T, d) -> out (B, T, d)."""
        T, d = q.shape[1], q.shape[2]
        S = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        S = np.where(np.triu(np.ones((T, T), dtype=bool), 1), -np.inf, S)
        P = np.exp(S - S.max(axis=-1, keepdims=True))
        P = P / P.sum(axis=-1, keepdims=True)
        self.save_for_backward(q, k, v, P)
        return P @ v

    def backward(self, dout):
        """dout (B, T, d) -> (dq, dk, dv), each (B, T, d)."""
        q, k, v, P = self.saved_tensors
        d = q.shape[2]
        dP = dout @ v.transpose(0, 2, 1)
        dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True))
        return dS @ k / np.sqrt(d), dS.transpose(0, 2, 1) @ q / np.sqrt(d), P.transpose(0, 2, 1) @ dout
