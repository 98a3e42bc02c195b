"""Lessons 5-8 (long-range memory, truncated BPTT, RNN shapes, bidirectional): each runs in --quick
mode, writes its pictures, and its claim holds with numbers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

DEMOS = Path(__file__).resolve().parent.parent / "demos"
PNG = b"\x89PNG\r\n\x1a\n"

pytest.importorskip("matplotlib")


def load(name: str) -> ModuleType:
    """Import demos/<name>.py (its name starts with a digit, so not with an import statement)."""
    if str(DEMOS) not in sys.path:
        sys.path.insert(0, str(DEMOS))  # the lessons import their shared `common` module
    spec = importlib.util.spec_from_file_location(f"demo_{name}", DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, out: Path) -> dict:
    return load(name).main(["--quick", "--out", str(out)])


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    assert path.stat().st_size > 1000, f"{path} is nearly empty"
    assert path.read_bytes()[:8] == PNG, f"{path} is not a PNG"


def test_long_range_gated_cells_remember_where_the_rnn_forgets(tmp_path: Path) -> None:
    result = run("05_long_range", tmp_path)
    assert_png(tmp_path / "long_range.png")
    chance, acc = result["chance"], result["accuracy"]
    # at the shortest gap every model learns the task: what fails later is memory, not the task
    assert all(accs[0] > 0.9 for accs in acc.values()), acc
    # at the longest gap the RNN is near chance and the gated cells are far above it
    rnn, lstm, gru = result["rnn_accuracy"], result["lstm_accuracy"], result["gru_accuracy"]
    assert rnn < chance + 0.3, result
    assert gru > rnn + 0.3 and lstm > rnn + 0.3 and max(gru, lstm) > 0.9, result
    # before training, far more gradient reaches the marked symbol through the LSTM (forget bias 1)
    reach = result["gradient_reach"]
    assert reach["LSTM (forget bias 1)"][-1] > 1e3 * reach["RNN"][-1], reach
    assert all(np.diff(np.log(reach["RNN"])) < 0), "the RNN's gradient should shrink with the gap"
    # training on the short gaps opens the GRU's path to the marked symbol (from about 1e-9 at the start)
    gru = dict(result["reach_during_training"]["GRU"])
    assert max(gru.values()) > 1e4 * gru[0], gru


def test_truncated_bptt_memory_grows_and_error_falls(tmp_path: Path) -> None:
    result = run("06_truncated_bptt", tmp_path)
    assert_png(tmp_path / "truncation.png")
    assert_png(tmp_path / "graph_truncated.png")
    ks, nodes, nbytes, errors = (np.array(result[key]) for key in ("ks", "nodes", "bytes", "errors"))
    # memory: the same number of nodes per extra step at every k (linear), and more bytes for larger k
    per_step = np.diff(nodes) / np.diff(ks)
    assert np.allclose(per_step, per_step[0]) and per_step[0] > 0, per_step
    assert np.all(np.diff(nbytes) > 0), nbytes
    assert nbytes[-1] > 0.5 * nbytes[0] * ks[-1], "full BPTT should hold about T times the one-step graph"
    # gradient error: falls strictly with k, from a large error at k = 1 to exactly 0 at full length
    assert np.all(np.diff(errors) < 0), errors
    assert errors[0] > 0.3, errors
    assert errors[-1] == 0.0, errors


def test_bidirectional_tags_with_both_neighbours_and_cannot_be_an_lm(tmp_path: Path) -> None:
    demo = load("08_bidirectional")
    result = demo.main(["--quick", "--out", str(tmp_path)])
    assert_png(tmp_path / "bidirectional.png")
    # "equal to a neighbour": both sides needed; the bi-LSTM tags everything, the LSTM gets partial credit
    assert result["bilstm_accuracy"] > 0.97, result
    assert 0.7 < result["lstm_accuracy"] < result["best_left_to_right"] + 0.01, result
    per_position = result["lstm_per_position"]
    assert per_position[-1] > 0.9 > max(per_position[1:-1]), per_position  # nothing to miss at the end
    # the language-model task: the bi-LSTM reads the answer, the left-to-right LSTM stays at chance
    assert result["next_bilstm_accuracy"] > 0.95, result
    assert abs(result["next_lstm_accuracy"] - result["chance"]) < 0.06, result
    # and not because it is smaller: the two models have about the same number of parameters
    assert abs(result["bilstm_params"] - result["lstm_params"]) < 0.05 * result["lstm_params"], result
    tags = demo.neighbour_tags(np.array([[0], [0], [1], [2], [2], [2], [3]]))[:, 0]
    assert tags.tolist() == [1, 1, 0, 1, 1, 1, 0]
    assert set(demo.readme_figures(result)) >= {"lstm", "bilstm", "next_lstm"}


def test_rnn_shapes_each_learns_its_task(tmp_path: Path) -> None:
    result = run("07_rnn_shapes", tmp_path)
    for name in ("1_one_to_many", "2_many_to_one", "3_aligned", "4_encoder_decoder"):
        assert_png(tmp_path / f"{name}.png")
    assert result["one_to_many_accuracy"] >= 0.9, result  # whole counts generated greedily, all 10 starts
    assert result["many_to_one_accuracy"] > 0.95, result  # chance: 0.5
    assert result["aligned_accuracy"] > 0.95, result  # chance: about 0.5
    # whole reversed strings decoded greedily (chance: 1e-4 for 4 digits), and single digits
    assert result["encoder_decoder_accuracy"] > 0.9, result
    assert result["encoder_decoder_token_accuracy"] > 0.95, result
