"""Exercise 12: splitting an embedding into heads and merging them back (lesson 15).

Multi-head attention with E features and h heads gives each head its own E/h features: head j reads
features j*E/h .. (j+1)*E/h - 1 of every position. Split: (B, T, E) -> (B, h, T, E/h), so that each head
is a (T, E/h) matrix for one batched matmul; merge is the inverse, (B, h, T, E/h) -> (B, T, E).
Reshape to (B, T, h, E/h) first, then swap the position and head axes: reshaping straight to
(B, h, T, E/h) mixes positions and heads.
"""


def split_heads(x, num_heads):
    """x (B, T, E) -> (B, num_heads, T, E // num_heads); out[b, j, t] = x[b, t, j*E/h:(j+1)*E/h]."""
    B, T, E = x.shape
    return x.reshape(B, T, num_heads, E // num_heads).transpose(0, 2, 1, 3)


def merge_heads(x):
    """x (B, h, T, E/h) -> (B, T, E), the inverse of split_heads."""
    B, h, T, dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, h * dh)
