"""The BPTT explorer: what it reads from the graph, the page it writes, and the page in a real browser."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from browser import chromium, missing

import tinygrad_seq as ts
from tinygrad_seq import Tensor, graph, nn
from tinygrad_seq.explorer import analyse
from tinygrad_seq.functional import cross_entropy

T, B, I, H, V = 6, 2, 3, 5, 4
LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
GATES = {"rnn": [], "lstm": ["i", "f", "g", "o"], "gru": ["r", "z", "n"]}


def language_model(kind: str, seed: int = 0, fused_loss: bool = False):
    """A recurrent layer and a linear head on fixed inputs (T, B, I): (loss, model, x, logits, output)."""
    rng = np.random.default_rng(seed)
    model = nn.Module()
    model.rnn = LAYERS[kind](I, H, rng=rng, dtype=np.float64)
    model.head = nn.Linear(H, V, rng=rng, dtype=np.float64)
    x = Tensor(np.random.default_rng(7).normal(size=(T, B, I)))
    out, _ = model.rnn(x)
    logits = model.head(out)  # (T, B, V)
    targets = np.random.default_rng(8).integers(0, V, T * B)
    return cross_entropy(logits.reshape(T * B, V), targets, fused=fused_loss), model, x, logits, out


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def reference_gates(kind: str, rnn: nn.Module, x: np.ndarray, out: np.ndarray) -> list[dict]:
    """The gates of batch element 0 at every step, in NumPy from the weights (torch's gate order)."""
    p = {name: t.numpy() for name, t in rnn.named_parameters()}
    H = p["weight_hh_l0"].shape[1]
    h_prev = np.zeros(H)
    gates = []
    for t in range(len(x)):
        gi = x[t, 0] @ p["weight_ih_l0"].T + p["bias_ih_l0"]
        gh = h_prev @ p["weight_hh_l0"].T + p["bias_hh_l0"]
        if kind == "lstm":
            z, g = sigmoid(gi + gh), np.tanh(gi + gh)
            gates.append({"i": z[:H], "f": z[H : 2 * H], "g": g[2 * H : 3 * H], "o": z[3 * H :]})
        else:
            z = sigmoid(gi[: 2 * H] + gh[: 2 * H])
            n = np.tanh(gi[2 * H :] + z[:H] * gh[2 * H :])
            gates.append({"r": z[:H], "z": z[H:], "n": n})
        h_prev = out[t, 0]
    return gates


@pytest.mark.parametrize("kind, fused_loss",
                         [("rnn", False), ("lstm", False), ("gru", False), ("lstm", True)])
def test_explorer_reads_states_inputs_outputs_and_gates_from_the_graph(kind, fused_loss):
    loss, model, x, logits, out = language_model(kind, fused_loss=fused_loss)
    found = analyse(loss, params=model, name=kind)
    assert found["T"] == T and found["keys"] == [f"rnn.l0.t={k}" for k in range(T)]
    assert [s["name"] for s in found["states"]] == (["h", "c"] if kind == "lstm" else ["h"])
    h = np.array(found["states"][0]["values"])
    np.testing.assert_allclose(h, out.numpy()[:, 0], rtol=1e-3, atol=1e-4)  # drawn to 4 digits
    np.testing.assert_allclose(np.array(found["inputs"]), x.numpy()[:, 0], rtol=1e-3, atol=1e-4)
    z = logits.numpy()[:, 0]
    softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose([o["probs"] for o in found["outputs"]], softmax, rtol=1e-3, atol=1e-4)
    assert [[g["label"] for g in step] for step in found["gates"]] == [GATES[kind]] * T
    if kind != "rnn":
        expected = reference_gates(kind, model.rnn, x.numpy(), out.numpy())
        for step, ref in zip(found["gates"], expected):
            for gate in step:
                np.testing.assert_allclose(gate["values"], ref[gate["label"]], rtol=1e-3, atol=1e-4)
    if kind == "lstm":  # h_t = o_t * tanh(c_t): the gate labelled o is the output gate
        c = np.array(found["states"][1]["values"])
        o = np.array([[g["values"] for g in step if g["label"] == "o"][0] for step in found["gates"]])
        np.testing.assert_allclose(h, o * np.tanh(c), atol=2e-3)


@pytest.mark.parametrize("kind, sizes", [("lstm", (4, 4, 4)), ("gru", (6, 2, 6)), ("gru", (3, 1, 3))])
def test_explorer_reads_tags_not_sizes_when_the_sizes_coincide(kind, sizes):
    """Hidden size = input size = classes (LSTM), and GRUs whose gate stack 3H is as wide as the input and
    the output: the states, input, gates and outputs still match NumPy, each gate read by its name."""
    I_, H_, V_ = sizes
    rng = np.random.default_rng(1)
    rnn = LAYERS[kind](I_, H_, rng=rng, dtype=np.float64)
    head = nn.Linear(H_, V_, rng=rng, dtype=np.float64)
    x = Tensor(np.random.default_rng(2).normal(size=(T, B, I_)))
    out, final = rnn(x)
    logits = head(out).reshape(T * B, V_)
    loss = cross_entropy(logits, np.random.default_rng(3).integers(0, V_, T * B))
    if kind == "lstm":
        loss = loss + final[1].sum()  # the loss reads c_n as well as h: h and c are told apart by name
    found = analyse(loss, params=rnn)
    assert [s["name"] for s in found["states"]] == (["h", "c"] if kind == "lstm" else ["h"])
    np.testing.assert_allclose(found["states"][0]["values"], out.numpy()[:, 0], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(found["inputs"], x.numpy()[:, 0], rtol=1e-3, atol=1e-4)
    z = logits.numpy()[::B]
    np.testing.assert_allclose([o["probs"] for o in found["outputs"]],
                               np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), rtol=1e-3, atol=1e-4)
    expected = reference_gates(kind, rnn, x.numpy(), out.numpy())
    assert [[g["label"] for g in step] for step in found["gates"]] == [GATES[kind]] * T
    for step, ref in zip(found["gates"], expected):
        for gate in step:
            np.testing.assert_allclose(gate["values"], ref[gate["label"]], rtol=1e-3, atol=1e-4)
            assert gate["low"] == (-1.0 if gate["label"] in "gn" else 0.0)
    if kind == "lstm":  # c_t = f c_(t-1) + i g, from the explorer's own numbers
        c = np.array(found["states"][1]["values"])
        gate = {g["label"]: np.array(g["values"]) for g in found["gates"][1]}
        np.testing.assert_allclose(c[1], gate["f"] * c[0] + gate["i"] * gate["g"], atol=2e-3)


def test_gates_are_read_by_name_from_a_hand_written_gru_with_one_4h_wide_projection():
    """A GRU step computed from one projection [r | z | n_x | n_h] of [x, h], 4H wide: a guess from the
    width (4H: an LSTM's i, f, g, o) would call r and z "i" and "f"; the tags say r, z and n."""
    rng = np.random.default_rng(4)
    Hs = 3
    x = Tensor(rng.normal(size=(T, 1, Hs)))
    w = Tensor(rng.normal(size=(2 * Hs, 4 * Hs)) / 2, requires_grad=True)
    h, rows = ts.zeros(1, Hs, dtype=np.float64), []
    for t in range(T):
        with ts.scope(f"t={t}"):
            a = ts.concatenate([ts.tag(x[t], "input"), h], axis=-1) @ w  # (1, 2H) @ (2H, 4H)
            rz = a[..., : 2 * Hs].sigmoid()
            r, z = ts.tag(rz[..., :Hs], "r"), ts.tag(rz[..., Hs:], "z")
            n = ts.tag((a[..., 2 * Hs : 3 * Hs] + r * a[..., 3 * Hs :]).tanh(), "n")
            h = ts.tag(n + z * (h - n), "h")
        rows.append({"r": r.numpy()[0], "z": z.numpy()[0], "n": n.numpy()[0]})
    found = analyse((h * h).sum(), params={"W": w})
    assert [[g["label"] for g in step] for step in found["gates"]] == [["r", "z", "n"]] * T
    for step, ref in zip(found["gates"], rows):
        for gate in step:
            np.testing.assert_allclose(gate["values"], ref[gate["label"]], rtol=1e-3, atol=1e-4)
    assert found["outputs"] is None  # no cross-entropy, no logits tagged


def test_a_loop_whose_steps_tag_no_state_is_refused_with_what_to_tag():
    w = Tensor(np.ones((2, 2)), requires_grad=True)
    h = Tensor(np.ones((1, 2)))
    for t in range(3):
        with ts.scope(f"t={t}"):
            h = (h @ w).tanh()  # no tag: the explorer does not guess which tensor is the state
    with pytest.raises(ValueError, match=r"tag\(h, 'h'\)"):
        analyse(h.sum())


def test_a_fused_layer_is_named_in_the_error_by_its_tags():
    layer = nn.LSTM(I, H, rng=np.random.default_rng(0), dtype=np.float64, fused=True)
    out, _ = layer(Tensor(np.ones((T, B, I))))
    with pytest.raises(ValueError, match=r"layer in LSTM\.l0 ran fused.*layer\.fused = False"):
        analyse(out.sum(), params=layer)
    assert out.tags == ((("LSTM", "l0"), "h"),) and out.shape == (T, B, H)  # every step's h, time-major


def test_tag_records_the_scope_once_and_returns_the_tensor():
    x = Tensor(np.ones(2))
    with ts.scope("loop"):
        assert ts.tag(x, "input") is x
        ts.tag(x, "input")  # a loop reading the same tensor again adds nothing
    with ts.scope("loop"), ts.scope("t=0"):
        ts.tag(x, "input")
    assert x.tags == ((("loop",), "input"), (("loop", "t=0"), "input"))
    assert Tensor(np.ones(2)).tags == ()  # untagged tensors share the class's empty tuple


def test_gradient_norms_are_the_gradient_reaching_each_step_of_a_hand_written_loop():
    rng = np.random.default_rng(3)
    x = Tensor(rng.normal(size=(8, 1, 2)))
    w_ih = Tensor(rng.normal(size=(2, 4)), requires_grad=True)
    w_hh = Tensor(0.5 * rng.normal(size=(4, 4)), requires_grad=True)
    h, hidden = ts.zeros(1, 4, dtype=np.float64), []
    for t in range(8):
        with ts.scope(f"t={t}"):
            h = ts.tag((ts.tag(x[t], "input") @ w_ih + h @ w_hh).tanh(), "h")
        hidden.append(h)
    loss = (hidden[-1] * Tensor(rng.normal(size=(4,)))).sum()
    expected = [np.linalg.norm(g.numpy()) for g in ts.grad(loss, hidden, retain_graph=True)]
    found = analyse(loss, params={"W_ih": w_ih, "W_hh": w_hh}, tokens=list("abcdefgh"))
    np.testing.assert_allclose(found["states"][0]["grad_norm"], expected, rtol=1e-12)
    assert expected[0] < expected[-1]  # the gradient shrinks on its way back
    np.testing.assert_allclose(np.array(found["inputs"]), x.numpy()[:, 0], rtol=1e-3, atol=1e-4)
    assert found["outputs"] is None and found["tokens"] == list("abcdefgh")
    assert [p["name"] for p in found["params"]] == ["W_ih", "W_hh"]


def expected_shares(loss: Tensor, weight: Tensor) -> tuple[dict[str, tuple[float, float]], float]:
    """key -> (component along the whole gradient, norm) of each step's share, from graph.step_grads."""
    parts = graph.step_grads(loss, tensor=weight)
    total = sum(parts.values())
    size = np.linalg.norm(total)
    return {k: (float(np.vdot(v, total) / size), float(np.linalg.norm(v))) for k, v in parts.items()}, size


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_each_parameter_is_split_into_step_shares_that_add_up_to_its_gradient(kind):
    loss, model, *_ = language_model(kind)
    found = analyse(loss, params=model)
    loss.backward()
    by_name = dict(model.named_parameters())
    assert [p["name"] for p in found["params"]] == list(by_name)
    for p in found["params"]:
        grad = by_name[p["name"]].grad.numpy()
        assert p["total"] == pytest.approx(np.linalg.norm(grad), rel=1e-12)
        assert sum(s["along"] for s in p["shares"]) == pytest.approx(p["total"], rel=1e-12)
    w = next(p for p in found["params"] if p["name"] == "rnn.weight_hh_l0")
    assert [s["label"] for s in w["shares"]] == [f"t={k}" for k in range(T)]
    head = next(p for p in found["params"] if p["name"] == "head.weight")
    assert [s["key"] for s in head["shares"]] == ["head"]  # used after the loop only


def test_shares_equal_graph_step_grads():
    loss, model, *_ = language_model("lstm")
    found = analyse(loss, params=model)
    for p, (name, weight) in zip(found["params"], model.named_parameters()):
        expected, size = expected_shares(loss, weight)
        assert p["name"] == name and p["total"] == pytest.approx(size, rel=1e-12)
        for s in p["shares"]:
            along, norm = expected.get(s["key"], (0.0, 0.0))
            assert s["along"] == pytest.approx(along, rel=1e-9, abs=1e-15)
            assert s["norm"] == pytest.approx(norm, rel=1e-9, abs=1e-15)


def test_the_page_is_one_self_contained_file(tmp_path):
    loss_rnn, rnn, *_ = language_model("rnn")
    loss_lstm, lstm, *_ = language_model("lstm")
    path = graph.explore(loss_rnn, params=rnn, name="RNN", compare={"LSTM": (loss_lstm, lstm)},
                         tokens=list("abcdef"), vocab=list("wxyz"), path=tmp_path / "sub" / "bptt.html")
    text = open(path, encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    addresses = set(re.findall(r"[a-z]+://[^\s\"'<>]*", text))
    assert addresses == {"http://www.w3.org/2000/svg"}  # the SVG namespace: a name, never fetched
    assert not re.search(r"\b(src|href)\s*=|@import|url\(|fetch\(|XMLHttpRequest", text)
    data = re.search(r'<script type="application/json" id="explore-data">(.*?)</script>', text, re.S)[1]
    data = json.loads(data)
    assert [m["name"] for m in data["models"]] == ["RNN", "LSTM"] and data["T"] == T
    assert all(len(m["captions"]) == 2 * T for m in data["models"])
    assert text.count('class="fwd"') == 2 * T and text.count('class="share"') == 12


def test_explorer_errors_say_what_to_do(tmp_path):
    loss, model, *_ = language_model("rnn")
    with pytest.raises(ValueError, match="6 time steps"):
        analyse(loss, tokens=["a"])
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        graph.explore(loss, path=tmp_path / "x.html")
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"scope\('t=k'\)"):
        graph.explore((w * w).sum(), path=tmp_path / "x.html")
    assert not os.path.exists(tmp_path / "x.html")


def test_explorer_in_a_browser(tmp_path):
    """Load the page in Chromium, move the slider, click a weight and a step, read the numbers back."""
    if missing():  # CI installs the browser (.ci/run), so there a missing one is a failure
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing())
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    loss_rnn, rnn, *_ = language_model("rnn")
    loss_lstm, lstm, *_ = language_model("lstm")
    path = graph.explore(loss_rnn, params=rnn, name="RNN", compare={"LSTM": (loss_lstm, lstm)},
                         tokens=list("abcdef"), path=tmp_path / "bptt.html")
    with chromium(1500, 1100) as driver:
        driver.get("file://" + os.path.abspath(path))
        find = lambda css: driver.find_elements(By.CSS_SELECTOR, css)  # noqa: E731
        phase = driver.find_element(By.ID, "phase")
        assert phase.text == "backward pass: the gradient has reached t=0"
        assert not find("#m0 .fwd.future") and not find("#m0 .bwd.nograd")

        slider = driver.find_element(By.ID, "time")
        slider.send_keys(Keys.HOME, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)  # forward pass, step 2
        assert slider.get_attribute("value") == "2" and phase.text == "forward pass: step t=2"
        assert len(find("#m0 .fwd.future")) == T - 3 and len(find("#m1 .bwd.nograd")) == T
        assert [e.get_attribute("data-step") for e in find("#m0 .dist") if e.is_displayed()] == ["2"]
        assert driver.find_element(By.ID, "m0-caption").text.startswith("forward, t=2: reads “c”")

        slider.send_keys(Keys.END, Keys.ARROW_LEFT, Keys.ARROW_LEFT)  # backward pass, reached t=2
        assert phase.text == "backward pass: the gradient has reached t=2"
        assert not find("#m0 .fwd.future") and len(find("#m0 .bwd.nograd")) == 2
        expected = analyse(loss_lstm, params=lstm)["states"]
        caption = driver.find_element(By.ID, "m1-caption").text
        assert f"‖dL/dh_2‖ = {expected[0]['grad_norm'][2]:.1e}" in caption
        assert f"‖dL/dc_2‖ = {expected[1]['grad_norm'][2]:.1e}" in caption

        button = next(b for b in find("#m1 .param") if b.text.startswith("rnn.weight_ih_l0"))
        button.click()
        panel = driver.find_element(By.ID, f"m1-share-{button.get_attribute('data-param')}")
        assert panel.is_displayed() and [p for p in find("#m1 .share") if p.is_displayed()] == [panel]
        want, size = expected_shares(loss_lstm, lstm.rnn.weight_ih_l0)
        bars = panel.find_elements(By.CSS_SELECTOR, ".bar")
        assert [b.get_attribute("data-key") for b in bars] == [f"rnn.l0.t={k}" for k in range(T)]
        for bar in bars:
            along, norm = want[bar.get_attribute("data-key")]
            assert abs(float(bar.get_attribute("data-along")) - along) < 1e-6
            assert abs(float(bar.get_attribute("data-norm")) - norm) < 1e-6
        total = float(panel.find_element(By.CSS_SELECTOR, ".total").get_attribute("data-total"))
        assert abs(total - size) < 1e-6 and abs(sum(want[k][0] for k in want) - size) < 1e-6

        find('#m1 .col[data-col="3"]')[0].click()
        step = driver.find_element(By.ID, "m1-step-3")
        assert step.is_displayed() and "step t=3 (reads d)" in step.text
        assert [t.text for t in step.find_elements(By.CSS_SELECTOR, "text")] == ["i", "f", "g", "o"]
        assert not driver.find_element(By.ID, "m1-step-5").is_displayed()

        shot = tmp_path / "explorer.png"
        driver.save_screenshot(str(shot))
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(shot) > 20_000
