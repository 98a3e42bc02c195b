"""Exercise 9: sampling with temperature and top-k, never <unk>, stopping at <eos> (lesson 12).

To draw one token from logits (V,):
  1. <unk> (id unk_id, when given) must never come out: set its logit to -inf (the same as drawing
     again whenever it comes out);
  2. top_k (when given): keep the k largest logits, set the others to -inf;
  3. p = softmax(logits / temperature): a temperature below 1 sharpens the distribution, above 1 flattens;
  4. draw with rng.choice(V, p=p).
"""

import numpy as np


def sample_token(logits, rng, temperature=1.0, top_k=None, unk_id=None):
    """One token id (an int) drawn from logits (V,) with the numpy Generator `rng`."""
    logits = np.array(logits, dtype=np.float64)
    if unk_id is not None:
        logits[unk_id] = -np.inf
    if top_k is not None and top_k < len(logits):
        kth = np.sort(logits)[-top_k]
        logits[logits < kth] = -np.inf
    scaled = logits / temperature
    p = np.exp(scaled - scaled.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def generate(next_logits, rng, max_len, eos_id, **options):
    """Draw tokens one at a time until <eos> comes out (not included) or max_len tokens are drawn.

    next_logits(tokens) -> logits (V,) for the token after `tokens` (the list drawn so far); options go to
    sample_token (temperature, top_k, unk_id). Returns the list of token ids.
    """
    tokens = []
    while len(tokens) < max_len:
        token = sample_token(next_logits(list(tokens)), rng, **options)
        if token == eos_id:
            break
        tokens.append(token)
    return tokens
