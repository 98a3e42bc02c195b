"""Lessons 1-4 (demos/01_* to demos/04_*) run in --quick mode, write their pictures, and their claims hold."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import pytest

DEMOS = Path(__file__).resolve().parent.parent / "demos"

pytestmark = pytest.mark.slow


def run(name: str, tmp_path: Path) -> dict:
    """Import demos/<name>.py (it imports demos/common.py, so demos/ goes on the path) and run it quickly."""
    pytest.importorskip("matplotlib")
    if str(DEMOS) not in sys.path:
        sys.path.insert(0, str(DEMOS))
    return importlib.import_module(name).main(["--quick", "--out", str(tmp_path)])


def assert_pngs(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        assert path.is_file(), f"{name} was not written"
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{name} is not a PNG"
        assert path.stat().st_size > 1000, f"{name} is almost empty"


def test_tiny_char_rnn_learns_both_words(tmp_path: Path) -> None:
    result = run("01_tiny_char_rnn", tmp_path)
    assert_pngs(tmp_path, "loss_curves.png", "hello_graph.png", "hello_unrolled.png")
    # every next character right, and the loss far below chance (ln 4, ln 6 nats per character)
    assert result["hello_accuracy"] == 1.0 and result["ybigta_accuracy"] == 1.0
    assert result["hello_loss"] < 0.2 * math.log(4)
    assert result["ybigta_loss"] < 0.2 * math.log(6)
    # "hello" needs memory (l -> l, then l -> o), "ybigta" does not: it is solved later
    assert result["hello_solved_at"] > result["ybigta_solved_at"]
    # on the way it gives both "l"s one answer (the current character alone decides), before it is solved
    assert result["hello_same_from"] is not None and result["hello_same_from"] < result["hello_solved_at"]
    # generation from "h", each prediction fed back, spells the word; every target is the most likely
    assert result["generated"] == "hello"
    assert min(result["target_probabilities"]) > 0.5


def test_bptt_is_a_sum_over_time(tmp_path: Path) -> None:
    result = run("02_bptt_sum", tmp_path)
    assert_pngs(tmp_path, "bptt_graph.png", "bptt_sums.png")
    assert open(result["explorer"], encoding="utf-8").read().count('class="fwd"') == 5  # one per step
    assert result["loss_sum_error"] < 1e-12  # sum of the per-step losses = the total loss
    assert result["grad_sum_error"] < 1e-12  # sum of the per-step copies' gradients = W_hh.grad
    assert result["renderer_error"] < 1e-12  # graph.step_grads splits it the same way
    assert result["column_sum_error"] < 1e-12  # each contribution = the sum over the losses that reach it
    # a loss term reaches only its own and earlier steps: exactly zero above the diagonal, nonzero below
    assert result["reach_above_diagonal_max"] == 0.0
    assert result["reach_on_or_below_min"] > 1e-4
    assert all(n > 1e-3 for n in result["contribution_norms"])


def test_vanishing_and_exploding_gradients(tmp_path: Path) -> None:
    result = run("03_vanishing", tmp_path)
    assert_pngs(tmp_path, "gradient_norms.png")
    radii = (0.5, 1.0, 1.5, 2.0)
    for r in radii:  # W_hh = r * orthogonal: eigvals measures the radius asked for
        assert abs(result["measured_radii"][r] - r) < 1e-9
    first = result["rnn_first"]
    # radius 0.5: ||dL/dh_0|| is more than ten orders of magnitude below ||dL/dh_(T-1)||
    assert result["rnn_0.5_decades_lost"] > 10
    # radius 2.0 explodes backwards in time, and the curves at t = 0 are ordered by radius
    assert result["rnn_2.0_decades_gained"] > 1
    assert all(first[a] < first[b] for a, b in zip(radii, radii[1:]))
    assert first[2.0] > 1e15 * first[0.5]
    # saturated units block the explosion: the same W_hh with large inputs vanishes instead
    assert result["saturated_2.0_first"] < 1e-6 * first[2.0]
    # the gated cells lose their gradient more slowly than the 0.5-radius RNN
    assert result["lstm_first"] > 1e3 * first[0.5]
    assert result["gru_first"] > 1e3 * first[0.5]
    assert result["lstm_forget_bias_1_first"] > result["lstm_first"]
    # why: the default LSTM's forget gates start near sigmoid(0) = 0.5, bias 1's near sigmoid(1) = 0.73; the
    # gradient shrinks by less than the mean gate per step (the most open units lead, and the path through
    # h and W_hh adds to the cell path), and the default LSTM shrinks faster per step than the radius-1 RNN
    default, bias_1 = result["forget"]["LSTM"], result["forget"]["LSTM, forget bias 1"]
    assert abs(default["gate_mean"] - 0.5) < 0.05 and abs(bias_1["gate_mean"] - 0.73) < 0.05
    for k in (default, bias_1):
        assert k["gate_mean"] < k["cell_path"] < k["measured"] < 1
    assert default["measured"] < result["per_step_factor"][1.0] < bias_1["measured"]


def test_clipping_keeps_an_exploding_rnn_finite(tmp_path: Path) -> None:
    result = run("04_clipping", tmp_path)
    assert_pngs(tmp_path, "clipping.png")
    # without clipping the loss passes 1e6 (or stops being a number), and the run stops there
    diverged = result["unclipped_diverged_at"]
    assert diverged is not None and diverged < result["steps"][20.0]
    assert not math.isfinite(result["unclipped_last_loss"]) or result["unclipped_last_loss"] > 1e6
    for threshold in (20.0, 5.0):  # the clipped runs stay finite all the way, and did clip
        assert math.isfinite(result["largest_loss"][threshold]) and result["largest_loss"][threshold] < 1e6
        assert result["final"][threshold] < math.inf
        assert result["clipped_steps"][threshold] > 0
    # the tighter threshold trains: its loss falls by a quarter or more in the quick run's 60 steps (about
    # half, 0.50-0.52 of the first, depending on the BLAS kernel's rounding), and ends below the looser one's
    assert result["final"][5.0] < 0.75 * result["first"][5.0]
    assert result["final"][5.0] < result["final"][20.0]
