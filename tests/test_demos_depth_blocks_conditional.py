"""Lessons 20-22 (the depth of an RNN against attention, the Transformer block's parts, a conditional
language model) run in --quick mode, write their pictures, and their claims hold with numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import run_lesson

pytest.importorskip("matplotlib")
pytestmark = pytest.mark.slow


def run(name: str, out: Path) -> dict:
    return run_lesson(name, out)[1]


def test_attention_depth_is_flat_in_t_and_the_lstm_depth_grows_with_it(tmp_path: Path) -> None:
    r = run("20_parallel_depth", tmp_path)
    lengths, lstm, transformer = (np.array(r[k]) for k in ("lengths", "lstm_depth", "transformer_depth"))
    assert np.all(transformer == transformer[0]), transformer  # the same chain at every T
    steps = np.diff(lstm) / np.diff(lengths)
    assert np.all(steps == steps[0]) and steps[0] >= 4, lstm  # a fixed number of ops more per token
    assert lstm[-1] > 3 * transformer[-1], (lstm, transformer)  # at T = 64
    assert 0.8 < r["work_ratio_64"] < 1.3, r["work_ratio_64"]  # about the same multiply-adds at T = 64
    assert r["max_difference"] < 1e-4, r["max_difference"]  # the loop computes the layer's numbers
    assert r["speedup_64"] > 3, r["speedups"]  # and takes longer than all positions at once


def test_each_part_of_the_transformer_block_costs_when_removed(tmp_path: Path) -> None:
    v = run("21_transformer_block", tmp_path)["variants"]
    full = v["full block"]["loss"]
    assert full < 0.25 and v["full block"]["accuracy"] > 0.9, v["full block"]  # the task is learnt
    assert v["no feed-forward"]["loss"] > 2 * full, v  # the mod-10 rule needs the per-position layer
    assert v["tied head"]["loss"] > 2 * full, v  # one vector per digit for reading and writing costs
    assert v["no residuals"]["loss"] > 1.0 and v["no residuals"]["accuracy"] < 0.5, v  # barely learns
    assert v["no feed-forward"]["params"] < v["full block"]["params"] / 2  # the FFN holds most weights


def test_the_condition_changes_what_the_language_model_writes(tmp_path: Path) -> None:
    r = run("22_conditional_lm", tmp_path)
    bits = np.array(r["bits"])  # [the names' style, the condition given]
    wrong = bits[~np.eye(len(bits), dtype=bool)].reshape(len(bits), -1)
    assert np.all(np.diag(bits) + 2 < wrong.min(axis=1)), bits  # the right condition: far fewer bits
    assert r["bits_right"] < r["bits_rule"] + 0.3, r  # near the rules' own probabilities
    assert r["identified"] > 0.95, r["identified"]  # p(name | c) names the style of held-out names
    # names sampled under each condition are of that style, by a classifier that never saw the model
    assert r["generated_accuracy"] > 0.9 and r["classifier_accuracy"] > 0.9, r
    assert r["follows_rule"] > 0.8 and r["novel"] > 0.3, r  # mostly well-formed, many never seen
