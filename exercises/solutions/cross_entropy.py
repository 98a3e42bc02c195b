"""Exercise 8: cross-entropy summed over the steps of a sequence, and perplexity (lesson 11).

A language model gives logits (T, B, V) for T steps of B sequences over a vocabulary of V tokens;
targets (T, B) holds the token that really came next. With p = softmax(logits) over the last axis:
    loss = - sum over t and b of log p[t, b, targets[t, b]]              (a sum, not a mean)
    dL/dlogits = p - onehot(targets)
    perplexity = exp(loss / (T * B))      (e to the mean loss per token)
Subtract the largest logit of each row before exp, so that large logits do not overflow.
"""

import numpy as np


def sequence_cross_entropy(logits, targets):
    """logits (T, B, V), targets (T, B) integers -> (loss, a float; dlogits (T, B, V))."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    T, B = targets.shape
    t, b = np.meshgrid(np.arange(T), np.arange(B), indexing="ij")
    loss = -float(log_p[t, b, targets].sum())
    dlogits = np.exp(log_p)
    dlogits[t, b, targets] -= 1.0
    return loss, dlogits


def perplexity(logits, targets):
    """exp(mean cross-entropy per token) of logits (T, B, V) against targets (T, B)."""
    loss, _ = sequence_cross_entropy(logits, targets)
    return float(np.exp(loss / targets.size))
