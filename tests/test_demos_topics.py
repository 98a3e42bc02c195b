"""Lessons 12-16 (sampling, character vs word level, sequence to sequence, multi-head attention, skip
connections) run in --quick mode, write their pictures, and their claims hold with numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import load_lesson, run_lesson

pytest.importorskip("matplotlib")
pytestmark = pytest.mark.slow

load = load_lesson
run = run_lesson


def test_sampling_step_by_step_and_unk_redraws(tmp_path: Path) -> None:
    demo, result = run("12_sampling", tmp_path)
    steps = result["shown_steps"]
    assert steps[-1][0] == "<eos>" and all(0 < p <= 1 for _, p in steps)  # stops at <eos>
    # <unk> comes up about as often as the model's probabilities say (a Poisson-sized margin)
    expected = result["expected_unk_draws"]
    assert result["unk_draws"] > 0 and abs(result["unk_draws"] - expected) < 4 * np.sqrt(expected) + 2, result
    assert result["redraws"] >= result["unk_draws"]
    # most <unk> draws are the made-up name right after the three words "a visitor called"
    assert result["unk_draws"] / 2 < result["after_called"] <= result["unk_draws"], result
    # the char LSTM's loss curve covers every training step, not only the first run's
    assert (tmp_path / "char_lm" / "loss_curve.png").is_file()
    assert result["curve_steps"] == result["checkpoints"][-1]
    # the char LSTM's samples improve: from noise to mostly real corpus words
    words = result["real_words"]
    assert words[0] < 0.1 and words[-1] > 0.5 and words[-1] > words[0] + 0.4, words
    assert result["bits_per_char"][-1] < result["bits_per_char"][0] - 2, result["bits_per_char"]


def test_skip_connections_carry_the_gradient_in_depth(tmp_path: Path) -> None:
    demo, result = run("16_skip_connections", tmp_path)
    # plain: the first layer gets a vanishing share of the last one's gradient; residual: about all of it
    assert result["plain_ratio"] < 1e-6, result["plain_ratio"]
    assert 0.2 < result["residual_ratio"] < 5, result["residual_ratio"]
    plain = np.array(result["ratios_by_depth"]["plain"])
    assert np.all(np.diff(np.log(plain)) < 0), plain  # deeper: less reaches the first layer
    # trained the same way, the residual stack learns and the plain one stays near predicting the mean
    assert result["residual_final_loss"] < 0.5 * result["target_variance"], result
    assert result["plain_final_loss"] > 0.8 * result["target_variance"], result
    # on held-out inputs the plain stack is the mean predictor: its loss is the target's variance, and
    # its predictions hardly vary
    held = result["held_out"]
    assert abs(held["plain"] - result["target_variance"]) < 0.05 * result["target_variance"], result
    assert result["plain_prediction_variance"] < 0.01 * result["target_variance"], result
    assert held["residual"] < 0.5 * result["target_variance"], result


def test_char_and_word_level_against_the_exact_floor(tmp_path: Path) -> None:
    demo, result = run("13_char_vs_word", tmp_path)
    # the floor is below every model that has to say everything (the char LSTM, the word LSTM with names)
    assert 0 < result["floor_bpc"] < result["char_bpc"] and result["floor_bpc"] < result["word_spelled_bpc"]
    # the word level: a larger vocabulary, far fewer tokens per line, and some <unk>; chars: none
    assert result["word_vocab"] > result["char_vocab"]
    assert result["word_per_line"] < result["char_per_line"] / 3
    assert 0 < result["word_unk_rate"] < 0.05
    # the line distribution is exact: probabilities sum to 1 and every generated line is in it
    probs = demo.line_distribution()
    assert abs(sum(probs.values()) - 1) < 1e-9 and len(probs) == result["possible_lines"]
    text = demo.corpus.make_corpus(50, np.random.default_rng(5))
    assert all(line in probs for line in text.splitlines())
    assert demo.exact_bits(text, probs) > 0


def test_seq2seq_decodes_until_eos_and_attention_aligns(tmp_path: Path) -> None:
    demo, result = run("14_seq2seq", tmp_path)
    assert demo.in_words(307) == ["three", "hundred", "seven"] and demo.in_words(13) == ["thirteen"]
    assert demo.named_digits(813) == [[0], [0], [1, 2]]
    # both translate most held-out numbers exactly, each output ended by its own <eos>
    assert result["plain_accuracy"] > 0.8 and result["attention_accuracy"] > 0.8, result
    # the attention weights are an alignment: most weight on the digit(s) each word names
    assert result["weight_on_named_digit"] > 0.8, result


def test_two_heads_learn_two_dependencies(tmp_path: Path) -> None:
    demo, result = run("15_multihead", tmp_path)
    seq, tags = demo.make_batch(np.random.default_rng(0), 3)
    assert tags[3, 0] == seq[2, 0] * demo.V + seq[4, 0]  # position 3: previous 2, mirrored 7 - 3 = 4
    assert result["two_heads_accuracy"] > 0.95, result
    # one head per dependency: most weight on the previous position in one, on the mirrored in the other
    assert result["previous_head"][0] > 0.8 and result["mirror_head"][1] > 0.8, result
    # one head must split its weight between the two positions
    prev, mirror = result["one_head_split"]
    assert prev > 0.15 and mirror > 0.15, result
    # named by separate read-outs, the two tokens need two heads: one head's single mix loses one of them
    two, one = (result["separate"][heads]["accuracy"][0] for heads in (2, 1))
    assert two > 0.9 and one < two - 0.3, result["separate"]
