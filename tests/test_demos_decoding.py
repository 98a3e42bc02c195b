"""Lessons 23-26 (beam search, positional encoding, attention scoring and padding masks, deep RNNs) run in
--quick mode, write their pictures, and their claims hold with numbers."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from helpers import load_lesson, run_lesson

pytest.importorskip("matplotlib")
pytestmark = pytest.mark.slow

load = load_lesson
run = run_lesson


def test_exact_search_finds_the_brute_force_optimum() -> None:
    demo = load("23_beam_search")
    V, max_len, eos = 4, 4, 3
    for seed in range(5):
        table = np.random.default_rng(seed).standard_normal((V + 1, V)) * 2
        table -= np.log(np.exp(table).sum(axis=1, keepdims=True))

        def log_probs(tokens: tuple, table: np.ndarray = table) -> np.ndarray:
            return table[tokens[-1] if tokens else V]

        every = [s for n in range(1, max_len + 1) for s in itertools.product(range(V), repeat=n)
                 if eos not in s[:-1] and (n == max_len or s[-1] == eos)]
        scores = [sum(log_probs(s[:i])[s[i]] for i in range(len(s))) for s in every]
        greedy = demo.greedy(log_probs, max_len, eos)
        best, score, expanded = demo.exact_search(log_probs, V, max_len, eos, greedy)
        assert np.isclose(score, max(scores)) and best == every[int(np.argmax(scores))]
        assert score >= greedy[1] and expanded <= sum(V**n for n in range(max_len))
    assert demo.bleu([1, 2, 3], [1, 2, 3]) == 1.0 and demo.bleu([], [1]) == 0.0
    # one word of two right: unigram precision 1/2, no bigram right, brevity penalty 1
    assert demo.bleu([1, 5], [1, 2]) == 0.0 and np.isclose(demo.bleu([1], [1, 2]), np.exp(-1))


def test_beam_search_finds_likelier_outputs_than_greedy(tmp_path: Path) -> None:
    demo, result = run("23_beam_search", tmp_path)
    early, later = result["early"], result["trained"]
    # wider beams find the optimum more often; the exact search's is the optimum
    names = ("greedy", "beam 2", "beam 4", "beam 8", "exact")
    optimal = {name: early[name]["optimal"] for name in names}
    assert optimal["greedy"] < 0.9 and optimal["greedy"] < optimal["beam 2"] < optimal["beam 8"], optimal
    assert optimal["exact"] == 1.0, optimal
    # the exact optimum is at least as likely as any search's output, for every number
    logp = {name: early[name]["log_prob"] for name in names}
    assert all(logp["exact"] >= v - 1e-9 for v in logp.values()), logp
    assert logp["greedy"] < logp["beam 8"] - 0.05, logp
    # a likelier output is not a better translation for the unsure model; the trained one is right mostly
    assert early["exact"]["exact_match"] <= early["greedy"]["exact_match"], early
    assert later["greedy"]["optimal"] > 0.95 and later["exact"]["exact_match"] > 0.8, later
    assert result["shown_exact"][1] > result["shown_greedy"][1]


def test_order_needs_a_positional_encoding(tmp_path: Path) -> None:
    demo, result = run("24_positional_encoding", tmp_path)
    seq, label = demo.make_batch(np.random.default_rng(0), 50)
    assert ((seq == 0).sum(0) == 1).all() and ((seq == 1).sum(0) == 1).all()
    assert (label == (np.argmax(seq == 0, axis=0) < np.argmax(seq == 1, axis=0))).all()
    acc = result["accuracy"]
    # without positions the layer sees a set: a coin toss; with either encoding it learns the order
    assert abs(acc["none"] - 0.5) < 0.07 and acc["sinusoidal"] > 0.9 and acc["learned"] > 0.9, acc
    change = result["shuffled_change"]
    assert change["none"] < 1e-4 and change["sinusoidal"] > 0.1 and change["learned"] > 0.1, change
    # the sinusoidal table's dot products depend only on the distance, and fall from k = 0 to k = 1
    assert result["sinusoidal_spread"] < 1e-4 and result["dot_0"] > result["dot_1"] > result["dot_far"]


def test_scores_learn_the_look_up_and_the_padding_mask_makes_padding_invisible(tmp_path: Path) -> None:
    demo, result = run("25_attention_scoring", tmp_path)
    keys, values, mask, query, answer = demo.make_batch(np.random.default_rng(0), 20)
    assert all(q in k[~m] for q, k, m in zip(query, keys, mask)) and (keys[mask] == demo.PAD_KEY).all()
    additive, dot = result["scorers"]["additive"], result["scorers"]["scaled dot-product"]
    assert additive["accuracy"] > 0.95 and dot["accuracy"] > 0.95, result
    # the same projections, plus v: additive has h more parameters, and its score costs far more time
    assert additive["score_parameters"] == dot["score_parameters"] + demo.H
    assert result["score_time_ratio"] > 3, result
    # with the mask a padded sequence is its unpadded self; without it, it is not
    assert result["change_with_mask"] < 1e-12 and result["change_without_mask"] > 1e-3, result
    # the trained additive model, run without its mask, spends weight on padding and is less sure
    assert additive["unmasked_on_padding"] > 0.02, additive
    assert additive["unmasked_worst_p_answer"] < additive["worst_p_answer"] - 0.05, additive


def test_deeper_stacks_start_slower_on_the_same_steps(tmp_path: Path) -> None:
    demo, result = run("26_deep_rnns", tmp_path)
    runs = result["runs"]
    one, two, four = runs["1 layer"], runs["2 layers"], runs["4 layers"]
    wide = next(r for name, r in runs.items() if "wide" in name)
    # each layer adds its weights: 4 layers have about as many parameters as the wide single layer
    assert one["parameters"] < two["parameters"] < four["parameters"]
    assert abs(wide["parameters"] - four["parameters"]) < 0.02 * four["parameters"]
    # the input's signal at the top shrinks layer by layer at initialisation
    signal = result["input_signal"]
    assert signal["1 layer"] > signal["2 layers"] > signal["4 layers"], signal
    # on the same steps the 1-layer model has left the unigram plateau; the 4-layer one has not
    assert one["loss"] < result["unigram"] - 0.3 and four["loss"] > result["unigram"] - 0.1, result
    assert one["loss"] < two["loss"] and one["loss"] < four["loss"]
