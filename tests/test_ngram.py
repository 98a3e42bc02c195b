"""nn.lm.ngram: count-based n-gram baselines are normalised and match their counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import FOX

from tinygrad_seq.nn.lm.ngram import NGramLM
from tinygrad_seq.nn.lm.text import Vocab, batchify


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_ngram_baselines_are_normalised(order):
    vocab = Vocab.chars(FOX + "XYZ")  # X, Y, Z never occur in training
    lm = NGramLM(order, len(vocab)).fit(vocab.encode(FOX * 3))
    for context in ["", "t", "th", "the", "XY", "qXZ", "og\n"]:
        p = lm.distribution(vocab.encode(context))
        assert p.shape == (len(vocab),) and np.all(p > 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_ngram_probabilities_match_the_counts_they_come_from():
    vocab = Vocab.chars(FOX)
    ids = vocab.encode(FOX * 5)
    tri = NGramLM(3, len(vocab)).fit(ids)
    p = tri.distribution(vocab.encode("th"))
    assert p.argmax() == vocab.stoi["e"] and p[vocab.stoi["e"]] > 0.8  # "th" is always followed by "e"
    data = batchify(ids, 2)
    total, count = tri.nll(data)
    by_hand = 0.0
    for column in data.T:
        for t in range(1, len(column)):
            by_hand -= math.log(tri.distribution(column[max(0, t - 2):t])[column[t]])
    assert count == data.size - 2 and total == pytest.approx(by_hand, rel=1e-10)
