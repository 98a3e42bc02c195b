"""graph.to_dot / draw / render: what the picture holds, checked on the DOT text and on dot's layout."""

from __future__ import annotations

import gc
import importlib.util
import os
import re
import weakref

import numpy as np
import pytest
from helpers import LABEL, NODE, dot_available, edges, layout_x, nodes, rnn

import tinygrad_seq as ts
from tinygrad_seq import Tensor, graph, nn
from tinygrad_seq.autograd import toposort

NORM = re.compile(r"‖g‖ ([0-9.e+-]+)")


# ---------------------------------------------------------------------------------------------
# reading DOT text
# ---------------------------------------------------------------------------------------------


def node_with(dot: str, label_start: str) -> str:
    (found,) = [n for n, label in nodes(dot).items() if label.startswith(label_start)]
    return found


def clusters(dot: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """(path of cluster labels, the node ids directly inside) in the order the clusters open."""
    result, stack = [], []
    for line in dot.splitlines():
        line = line.strip()
        if line.startswith("subgraph cluster_"):
            stack.append(None)
        elif line.startswith("graph [label=") and stack:
            stack[-1] = LABEL.search(line).group(1)
            result.append((tuple(stack), []))
        elif line == "}" and stack:
            stack.pop()
        elif NODE.match(line) and stack:
            path = tuple(stack)
            next(members for p, members in reversed(result) if p == path).append(NODE.match(line).group(1))
    return result


def members(dot: str, path: tuple[str, ...]) -> list[str]:
    """Every node id inside the cluster `path`, nested clusters included."""
    return [n for p, ids in clusters(dot) if p[: len(path)] == path for n in ids]


def fmt(norm: float) -> str:
    """A norm as the pictures print it."""
    return "0" if norm == 0 else f"{norm:.1e}"


# ---------------------------------------------------------------------------------------------
# graphs to draw: recurrent cells written with core ops, one scope per time step
# ---------------------------------------------------------------------------------------------


def gru(T: int, H: int = 3, seed: int = 0):
    """A GRU whose W_hh (H, 3H) is sliced three times per step: three reads of one weight per step."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.normal(size=(T, 2, 2)))
    w_ih = Tensor(rng.normal(size=(2, 3 * H)) * 0.5, requires_grad=True)
    w_hh = Tensor(rng.normal(size=(H, 3 * H)) * 0.5, requires_grad=True)
    h = ts.zeros(2, H, dtype=np.float64)
    with ts.scope("gru"):
        for t in range(T):
            with ts.scope(f"t={t}"):
                gi = x[t] @ w_ih  # (B, 3H)
                r = (gi[:, :H] + h @ w_hh[:, :H]).sigmoid()
                z = (gi[:, H : 2 * H] + h @ w_hh[:, H : 2 * H]).sigmoid()
                n = (gi[:, 2 * H :] + r * (h @ w_hh[:, 2 * H :])).tanh()
                h = ts.tag((1 - z) * n + z * h, "h")
    return h.sum(), {"w_ih": w_ih, "w_hh": w_hh}


# ---------------------------------------------------------------------------------------------
# the DOT text
# ---------------------------------------------------------------------------------------------

GOLDEN = r"""digraph tinygrad_seq {
  graph [rankdir="LR", fontname="Helvetica", fontsize=11, newrank="true", nodesep=0.25, ranksep=0.35];
  node [fontname="Helvetica", fontsize=10];
  edge [fontname="Helvetica", fontsize=9, color="#555555", arrowsize=0.6];
  n0 [shape="record", style="filled", fillcolor="#f2f2f2", label="input|(2,) float64"];
  n1 [shape="record", style="filled", fillcolor="#fff1c1", label="w|(2,) float64|‖grad‖ 2.2e+00", penwidth=1.5];
  n2 [shape="box", style="rounded,filled", fillcolor="#fbd349", fontcolor="black", label="Mul\n(2,) float64\n‖g‖ 1.4e+00"];
  n3 [shape="record", style="filled", fillcolor="#fff1c1", label="b|scalar float64|‖grad‖ 2.0e+00", penwidth=1.5];
  n4 [shape="box", style="rounded,filled", fillcolor="#fbd349", fontcolor="black", label="Add\n(2,) float64\n‖g‖ 1.4e+00"];
  n5 [shape="box", style="rounded,filled", peripheries=2, fillcolor="#e6d3f5", label="loss: Sum\nscalar float64\n= -1"];
  n0 -> n2;
  n1 -> n2;
  n2 -> n4;
  n3 -> n4;
  n4 -> n5;
}
"""  # noqa: E501


def test_golden_dot_for_x_times_w_plus_b():
    # loss = sum(x * w + b) = -1; dL/dw = x = [1, 2] (norm 2.2), dL/db = 2, dL/d(x*w) = [1, 1] (norm 1.4)
    x = Tensor(np.array([1.0, 2.0]))
    w = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    b = Tensor(np.array(0.25), requires_grad=True)
    loss = (x * w + b).sum()
    assert graph.to_dot(loss, params={"w": w, "b": b}, legend=False) == GOLDEN


def test_without_gradients_ops_are_plain_and_parameters_unnamed():
    x = Tensor(np.array([1.0, 2.0]))
    w = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    dot = graph.to_dot((x * w).sum(), show_grad=False, legend=False)
    assert "‖" not in dot
    assert nodes(dot) == {"n0": "input|(2,) float64", "n1": "parameter|(2,) float64",
                          "n2": "Mul\\n(2,) float64", "n3": "loss: Sum\\nscalar float64\\n= -1.5"}


def test_node_count_is_the_topological_order_plus_the_leaves_and_numbering_follows_it():
    loss, _ = rnn(4)
    dot = graph.to_dot(loss)
    order = toposort([loss])
    leaves = {id(x) for fn in order for x in fn.inputs if x.grad_fn is None}
    assert len(nodes(dot)) == len(order) + len(leaves)
    for a, b, _ in edges(dot):  # every edge points from a lower number to a higher one
        assert int(a[1:]) < int(b[1:])
    assert [label.split("\\n")[0] for label in nodes(dot).values()].count("Tanh") == 4


def test_same_graph_same_text_and_no_object_ids_leak():
    first, params = rnn(5, seed=3)
    again, params_again = rnn(5, seed=3)  # the same graph built twice: other objects, other addresses
    text = graph.to_dot(first, params=params)
    assert text == graph.to_dot(again, params=params_again)
    assert graph.to_dot(first, collapse=["*.t=*"]) == graph.to_dot(again, collapse=["*.t=*"])
    assert not re.search(r"0x[0-9a-f]+|\d{7,}", text)  # no address or id() in the text
    assert str(id(first.grad_fn)) not in text
    other, params_other = rnn(5, seed=4)  # and the comparison sees the numbers: other weights, other text
    assert graph.to_dot(other, params=params_other) != text


class _Cube(ts.Function):
    """out = x**3;  dx = 3 x**2 grad: an op that declares its picture's label and legend."""

    label = "cube"
    legend = "cube: out = x³"

    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, grad):
        return grad * (3 * self.x**2)


class _Twice(ts.Function):
    """out = 2 x: an op that declares nothing (its box shows its name, the legend nothing)."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad):
        return grad * 2


def test_an_op_box_shows_its_declared_label_and_the_legend_lists_only_declared_legends():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = _Cube.apply(_Twice.apply(_Cube.apply(x)))
    dot = graph.to_dot(y.sum())
    boxes = [label.split("\\n")[0] for label in nodes(dot).values()]
    assert boxes.count("cube") == 2 and "_Twice" in boxes and "_Cube" not in boxes
    plain = graph.to_dot(_Twice.apply(_Twice.apply(_Twice.apply(x))).sum())  # the same, no declared legend
    rows = lambda d: d[d.index("legend ["):d.rindex("</TABLE>")].split("<TR>")  # noqa: E731
    added = [r for r in rows(dot) if r not in rows(plain)]
    assert len(added) == 1 and "cube: out = x³" in added[0]  # one line, however often the op is used
    assert _Twice().label is None and _Twice.legend is None  # Function's defaults: no label, no line


def test_to_dot_is_pure_gradients_are_computed_not_stored():
    loss, p = rnn(3)
    graph.to_dot(loss, per_step_grad=True)
    assert all(w.grad is None for w in p.values())
    loss.backward()  # drawing neither released the graph nor left anything to accumulate
    fresh, q = rnn(3)
    fresh.backward()
    for name in p:
        np.testing.assert_array_equal(p[name].grad.numpy(), q[name].grad.numpy())


def test_time_steps_are_clusters_nested_in_the_layer_and_laid_out_left_to_right():
    dot_available()
    loss, p = rnn(4)
    dot = graph.to_dot(loss, params=p, layout="row")
    paths = [path for path, _ in clusters(dot)]
    assert paths == [("rnn",), ("rnn", "t=0"), ("rnn", "t=1"), ("rnn", "t=2"), ("rnn", "t=3")]
    x = layout_x(dot)
    for k in range(3):
        now, later = members(dot, ("rnn", f"t={k}")), members(dot, ("rnn", f"t={k + 1}"))
        assert max(x[n] for n in now) < min(x[n] for n in later)


def test_a_shared_weight_is_drawn_once_outside_the_steps_with_one_edge_per_step():
    loss, p = rnn(5)
    dot = graph.to_dot(loss, params=p)
    w = node_with(dot, "w_hh|")
    assert [label for label in nodes(dot).values() if label.startswith("w_hh")] == [nodes(dot)[w]]
    assert w in members(dot, ("rnn",)) and not any(w in members(dot, ("rnn", f"t={k}")) for k in range(5))
    into = [b for a, b, _ in edges(dot) if a == w]
    step_of = {n: k for k in range(5) for n in members(dot, ("rnn", f"t={k}"))}
    assert sorted(step_of[b] for b in into) == [0, 1, 2, 3, 4]


def test_a_weight_read_three_times_per_step_has_one_edge_per_collapsed_step():
    loss, p = gru(4)
    op_level = graph.to_dot(loss, params=p)
    assert len([1 for a, _, _ in edges(op_level) if a == node_with(op_level, "w_hh|")]) == 12
    boxes = graph.to_dot(loss, params=p, collapse=["*.t=*"])
    w = node_with(boxes, "w_hh|")
    targets = [nodes(boxes)[b].split("\\n")[0] for a, b, _ in edges(boxes) if a == w]
    assert targets == ["t=0", "t=1", "t=2", "t=3"]


def test_per_step_shares_add_up_to_the_gradient_of_the_shared_weight():
    loss, p = rnn(6, every_step=True)
    shares = graph.step_grads(loss, tensor=p["w_hh"])
    assert list(shares) == [f"rnn.t={k}" for k in range(6)]
    np.testing.assert_array_equal(shares["rnn.t=0"], 0)  # h_0 = 0, so step 0 adds nothing to dL/dW_hh
    dot = graph.to_dot(loss, params=p, per_step_grad=True)
    labels = [NORM.search(attrs).group(1) for a, _, attrs in edges(dot) if a == node_with(dot, "w_hh|")]
    assert labels == [fmt(np.linalg.norm(shares[f"rnn.t={k}"])) for k in range(6)]
    assert labels[0] == "0"
    loss.backward()
    np.testing.assert_allclose(sum(shares.values()), p["w_hh"].grad.numpy(), rtol=1e-12, atol=1e-14)
    assert len({f"{np.linalg.norm(s):.3e}" for s in shares.values()}) == 6  # the steps really differ


def test_per_step_shares_of_a_layer_whose_weight_is_transposed_once_before_the_loop():
    layer = nn.LSTM(2, 3, rng=np.random.default_rng(0), dtype=np.float64)
    x = Tensor(np.random.default_rng(1).normal(size=(5, 2, 2)))
    out, _ = layer(x)
    loss = (out * out).sum()
    shares = graph.step_grads(loss, tensor=layer.weight_hh_l0)
    assert list(shares) == [f"LSTM.l0.t={k}" for k in range(5)]
    dot = graph.to_dot(loss, params=layer, per_step_grad=True, collapse=["*.t=*"])
    # the layer stacks each step's (B, H) output as (1, B, H) after its loop: drawn inside the step's box
    assert not [label for label in nodes(dot).values() if label.startswith("Reshape\\n(1, 2, 3)")]
    assert "→ (2, 3), (1, 2, 3) float64" in nodes(dot)[node_with(dot, "t=2")].replace("\\n", "\n")
    transpose = [n for n, label in nodes(dot).items() if label.startswith("Transpose\\n(3, 12)")]
    labels = [NORM.search(attrs).group(1) for a, _, attrs in edges(dot) if a in transpose]
    assert labels == [fmt(np.linalg.norm(shares[f"LSTM.l0.t={k}"])) for k in range(5)]
    loss.backward()
    np.testing.assert_allclose(sum(shares.values()), layer.weight_hh_l0.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_step_grads_needs_the_graph():
    loss, p = rnn(3)
    loss.backward()
    with pytest.raises(RuntimeError, match="released by backward"):
        graph.step_grads(loss, tensor=p["w_hh"])


def test_collapse_and_max_steps_bound_the_node_count_of_a_200_step_unroll():
    long, _ = rnn(200, H=2, B=1)
    longer, _ = rnn(300, H=2, B=1)
    full = len(nodes(graph.to_dot(long, legend=False)))
    boxes = graph.to_dot(long, collapse=["*.t=*"], legend=False)
    assert len(nodes(boxes)) < full / 2
    assert [nodes(boxes)[n].split("\\n")[0] for n in members(boxes, ("rnn",))].count("t=199") == 1
    short = graph.to_dot(long, collapse=["*.t=*"], max_steps=6)
    assert len(nodes(short)) <= 25
    assert len(nodes(short)) == len(nodes(graph.to_dot(longer, collapse=["*.t=*"], max_steps=6)))
    steps = [label.split("\\n")[0] for label in nodes(short).values() if label.startswith("t=")]
    assert steps == ["t=0", "t=1", "t=2", "t=197", "t=198", "t=199"]
    (gap,) = [label for label in nodes(short).values() if "steps" in label]
    assert gap.startswith("… 194 steps …\\nt=3 … t=196")
    ops_only = graph.to_dot(long, max_steps=4)  # op by op, first 2 and last 2 steps
    assert len(nodes(ops_only)) <= 4 * 6 + 12


def test_max_steps_also_elides_the_ops_only_elided_steps_feed():
    # a layer stacks every step's output after its loop, outside the steps: those ops join the gap
    counts = []
    for T in (50, 100):
        layer = nn.RNN(2, 3, rng=np.random.default_rng(0), dtype=np.float64)
        out, _ = layer(Tensor(np.random.default_rng(1).normal(size=(T, 1, 2))))
        dot = graph.to_dot(out.sum(), collapse=["*.t=*"], max_steps=6)
        counts.append(len(nodes(dot)))
        assert len([label for label in nodes(dot).values() if label.startswith("Reshape")]) <= 6 + 1
    assert counts[0] == counts[1] <= 30
    assert "subgraph" not in graph.to_dot(out.sum(), group=None, collapse=["*.t=*"], max_steps=6)


def test_collapse_by_depth_and_the_box_label():
    loss, _ = rnn(3, H=4, B=2)
    per_step = graph.to_dot(loss, collapse=1)
    labels = [label for label in nodes(per_step).values() if label.startswith("t=")]
    # each step: x_t @ W_ih, h @ W_hh, two adds, tanh (5 ops), making one (B, H) state
    assert labels[1].split("\\n")[:3] == ["t=1", "5 ops", "→ (2, 4) float64"]
    whole = graph.to_dot(loss, collapse=0, legend=False)
    layer = [label.split("\\n")[:2] for label in nodes(whole).values() if label.startswith("rnn")]
    assert layer == [["rnn", "15 ops"]]


def test_hidden_state_gradient_vanishes_backwards_through_time():
    loss, p = rnn(8, scale=0.3)
    dot = graph.to_dot(loss, params=p)
    state = [float(NORM.search(attrs).group(1)) for _, _, attrs in edges(dot) if "penwidth=2.5" in attrs]
    assert len(state) == 7  # one hidden state crosses each of the 7 step boundaries
    assert all(earlier < later for earlier, later in zip(state, state[1:]))
    assert state[0] < state[-1] / 10
    legend = dot[dot.index("legend ["):]
    assert 'BGCOLOR="#1a237e"' in legend and "1e-8" in legend and "1e+2" in legend


def test_after_a_released_backward_only_leaf_gradients_are_shown_and_the_legend_says_so():
    loss, p = rnn(3)
    loss.backward()
    dot = graph.to_dot(loss, params=p)
    assert "‖g‖" not in "".join(nodes(dot).values())  # no op gradients: the graph is gone
    assert f"‖grad‖ {np.linalg.norm(p['w_hh'].grad.numpy()):.1e}" in nodes(dot)[node_with(dot, "w_hh|")]
    assert "released by backward()" in dot and "retain_graph=True" in dot

    kept, q = rnn(3)
    kept.backward(retain_graph=True)
    assert "released" not in graph.to_dot(kept, params=q)
    assert "‖g‖" in "".join(nodes(graph.to_dot(kept, params=q)).values())


def test_state_edges_are_named_by_their_tags_and_untagged_states_stay_unnamed():
    """An LSTM cell stepped by hand, the loss reading h and c at every step (so neither is "the output"):
    the picture names each state by the tag the cell gave it; a loop that tags nothing gets no names."""
    cell = nn.LSTMCell(2, 3, rng=np.random.default_rng(0), dtype=np.float64)
    x = Tensor(np.random.default_rng(1).normal(size=(3, 1, 2)))
    h = c = ts.zeros(1, 3, dtype=np.float64)
    loss = 0.0
    for t in range(3):
        with ts.scope(f"t={t}"):
            h, c = cell(x[t], (h, c))
        loss = loss + h.sum() + c.sum()
    dot = graph.to_dot(loss, collapse=["*.t=*"])
    names = sorted(LABEL.search(a).group(1).split()[0] for _, _, a in edges(dot) if "penwidth=2.5" in a)
    assert names == ["c", "c", "h", "h"]

    w = Tensor(np.eye(2), requires_grad=True)
    g = Tensor(np.ones((1, 2)))
    for t in range(3):
        with ts.scope(f"t={t}"):
            g = (g @ w).tanh()  # a state nobody tagged
    plain = [LABEL.search(a) for _, _, a in edges(graph.to_dot(g.sum(), collapse=["*.t=*"]))
             if "penwidth=2.5" in a]
    assert len(plain) == 2 and all(m.group(1).startswith("‖g‖") for m in plain)


def test_a_detach_is_a_dashed_cut_edge_and_keeps_no_old_graph_alive():
    loss, p = rnn(4, detach_at=2, every_step=True)
    dot = graph.to_dot(loss, params=p)
    (cut,) = [e for e in edges(dot) if "✂ detach" in e[2]]
    assert "dashed" in cut[2]
    assert cut[0] in members(dot, ("rnn", "t=1")) and nodes(dot)[cut[0]].startswith("Tanh")
    assert cut[1] in members(dot, ("rnn", "t=2")) and nodes(dot)[cut[1]].startswith("✂ detached")

    x = Tensor(np.ones(3), requires_grad=True)
    h = (x * 2).tanh()
    carried, old = h.detach(), weakref.ref(h.grad_fn)
    del h
    gc.collect()
    assert old() is None  # the detached tensor keeps no old graph alive
    assert "✂ detached (source not drawn)" in graph.to_dot((carried * x).sum())


def test_a_detached_state_indexed_by_a_layer_is_still_a_cut():
    layer = nn.GRU(2, 3, rng=np.random.default_rng(0), dtype=np.float64)
    x = Tensor(np.random.default_rng(1).normal(size=(4, 1, 2)))
    with ts.scope("chunk0"):
        out0, h = layer(x[:2])
    with ts.scope("chunk1"):
        out1, _ = layer(x[2:], h.detach())  # the layer reads h.detach()[0]: a view, not the detached tensor
    dot = graph.to_dot((out0.sum() + out1.sum()), collapse=["*.t=*"])
    (cut,) = [e for e in edges(dot) if "✂ detach" in e[2]]
    assert cut[0] in members(dot, ("chunk0",)) and cut[1] in members(dot, ("chunk1",))


def test_a_10000_node_graph_without_recursion():
    x = Tensor(np.array([0.5]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y.tanh()
    dot = graph.to_dot(y.sum(), legend=False)
    assert len(nodes(dot)) == 10_002  # 10,000 tanh, the sum, and x


def test_params_from_a_module_or_a_dict_and_values_when_asked():
    class Holder:  # anything with named_parameters() names the leaves
        def __init__(self, **params):
            self.params = params

        def named_parameters(self):
            return iter(self.params.items())

    x = Tensor(np.array([1.0, -2.0]))
    w = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    loss = (x * w).sum()
    assert node_with(graph.to_dot(loss, params=Holder(**{"cell.weight": w})), "cell.weight|")
    dot = graph.to_dot(loss, params={"x": x, "w": w}, show_values=True, show_grad=False)
    assert nodes(dot)[node_with(dot, "x|")] == "x|(2,) float64|[ 1., -2.]"
    assert nodes(dot)[node_with(dot, "Mul")] == "Mul\\n(2,) float64\\n[ 3., -8.]"


def test_draw_gives_a_graphviz_source():
    graphviz = pytest.importorskip("graphviz")
    loss, _ = rnn(2)
    source = graph.draw(loss, collapse=["*.t=*"])
    assert isinstance(source, graphviz.Source)
    assert source.source == graph.to_dot(loss, collapse=["*.t=*"])


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------


def test_render_svg_and_png_through_dot(tmp_path):
    dot_available()
    loss, p = rnn(3)
    svg = graph.render(loss, path=tmp_path / "rnn.svg", params=p, per_step_grad=True)
    text = open(svg, encoding="utf-8").read()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and ">t=2<" in text and "w_hh" in text
    png = graph.render(loss, path=tmp_path / "pictures" / "rnn", format="png", collapse=["*.t=*"])
    assert png == str(tmp_path / "pictures" / "rnn.png")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "rnn.dot").exists()  # the DOT text is only left behind when dot is missing


def test_render_dot_text_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    loss, _ = rnn(2)
    path = graph.render(loss, path=tmp_path / "g.dot")
    assert open(path, encoding="utf-8").read() == graph.to_dot(loss)
    with pytest.raises(ValueError, match="not one of svg, png, pdf, dot"):
        graph.render(loss, path=tmp_path / "g.jpeg")


def test_render_without_dot_writes_the_dot_file_and_says_how_to_install(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    loss, _ = rnn(2)
    with pytest.raises(graph.GraphvizNotFound) as info:
        graph.render(loss, path=tmp_path / "out" / "rnn.png")
    message = str(info.value)
    written = tmp_path / "out" / "rnn.dot"
    assert str(written) in message
    for how in ("apt-get install graphviz", "brew install graphviz", "conda install -c conda-forge graphviz",
                "winget install graphviz"):
        assert how in message
    assert written.read_text(encoding="utf-8") == graph.to_dot(loss)
    assert not (tmp_path / "out" / "rnn.png").exists()
    assert info.value.__cause__ is None and info.value.__context__ is None  # one error, not a chain


@pytest.mark.slow
def test_the_demo_draws_its_pictures_and_the_rnn_gradient_vanishes_where_the_lstm_does_not(tmp_path):
    dot_available()
    demos = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demos")
    spec = importlib.util.spec_from_file_location("graphs_demo", os.path.join(demos, "graphs.py"))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    result = demo.main(["--quick", "--out", str(tmp_path)])
    names = sorted(os.path.basename(p) for p in result["written"])
    assert names == sorted(f"{n}.{f}" for n in ("rnn_ops", "lstm_steps", "gru_steps", "lstm_truncated",
                                                 "rnn_vs_lstm") for f in ("png", "svg"))
    assert all(os.path.getsize(p) > 10_000 for p in result["written"])
    # 60 steps back from the loss: the RNN's share of dL/dW_hh from step 1 has vanished, the LSTM's has not
    assert result["rnn"]["first"] < 1e-8 * result["rnn"]["last"]
    assert result["lstm"]["first"] > 1e-3 * result["lstm"]["last"]
