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


def per_step_loss_rnn(T_: int = 5, seed: int = 0):
    """A tanh RNN with a cross-entropy inside each step (L = L_0 + ... + L_(T-1)): (loss, terms, hidden,
    weights)."""
    rng = np.random.default_rng(seed)
    w = {"W_xh": Tensor(rng.normal(size=(V, H)) / 2, requires_grad=True),
         "W_hh": Tensor(rng.normal(size=(H, H)) / 2, requires_grad=True),
         "W_hy": Tensor(rng.normal(size=(H, V)) / 2, requires_grad=True)}
    x = Tensor(np.eye(V)[rng.integers(0, V, T_)][:, None])  # (T, 1, V) one-hot
    targets = rng.integers(0, V, T_)
    h, terms, hidden = Tensor(rng.uniform(-0.5, 0.5, (1, H))), [], []
    for t in range(T_):
        with ts.scope(f"t={t}"):
            h = ts.tag((ts.tag(x[t], "input") @ w["W_xh"] + h @ w["W_hh"]).tanh(), "h")
            with ts.scope(f"L_{t}"):
                terms.append(cross_entropy(h @ w["W_hy"], targets[t : t + 1]))
        hidden.append(h)
    loss = terms[0]
    for term in terms[1:]:
        loss = loss + term
    return loss, terms, hidden, w, targets


def test_each_loss_term_is_differentiated_alone():
    """Steps with losses of their own: each term L_k reaches the states up to k only (lesson 2's triangle),
    with the gradient norms and parameter shares of grad(L_k) alone."""
    loss, terms, hidden, w, targets = per_step_loss_rnn()
    found = analyse(loss, params=w, targets=targets)
    assert [t["label"] for t in found["terms"]] == [f"L_{k}" for k in range(5)]
    assert found["targets"] == [int(t) for t in targets]
    assert "L_0 + … + L_4" in found["loss_text"] and "cross-entropy" in found["loss_text"]
    for k, (term, found_term) in enumerate(zip(terms, found["terms"])):
        assert found_term["value"] == pytest.approx(term.item(), rel=1e-12)
        expected = [np.linalg.norm(g.numpy()) for g in ts.grad(term, hidden[: k + 1], retain_graph=True)]
        np.testing.assert_allclose(found_term["grad_norm"][0][: k + 1], expected, rtol=1e-12)
        assert found_term["grad_norm"][0][k + 1 :] == [0.0] * (4 - k)  # L_k never reaches a later step
        whole = next(j for j, p in enumerate(found["params"]) if p["name"] == "W_hh")
        (dw,) = ts.grad(term, [w["W_hh"]], retain_graph=True)
        shares = found_term["params"][whole]
        assert shares["total"] == pytest.approx(np.linalg.norm(dw.numpy()), rel=1e-9)
        assert sum(a for a, _ in shares["shares"]) == pytest.approx(shares["total"], rel=1e-9)
        assert [n for _, n in shares["shares"]][k + 1 :] == [0.0] * (4 - k)


def test_the_page_says_what_the_loss_and_the_steps_are():
    loss, model, *_ = language_model("lstm")  # one mean cross-entropy after the loop: no terms
    found = analyse(loss, params=model)
    assert found["terms"] == [] and found["loss_text"].startswith(f"L = {loss.item():.4g}: the cross-entropy")
    assert any("c_t = f ⊙ c_(t-1) + i ⊙ g" in line for line in found["equations"])
    gru = analyse(language_model("gru")[0])
    assert any("h_t = (1 − z) ⊙ n + z ⊙ h_(t-1)" in line for line in gru["equations"])
    rnn = analyse(language_model("rnn")[0])
    assert rnn["equations"][0].startswith("h_t = tanh(")
    w = Tensor(np.eye(2) / 2, requires_grad=True)
    h = Tensor(np.ones((1, 2)))
    for t in range(3):
        with ts.scope(f"t={t}"):
            h = ts.tag((h @ w).tanh(), "h")
    score = (h * Tensor([[1.0, -3.0]])).sum()  # a readout that is negative here
    text = analyse(score)["loss_text"]
    assert score.item() < 0 and "not a cross-entropy" in text and "negative" in text
    said = analyse(score, loss_text="L = v · h_2, a readout")["loss_text"]
    assert said == "L = v · h_2, a readout"
    head = next(p for p in found["params"] if p["name"] == "head.bias")
    w_hh = next(p for p in found["params"] if p["name"] == "rnn.weight_hh_l0")
    assert not head["in_loop"] and w_hh["in_loop"]
    with pytest.raises(ValueError, match="2 targets for 6 time steps"):
        analyse(loss, targets=[0, 1])


def test_the_input_of_an_embedding_model_is_the_embedding_of_the_token():
    """The row drawn as "input" is what the steps read: the token's embedding vector, not W_ih x + b."""
    rng = np.random.default_rng(5)
    model = nn.Module()
    model.embedding = nn.Embedding(V, I, rng=rng, dtype=np.float64)
    model.rnn = nn.LSTM(I, H, rng=rng, dtype=np.float64)
    model.head = nn.Linear(H, V, rng=rng, dtype=np.float64)
    ids = rng.integers(0, V, (T, B))
    out, _ = model.rnn(model.embedding(ids))
    loss = cross_entropy(model.head(out).reshape(T * B, V), rng.integers(0, V, T * B))
    found = analyse(loss, params=model)
    rows = model.embedding.weight.numpy()[ids[:, 0]]  # (T, I): the embedding of each step's token
    np.testing.assert_allclose(found["inputs"], rows, rtol=1e-3, atol=1e-4)
    assert len(found["inputs"][0]) == I != 4 * H


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


def test_explorer_hover_follow_target_terms_and_log_scale_in_a_browser(tmp_path):
    """Hover a cell of h (its unit and value), click it to follow the unit over time, find the target's mark
    in p(next), switch the share bars to a log scale and pick one loss term, in Chromium."""
    if missing():
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing())
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    loss, terms, hidden, w, targets = per_step_loss_rnn()
    path = graph.explore(loss, params=w, name="RNN", tokens=list("abcde"), vocab=list("wxyz"),
                         targets=targets, path=tmp_path / "terms.html")
    found = analyse(loss, params=w, targets=targets)
    with chromium(1400, 900) as driver:
        driver.get("file://" + os.path.abspath(path))
        find = lambda css: driver.find_elements(By.CSS_SELECTOR, css)  # noqa: E731
        rect = lambda el: driver.execute_script("return arguments[0].getBoundingClientRect()", el)  # noqa: E731

        def hover(k: int, row: str, i: int) -> None:  # the mouse on cell i of the strip `row` at step k
            strip = find(f'#m0 .fwd[data-step="{k}"] g.strip[data-row="{row}"]')[0]
            svg, col = rect(find("#m0 svg.main")[0]), rect(find(f'#m0 .col[data-col="{k}"]')[0])
            cell = float(strip.get_attribute("data-cell"))
            y = svg["top"] + float(strip.get_attribute("data-y")) + (i + 0.5) * cell
            ActionChains(driver).move_to_element(find(f'#m0 .col[data-col="{k}"]')[0]).move_by_offset(
                0, round(y - (col["top"] + col["height"] / 2))).perform()

        tip = driver.find_element(By.ID, "tip")
        hover(3, "h", 2)
        assert tip.is_displayed()
        assert tip.text.startswith(f"h[2] at t=3 = {found['states'][0]['values'][3][2]}")
        hover(1, "p(next)", int(targets[1]))
        assert tip.text.endswith("(the target)") and "after t=1" in tip.text

        marks = find("#m0 rect.target")  # one outline a step, on the row of its target class
        assert [int(m.get_attribute("data-class")) for m in marks] == [int(t) for t in targets]
        strip = find('#m0 .fwd[data-step="1"] g.strip[data-row="p(next)"]')[0]
        top = float(strip.get_attribute("data-y")) + int(targets[1]) * float(strip.get_attribute("data-cell"))
        assert abs(float(marks[1].get_attribute("y")) + 0.5 - top) < 1e-6
        assert "← target" in driver.find_element(By.CSS_SELECTOR, '#m0 .dist[data-step="4"]').get_attribute(
            "textContent")

        hover(3, "h", 2)
        ActionChains(driver).click().perform()  # follow unit 2: its value at every step, below the strips
        assert driver.find_element(By.ID, "unit").get_attribute("value") == "2"
        shown = [float(t.text) for t in find('#m0 .follow[data-state="h"] text')]
        np.testing.assert_allclose(shown, [v[2] for v in found["states"][0]["values"]], atol=0.006)
        assert len(find("#m0 .unit-mark")) == 5 and driver.find_element(By.ID, "m0-step-3").is_displayed()

        w_hh = next(j for j, p in enumerate(found["params"]) if p["name"] == "W_hh")
        panel = driver.find_element(By.ID, f"m0-share-{w_hh}")
        heights = lambda: [float(r.get_attribute("height")) for r in panel.find_elements(  # noqa: E731
            By.CSS_SELECTOR, ".bar .along")]
        linear = heights()
        shares = found["params"][w_hh]["shares"]
        along = [abs(s["along"]) for s in shares]
        biggest = max(along + [s["norm"] for s in shares] + [found["params"][w_hh]["total"]])
        np.testing.assert_allclose(linear, [90 * a / biggest for a in along], atol=0.06)
        panel.find_element(By.CSS_SELECTOR, ".log").click()
        logs = heights()
        expected = [max(0.0, np.log10(a / biggest) + 6) / 6 * 90 for a in along]
        up = [s["along"] > 0 for s in shares]  # a negative bar is drawn down, in the room left below the axis
        np.testing.assert_allclose([h for h, u in zip(logs, up) if u], [e for e, u in zip(expected, up) if u],
                                   atol=1e-6)
        assert len(panel.find_elements(By.CSS_SELECTOR, ".ticks text")) == 4  # 1, 1e-2, 1e-4, 1e-6 of the top

        find('#m0 .term[value="3"]')[0].click()  # L_2 alone: no gradient reaches t=3 or t=4
        boxes = [b.text for b in find('#m0 .gbox[data-state="0"] text')]
        assert boxes[3:] == ["0", "0"] and boxes[2] == f"{found['terms'][2]['grad_norm'][0][2]:.1e}"
        caption = driver.find_element(By.ID, "m0-caption").text  # the slider is at the end: t=0
        assert caption.startswith("backward: the gradient of L_2 alone has flowed back to t=0: ‖dL_2/dh_0‖")
        step = driver.find_element(By.ID, "m0-step-3").text  # followed above: L_2 does not reach t=3
        assert "gradient reaching it: ‖dL_2/dh‖ = 0" in step
        total = panel.find_element(By.CSS_SELECTOR, ".total-text").text
        assert total == f"{found['terms'][2]['params'][w_hh]['total']:.4g}"


def test_forty_steps_fit_a_1400_pixel_window_with_the_legend_in_view(tmp_path):
    """The unroll scrolls sideways inside its box (the page itself does not), follows the slider, and the
    legend is on screen at the top of a 1400 x 900 window."""
    if missing():
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing())
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    rng = np.random.default_rng(6)
    rnn = nn.GRU(I, H, rng=rng, dtype=np.float64)
    out, _ = rnn(Tensor(rng.normal(size=(40, 1, I))))
    path = graph.explore((out * out).sum(), params=rnn, path=tmp_path / "long.html")
    with chromium(1400, 900) as driver:
        driver.get("file://" + os.path.abspath(path))
        width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1]  # no sideways scrolling of the page
        box = driver.find_element(By.CSS_SELECTOR, "#m0 .scroll")
        assert driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", box)
        legend = driver.execute_script("return document.querySelector('.legend').getBoundingClientRect()")
        assert legend["bottom"] < driver.execute_script("return window.innerHeight")
        slider = driver.find_element(By.ID, "time")
        slider.send_keys(Keys.HOME)  # forward, t=0: the start in view
        assert driver.execute_script("return arguments[0].scrollLeft", box) == 0
        for _ in range(39):
            slider.send_keys(Keys.ARROW_RIGHT)  # forward, t=39: the last step scrolled into view
        frame = driver.find_element(By.CSS_SELECTOR, '#m0 .frame[data-step="39"]').rect
        shown = box.rect
        assert shown["x"] <= frame["x"] and frame["x"] + frame["width"] <= shown["x"] + shown["width"] + 1


def test_the_docs_quote_what_lesson_3s_explorer_page_shows():
    """docs/pictures.md and the README quote the gradient norms of lesson 3's page at t=6 (and t=0): read
    back from the page the docs embed (docs/explorers/03_explorer.html, which make lessons writes)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = open(os.path.join(root, "docs", "explorers", "03_explorer.html"), encoding="utf-8").read()
    data = re.search(r'<script type="application/json" id="explore-data">(.*?)</script>', text, re.S)[1]
    data = json.loads(data)
    rnn, lstm = ([box[2] for box in m["gradients"][0]["boxes"][0]] for m in data["models"])  # the h row
    short = lambda s: re.sub(r"e([+-])0*(\d)", lambda g: "e" + g[1].replace("+", "") + g[2], s)  # noqa: E731
    pictures = " ".join(open(os.path.join(root, "docs", "pictures.md"), encoding="utf-8").read().split())
    readme = " ".join(open(os.path.join(root, "README.md"), encoding="utf-8").read().split())
    assert f"is {short(rnn[6])} already (and {short(rnn[0])} at t=0), the LSTM's {short(lstm[6])}" in pictures
    assert f"is {short(rnn[6])} already ({short(rnn[0])} at t=0), the LSTM's {short(lstm[6])}" in readme
