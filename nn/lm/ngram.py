"""Count-based n-gram language models: the baselines a neural model has to beat.

Interpolated Kneser-Ney. Level k predicts a token from the k - 1 tokens before it:

    p_k(w | h) = max(a_k(h, w) - D_k, 0) / A_k(h)  +  D_k * T_k(h) / A_k(h) * p_(k-1)(w | h[1:])
    p_0(w)     = 1 / V

(h[1:] is the context without its first token.)

where A_k(h) = sum_w a_k(h, w) and T_k(h) = the number of distinct w after h. When h was never seen,
p_k(w | h) = p_(k-1)(w | ...). For the top level a_k are raw counts; for lower levels they are
continuation counts, the number of distinct tokens seen *before* the k-gram (a word that only follows
"San" gets little unigram mass). D_k = n1 / (n1 + 2 n2) from the numbers of k-grams seen once and twice.
Every level is a proper distribution (the discounted mass is exactly what the lower level shares out),
and so is the whole model: `distribution(context).sum() == 1`.

    >>> lm = NGramLM(order=3, vocab_size=len(vocab)).fit(train_ids)
    >>> total_nats, count = lm.nll(batchify(valid_ids, 16))   # streams side by side, as the models read them

Order 1 is the unigram with absolute discounting towards uniform, so unseen tokens keep some mass.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NGramLM"]


NLL_PIECE = 1 << 20  # predictions scored at a time by `NGramLM.nll`


class NGramLM:
    """An interpolated Kneser-Ney n-gram model over ids 0 .. vocab_size - 1 (order 1: unigram)."""

    def __init__(self, order: int, vocab_size: int) -> None:
        if order < 1:
            raise ValueError(f"NGramLM: order must be >= 1, got {order}")
        if not self.fits(order, vocab_size):
            raise ValueError(f"NGramLM: vocab_size {vocab_size} ** order {order} does not fit int64 keys; "
                             f"use a lower order or a smaller vocabulary (--max-vocab)")
        self.order, self.V = order, vocab_size
        self.levels: list[dict[str, Any]] = []  # per order: arrays of keys and counts, and the discount

    @staticmethod
    def fits(order: int, vocab_size: int) -> bool:
        """Whether every `order`-gram of `vocab_size` tokens has an int64 key (V ** order < 2 ** 62)."""
        return vocab_size >= 1 and vocab_size ** order < 2**62

    def _keys(self, grams: np.ndarray) -> np.ndarray:
        """(N, k) token ids -> (N,) int64 keys, the k-gram read as a base-V number (first token highest)."""
        keys = np.zeros(len(grams), dtype=np.int64)
        for j in range(grams.shape[1]):
            keys = keys * self.V + grams[:, j]
        return keys

    def fit(self, ids: np.ndarray) -> NGramLM:
        """Count the k-grams of the stream `ids` for k = 1 .. order; returns self."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 1 or len(ids) < self.order:
            raise ValueError(
                f"NGramLM.fit: need a 1-D stream of at least {self.order} tokens, got {ids.shape}")
        if ids.min() < 0 or ids.max() >= self.V:
            raise ValueError(f"NGramLM.fit: ids must lie in [0, {self.V}), got [{ids.min()}, {ids.max()}]")
        self.levels = []
        above: np.ndarray | None = None  # the distinct (k+1)-grams, as keys
        for k in range(self.order, 0, -1):
            grams = np.lib.stride_tricks.sliding_window_view(ids, k)  # (N - k + 1, k)
            raw_keys, raw_counts = np.unique(self._keys(grams), return_counts=True)
            if above is None:
                keys, counts = raw_keys, raw_counts
            else:  # continuation counts: how many distinct tokens came before each k-gram
                keys, counts = np.unique(above % self.V**k, return_counts=True)
            n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
            discount = float(n1 / (n1 + 2 * n2)) if n1 + n2 else 0.5
            discount = min(max(discount, 0.05), 0.95)
            contexts, starts = np.unique(keys // self.V, return_index=True)
            self.levels.insert(0, {
                "keys": keys, "counts": counts.astype(np.float64), "discount": discount,
                "contexts": contexts, "context_total": np.add.reduceat(counts, starts).astype(np.float64),
                "context_types": np.diff(np.append(starts, len(keys))).astype(np.float64),
            })
            above = raw_keys
        return self

    @staticmethod
    def _lookup(sorted_keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """values[i] where sorted_keys[i] == query, else 0."""
        i = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
        return np.where(sorted_keys[i] == queries, values[i], 0.0)

    def probs(self, histories: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """p(target | history) for each row: histories (N, order - 1), -1 where no token is known."""
        if not self.levels:
            raise RuntimeError("NGramLM: call fit() before asking for probabilities")
        histories = np.asarray(histories, dtype=np.int64).reshape(len(targets), self.order - 1)
        targets = np.asarray(targets, dtype=np.int64)
        p = np.full(len(targets), 1.0 / self.V)
        for k, level in enumerate(self.levels, start=1):
            h = histories[:, histories.shape[1] - (k - 1):]  # the last k - 1 tokens of each history
            known = (h >= 0).all(axis=1)
            context = self._keys(np.where(h >= 0, h, 0))
            total = self._lookup(level["contexts"], level["context_total"], context)
            types = self._lookup(level["contexts"], level["context_types"], context)
            count = self._lookup(level["keys"], level["counts"], context * self.V + targets)
            D = level["discount"]
            seen = known & (total > 0)
            safe = np.where(seen, total, 1.0)
            mixed = np.maximum(count - D, 0.0) / safe + D * types / safe * p
            p = np.where(seen, mixed, p)
        return p

    def distribution(self, context: list[int] | np.ndarray) -> np.ndarray:
        """p(w | context) for every w: (V,), summing to 1. Only the last order - 1 tokens matter."""
        context = [int(c) for c in np.asarray(context, dtype=np.int64).reshape(-1)]
        context = context[len(context) - (self.order - 1):] if len(context) >= self.order - 1 else context
        history = [-1] * (self.order - 1 - len(context)) + context
        histories = np.tile(np.array(history, dtype=np.int64), (self.V, 1))  # (V, order - 1)
        return self.probs(histories, np.arange(self.V))

    def nll(self, data: np.ndarray) -> tuple[float, int]:
        """(sum of -log p in nats, number of predictions) over streams: (N,) or (n, B) side by side.

        Each stream starts fresh: its first token is given, every later token is predicted from up to
        order - 1 tokens before it in the same stream.
        """
        data = np.asarray(data, dtype=np.int64)
        streams = data[:, None] if data.ndim == 1 else data
        total, count = 0.0, 0
        pad = self.order - 1
        for column in streams.T:
            padded = np.concatenate([np.full(pad, -1, dtype=np.int64), column])
            # histories of column[1:]: the pad tokens before each target, (n - 1, order - 1)
            windows = np.lib.stride_tricks.sliding_window_view(padded[:-1], pad)[1:] if pad else \
                np.zeros((len(column) - 1, 0), dtype=np.int64)
            for begin in range(0, len(column) - 1, NLL_PIECE):  # in pieces: bounded memory for any length
                end = begin + NLL_PIECE
                total += float(-np.log(self.probs(windows[begin:end], column[1:][begin:end])).sum())
            count += len(column) - 1
        return total, count
