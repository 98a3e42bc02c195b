"""Exercise 10: beam search (lessons 12 and 14).

A hypothesis is a tuple of token ids and its score, the sum of the log-probabilities of its tokens.
Start from the empty hypothesis (), score 0. At each step, extend every unfinished hypothesis by every
token of the vocabulary (its score + log_probs(hypothesis)[token]), then keep the beam_width best of all
of them together (finished ones included). A hypothesis is finished when its last token is eos_id or it
has max_len tokens; a finished one is kept as it is, never extended. Stop when every kept hypothesis is
finished.
"""

import numpy as np


def beam_search(log_probs, vocab_size, beam_width, max_len, eos_id):
    """log_probs(tokens: tuple) -> (V,) log-probabilities of the next token.

    Returns the final beam: a list of (tokens tuple, score) pairs, best first (at most beam_width of them).
    """
    beam = [((), 0.0)]

    def finished(tokens):
        return len(tokens) == max_len or (len(tokens) > 0 and tokens[-1] == eos_id)

    while not all(finished(tokens) for tokens, _ in beam):
        candidates = []
        for tokens, score in beam:
            if finished(tokens):
                candidates.append((tokens, score))
                continue
            lp = np.asarray(log_probs(tokens))
            candidates += [(tokens + (v,), score + float(lp[v])) for v in range(vocab_size)]
        candidates.sort(key=lambda c: -c[1])
        beam = candidates[:beam_width]
    return beam
