"""Lessons 17-19 (the gates of LSTM and GRU cells, why recurrence beats a fixed window, ReLU and sigmoid
RNNs next to tanh) run in --quick mode, write their pictures, and their claims hold with numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import load_lesson, run_lesson

pytest.importorskip("matplotlib")
pytestmark = pytest.mark.slow

load = load_lesson
run = run_lesson


def test_each_gate_does_what_its_equation_says(tmp_path: Path) -> None:
    demo, r = run("17_gates", tmp_path)
    # the gates were read from the real cells' tags: every gate present, sigmoid gates inside (0, 1)
    assert set(r["lstm_gates"]) == set("ifgo") and set(r["gru_gates"]) == set("rzn")
    assert all(0 < r["lstm_gates"][g] < 1 for g in "ifo") and all(0 < r["gru_gates"][g] < 1 for g in "rz")
    # LSTM: forget near 1 and input near 0 keep c; forget near 0 wipes it (what is left is about f itself)
    keep, wipe, default = r["lstm_keep"], r["lstm_wipe"], r["lstm_default"]
    assert keep["f"] > 0.999 and abs(keep["kept"] - 1) < 2e-3, keep
    assert wipe["f"] < 1e-3 and wipe["passed"] < 2e-3 and default["passed"] > 0.2, (wipe, default)
    # GRU: z near 1 copies h; z near 0 does not; r near 0 makes the candidate n blind to h
    copy, replace, reset, gru = r["gru_copy"], r["gru_replace"], r["gru_reset"], r["gru_default"]
    assert copy["z"] > 0.999 and copy["change"] < 2e-3 and replace["change"] > 0.3, (copy, replace)
    assert reset["r"] < 1e-3 and reset["n_reads_h"] < 2e-3 and gru["n_reads_h"] > 0.05, (reset, gru)
    # over many steps the pushed-open gates remember the first state, the initial ones forget it
    for kind in ("lstm_memory", "gru_memory"):
        assert r[kind][str(demo.PUSH)] > 0.9 and r[kind]["None"] < 1e-2, r[kind]
    # the memory read is the real cell's: with the gate pushed open the LSTM state equals its first value
    lstm = demo.pushed("lstm", {1: demo.PUSH, 0: -demo.PUSH}, seed=0)
    assert np.allclose(lstm.bias_ih.numpy()[demo.H : 2 * demo.H], demo.PUSH)


def test_a_window_has_a_ceiling_a_hidden_state_has_not(tmp_path: Path) -> None:
    demo, r = run("18_why_recurrence", tmp_path)
    assert demo.ceiling(1) == 0.25 and demo.ceiling(demo.MAX_GAP + 1) == 1.0
    # each window model is at its ceiling at most (4000 test sequences: two standard errors are 1.6%)
    for k, c, mlp, ngram in zip(r["ks"], r["ceiling"], r["mlp"], r["ngram"]):
        assert mlp < c + 0.02 and ngram < c + 0.02, (k, c, mlp, ngram)
    # the MLP reaches its ceiling at small windows, and guesses where the marked symbol is out of sight
    assert r["mlp"][r["ks"].index(4)] > demo.ceiling(4) - 0.03, r["mlp"]
    assert all(abs(b - 0.25) < 0.04 for b in r["mlp_blind"] if b == b), r["mlp_blind"]
    # the n-gram table misses visible symbols whose exact context it never saw, more of them as k grows
    assert r["ngram_unseen"][-1] > 0.1 and r["ngram"][-1] < r["ceiling"][-1] - 0.03, r
    # the recurrent network reads the whole sequence: well above every window's ceiling, and at longer gaps
    assert r["recurrent"]["GRU"] > max(r["ceiling"]) + 0.2, r["recurrent"]
    assert r["longer"]["GRU"] > 0.8 > r["longer"][f"window MLP, k = {r['ks'][-1]}"] + 0.4, r["longer"]
    # the window and what a window cannot see: the first token is outside a window of k when g >= k
    ids, lengths, answers = demo.make_batch(np.random.default_rng(0), 50)
    w = demo.window(ids, lengths, 3)
    assert all((w[b] >= demo.C).any() == (lengths[b] <= 3) for b in range(50))


def test_relu_explodes_sigmoid_saturates_tanh_between(tmp_path: Path) -> None:
    demo, r = run("19_activations", tmp_path)
    h_first, h_last, g_first, g_last = r["h_first"], r["h_last"], r["grad_first"], r["grad_last"]
    # forward: ReLU's hidden state grows without bound; tanh and sigmoid stay inside sqrt(H)
    assert h_last["relu"] > 20 * h_first["relu"], h_last  # 30 steps in --quick
    assert max(h_last["tanh"], h_last["sigmoid"]) < np.sqrt(demo.HIDDEN), h_last
    # backward: ReLU's gradient grows back in time, the sigmoid's vanishes within its bound radius / 4
    assert g_first["relu"] > 10 * g_last["relu"], (g_first, g_last)
    assert g_first["sigmoid"] < 1e-8 * g_last["sigmoid"], (g_first, g_last)
    assert r["factor"]["sigmoid"] <= demo.RADIUS / 4 and r["slope"]["sigmoid"] <= 0.25, r
    assert r["factor"]["sigmoid"] < r["factor"]["tanh"] < r["factor"]["relu"], r["factor"]
    # training: unclipped ReLU diverges, clipped it learns; the sigmoid learns least of the finished runs
    train = r["training"]
    assert train["relu, no clip"]["diverged"] == r["seeds"] and train["relu, clip"]["diverged"] == 0, train
    assert train["relu, clip"]["median"] < 0.3 and train["tanh, clip"]["median"] < 0.3, train
    assert train["sigmoid, clip"]["median"] > 1.5 * train["tanh, clip"]["median"], train
