"""Pictures that read at a page width: the default 10-step LSTM picture measured; layouts, labels, legend."""

from __future__ import annotations

import re
import struct

import graphviz
import numpy as np
import pytest
from helpers import dot_available, edges, layout_x, nodes, rnn

from tinygrad_seq import Tensor, graph, nn, scope
from tinygrad_seq.nn.lm.cli import main as cli

COLUMN = 900  # px: a README's, a docs page's or a notebook cell's width
READABLE = 7.0  # px: the smallest text shown in that column


def png_size(path) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def draw_lstm(tmp_path, suffix: str, *extra: str) -> str:
    path = str(tmp_path / f"lstm.{suffix}")
    assert cli(["graph", "--model", "lstm", "--steps", "10", "-o", path, *extra]) == 0
    return path


def test_the_default_10_step_lstm_picture_reads_at_a_page_width(tmp_path):
    dot_available()
    width, height = png_size(draw_lstm(tmp_path, "png"))
    assert width <= 2000 and width / height <= 2.5, (width, height)
    svg = open(draw_lstm(tmp_path, "svg")).read()
    view_w = float(re.search(r'viewBox="[0-9.]+ [0-9.]+ ([0-9.]+) [0-9.]+"', svg).group(1))
    sizes = [float(s) for s in re.findall(r'font-size="([0-9.]+)"', svg)]
    smallest = min(sizes) * COLUMN / view_w  # px, once the SVG is scaled to the column
    assert smallest >= READABLE, f"{min(sizes)} pt text in a {view_w} pt wide picture is {smallest:.1f} px"
    assert 'style="max-width: 100%; height: auto"' in svg


def test_one_long_row_remains_and_width_sets_the_pixels(tmp_path):
    dot_available()
    wide, _ = png_size(draw_lstm(tmp_path, "png", "--layout", "row"))
    assert wide > 4000  # today's wall of a picture, on request
    assert png_size(draw_lstm(tmp_path, "png", "--width", "800"))[0] == 800
    svg = open(draw_lstm(tmp_path, "svg", "--width", "640")).read()
    assert '<svg width="640px"' in svg and "viewBox=" in svg


def test_rows_of_k_steps_read_left_to_right_top_to_bottom_and_k_1_runs_time_downwards():
    dot_available()
    loss, p = rnn(6)
    assert 'rankdir="LR"' in graph.to_dot(loss, params=p, collapse=["*.t=*"], layout="row")
    grid = graph.to_dot(loss, params=p, collapse=["*.t=*"], layout=3)
    assert 'rankdir="TB"' in grid
    plain = graphviz.pipe("dot", "plain", grid.encode()).decode()
    y = {r[1]: float(r[3]) for r in (line.split() for line in plain.splitlines()) if r[0] == "node"}
    x = layout_x(grid)
    box = {label.split("\\n")[0]: n for n, label in nodes(grid).items() if label.startswith("t=")}
    for k in (0, 1, 3, 4):  # side by side in a row
        assert x[box[f"t={k}"]] < x[box[f"t={k + 1}"]]
    assert y[box["t=3"]] < y[box["t=2"]] and y[box["t=3"]] == y[box["t=5"]]  # the second row under the first
    down = graph.to_dot(loss, params=p, collapse=["*.t=*"], layout=1)
    y = layout_x(down.replace('rankdir="TB"', 'rankdir="LR"'))  # rank of each node: time runs downwards
    box = {label.split("\\n")[0]: n for n, label in nodes(down).items() if label.startswith("t=")}
    assert [y[box[f"t={k}"]] for k in range(6)] == sorted(y[box[f"t={k}"]] for k in range(6))
    with pytest.raises(ValueError, match="layout="):
        graph.to_dot(loss, layout="columns")


def test_auto_keeps_a_small_graph_in_one_row_and_turns_a_long_unroll_downwards():
    small, p = rnn(2, H=2)
    assert 'rankdir="LR"' in graph.to_dot(small, params=p, collapse=["*.t=*"])
    long, p = rnn(12)
    dot = graph.to_dot(long, params=p, collapse=["*.t=*"])
    assert 'rankdir="TB"' in dot


def test_state_edges_name_h_and_c_with_their_gradient_norms():
    lstm = nn.LSTM(2, 3, rng=np.random.default_rng(0))
    with scope("lstm"):
        out, _ = lstm(Tensor(np.random.default_rng(1).normal(size=(4, 1, 2))))
    dot = graph.to_dot((out * out).sum(), params=lstm, collapse=["*.t=*"])
    labels = [re.search(r'label="([^"]*)"', a).group(1) for _, _, a in edges(dot) if "penwidth=2.5" in a]
    assert sorted(label.split()[0] for label in labels) == ["c"] * 3 + ["h"] * 3
    assert all(re.fullmatch(r"[hc] ‖g‖ \d\.\de[+-]\d\d", label) for label in labels)
    rnn_dot = graph.to_dot(*rnn(3)[:1])
    assert {re.search(r'label="([^"]*)"', a).group(1).split()[0] for _, _, a in edges(rnn_dot)
            if "penwidth=2.5" in a} == {"h"}


def test_the_legend_lists_only_what_is_drawn_and_sits_beside_the_loss():
    loss, p = rnn(3)
    dot = graph.to_dot(loss, params=p)
    legend = dot.split("legend [")[1]
    assert "parameter" in legend and "the root (loss)" in legend and "h: state passed" in legend
    assert ">Op<" in legend and "#dbe7f5" not in legend  # ops coloured by gradient: no blue swatch
    assert "one box" not in legend and "left out" not in legend and "detach" not in legend
    (loss_node,) = [n for n, label in nodes(dot).items() if label.startswith("loss:")]
    assert f"{{rank=same; {loss_node}; legend}}" in dot
    plain = graph.to_dot(loss, params=p, show_grad=False, collapse=["*.t=*"])
    legend = plain.split("legend [")[1]
    assert "#dbe7f5" in legend and "one box" in legend and "gradient norm" not in legend
