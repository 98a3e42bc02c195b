"""nn.recurrent: cells and layers against hand-written NumPy, finite differences and each other.

Everything runs in float64. Layer-sized gradient checks use gradcheck's fast mode (random projections).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import F64, KINDS, flat, gradcheck_module, layer_outputs, make_layer, n_states
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_seq as ts
from tinygrad_seq import Tensor, nn
from tinygrad_seq.autograd import ShapeError, toposort

# ------------------------------------------------------------------------------------ helpers


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def make_cell(kind: str, I: int, H: int, seed: int = 0, **kw) -> nn.Module:
    rng = np.random.default_rng(seed)
    if kind.startswith("rnn"):
        return nn.RNNCell(I, H, nonlinearity=kind[4:], rng=rng, dtype=F64, **kw)
    return {"lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](I, H, rng=rng, dtype=F64, **kw)


def numpy_cell(kind: str, x, state, w_ih, w_hh, b_ih, b_hh):
    """One step of each cell, written out from PyTorch's documented formulas."""
    H = w_hh.shape[1]
    if kind.startswith("rnn"):
        (h,) = state
        a = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        return (np.tanh(a) if kind == "rnn_tanh" else np.maximum(a, 0),)
    if kind == "lstm":
        h, c = state
        gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f = sigmoid(gates[..., :H]), sigmoid(gates[..., H : 2 * H])
        g, o = np.tanh(gates[..., 2 * H : 3 * H]), sigmoid(gates[..., 3 * H :])
        c = f * c + i * g
        return o * np.tanh(c), c
    (h,) = state
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    r = sigmoid(gi[..., :H] + gh[..., :H])
    z = sigmoid(gi[..., H : 2 * H] + gh[..., H : 2 * H])
    n = np.tanh(gi[..., 2 * H :] + r * gh[..., 2 * H :])
    return ((1 - z) * n + z * h,)


def loss_weights(shapes, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in shapes]


def weighted_loss(tensors, weights) -> Tensor:
    total = None
    for t, w in zip(tensors, weights):
        term = (t * Tensor(w)).sum()
        total = term if total is None else total + term
    return total


sizes = st.integers(1, 3)


# ------------------------------------------------------------------------------------ cells


@pytest.mark.parametrize("kind", KINDS)
@given(B=sizes, I=sizes, H=sizes, batched=st.booleans(), given_state=st.booleans(), seed=st.integers(0, 99))
def test_cell_equals_numpy_formulas(kind, B, I, H, batched, given_state, seed):
    cell = make_cell(kind, I, H, seed)
    rng = np.random.default_rng(seed + 1)
    lead = (B,) if batched else ()
    x = rng.normal(size=lead + (I,))
    state = tuple(rng.normal(size=lead + (H,)) if given_state else np.zeros(lead + (H,))
                  for _ in range(n_states(kind)))
    hx = None
    if given_state:
        hx = Tensor(state[0]) if kind != "lstm" else (Tensor(state[0]), Tensor(state[1]))
    got = cell(Tensor(x), hx)
    got = got if kind == "lstm" else (got,)
    want = numpy_cell(kind, x, state, cell.weight_ih.data, cell.weight_hh.data, cell.bias_ih.data,
                      cell.bias_hh.data)
    for g, w in zip(got, want):
        assert g.shape == lead + (H,)
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@given(B=sizes, I=sizes, H=sizes, seed=st.integers(0, 99))
def test_cell_gradcheck(kind, B, I, H, seed):
    cell = make_cell(kind, I, H, seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(B, I))
    states = [rng.normal(size=(B, H)) for _ in range(n_states(kind))]

    def call(run, x, *state):
        out = run(x, tuple(state) if kind == "lstm" else state[0])
        return flat(*out) if kind == "lstm" else out

    gradcheck_module(cell, call, [x, *states], fast=False)


def test_cell_without_bias_has_no_bias_parameters():
    cell = nn.GRUCell(3, 4, bias=False, rng=np.random.default_rng(0), dtype=F64)
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh"]
    x, h = np.random.default_rng(1).normal(size=(2, 3)), np.zeros((2, 4))
    zeros = np.zeros(12)
    want = numpy_cell("gru", x, (h,), cell.weight_ih.data, cell.weight_hh.data, zeros, zeros)[0]
    np.testing.assert_allclose(cell(Tensor(x)).numpy(), want, rtol=1e-12)


def test_cell_parameter_shapes_and_init_range():
    cell = nn.LSTMCell(7, 5, rng=np.random.default_rng(0))
    shapes = [(n, p.shape) for n, p in cell.named_parameters()]
    assert shapes == [("weight_ih", (20, 7)), ("weight_hh", (20, 5)), ("bias_ih", (20,)), ("bias_hh", (20,))]
    bound = 1 / np.sqrt(5)
    for p in cell.parameters():
        assert p.dtype == np.float32
        assert np.all(np.abs(p.data) <= bound) and np.abs(p.data).max() > bound / 2


# ------------------------------------------------------------------------------------ layers: gradients


@st.composite
def layer_configs(draw):
    T, B, I, H = draw(st.integers(1, 4)), draw(sizes), draw(sizes), draw(st.integers(1, 3))
    config = {
        "T": T, "B": B, "I": I, "H": H,
        "num_layers": draw(st.integers(1, 2)),
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "lengths": draw(st.none() | st.lists(st.integers(0, T), min_size=B, max_size=B)),
        "initial_state": draw(st.booleans()),
        "seed": draw(st.integers(0, 999)),
    }
    return config


@pytest.mark.parametrize("kind", KINDS)
@given(config=layer_configs())
def test_layer_gradcheck(kind, config):
    c = config
    layer = make_layer(kind, c["I"], c["H"], c["seed"], num_layers=c["num_layers"],
                       bidirectional=c["bidirectional"], batch_first=c["batch_first"])
    rng = np.random.default_rng(c["seed"] + 1)
    x = rng.normal(size=(c["B"], c["T"], c["I"]) if c["batch_first"] else (c["T"], c["B"], c["I"]))
    D = 2 if c["bidirectional"] else 1
    states = []
    if c["initial_state"]:
        states = [rng.normal(size=(c["num_layers"] * D, c["B"], c["H"])) for _ in range(n_states(kind))]

    def call(run, x, *state):
        hx = None if not state else tuple(state) if kind == "lstm" else state[0]
        return flat(*layer_outputs(kind, run(x, hx, lengths=c["lengths"])))

    gradcheck_module(layer, call, [x, *states], fast=True)


@given(T=st.integers(1, 5), B=sizes, I=sizes, H=sizes, seed=st.integers(0, 99))
def test_rnn_layer_equals_hand_written_numpy_bptt(T, B, I, H, seed):
    layer = make_layer("rnn_tanh", I, H, seed)
    w_ih, w_hh, b_ih, b_hh = (p.data for p in layer.parameters())
    rng = np.random.default_rng(seed + 1)
    x, h0 = rng.normal(size=(T, B, I)), rng.normal(size=(1, B, H))
    g_out, g_h = rng.normal(size=(T, B, H)), rng.normal(size=(1, B, H))

    # forward: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh); loss = <g_out, out> + <g_h, h_T>
    hs = [h0[0]]
    for t in range(T):
        hs.append(np.tanh(x[t] @ w_ih.T + b_ih + hs[-1] @ w_hh.T + b_hh))
    out = np.stack(hs[1:])
    # backward through time
    grads = {k: np.zeros_like(v) for k, v in (("w_ih", w_ih), ("w_hh", w_hh), ("b_ih", b_ih), ("b_hh", b_hh))}
    dx = np.zeros_like(x)
    dh = g_h[0].copy()
    for t in reversed(range(T)):
        da = (g_out[t] + dh) * (1 - hs[t + 1] ** 2)
        grads["w_ih"] += da.T @ x[t]
        grads["w_hh"] += da.T @ hs[t]
        grads["b_ih"] += da.sum(axis=0)
        grads["b_hh"] += da.sum(axis=0)
        dx[t] = da @ w_ih
        dh = da @ w_hh

    xt, h0t = Tensor(x, requires_grad=True), Tensor(h0, requires_grad=True)
    got_out, got_h = layer(xt, h0t)
    np.testing.assert_allclose(got_out.numpy(), out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_h.numpy()[0], hs[-1], rtol=1e-12, atol=1e-12)
    weighted_loss([got_out, got_h], [g_out, g_h]).backward()
    for (name, p), key in zip(layer.named_parameters(), grads):
        np.testing.assert_allclose(p.grad.numpy(), grads[key], rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h0t.grad.numpy()[0], dh, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------ layers: equivalences


def cells_by_hand(kind: str, layer: nn.Module, x: np.ndarray, num_layers: int, D: int,
                  hx: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The layer written out in NumPy: a Python loop of numpy_cell per layer and direction."""
    T = x.shape[0]
    finals: list[list[np.ndarray]] = [[] for _ in hx]
    inp = x
    for l in range(num_layers):
        outs = []
        for d, suffix in enumerate(["", "_reverse"][:D]):
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            w = [getattr(layer, f"{n}_l{l}{suffix}").data for n in names]
            state = tuple(s[l * D + d] for s in hx)
            out = [None] * T
            for t in (reversed(range(T)) if d else range(T)):
                state = numpy_cell(kind, inp[t], state, *w)
                out[t] = state[0]
            outs.append(np.stack(out))
            for i, s in enumerate(state):
                finals[i].append(s)
        inp = np.concatenate(outs, axis=-1)
    return inp, [np.stack(f) for f in finals]


@pytest.mark.parametrize("kind", KINDS)
@given(T=st.integers(1, 4), B=sizes, I=sizes, H=sizes, num_layers=st.integers(1, 3),
       bidirectional=st.booleans(), seed=st.integers(0, 99))
def test_layer_equals_cell_loop_written_in_numpy(kind, T, B, I, H, num_layers, bidirectional, seed):
    layer = make_layer(kind, I, H, seed, num_layers=num_layers, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(T, B, I))
    hx = [rng.normal(size=(num_layers * D, B, H)) for _ in range(n_states(kind))]
    want_out, want_states = cells_by_hand(kind, layer, x, num_layers, D, hx)
    arg = (Tensor(hx[0]), Tensor(hx[1])) if kind == "lstm" else Tensor(hx[0])
    got = layer_outputs(kind, layer(Tensor(x), arg))
    np.testing.assert_allclose(got[0].numpy(), want_out, rtol=1e-11, atol=1e-12)
    for g, w in zip(got[1:], want_states):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-11, atol=1e-12)


@given(T=st.integers(1, 5), B=sizes, I=sizes, H=sizes, seed=st.integers(0, 99))
def test_reverse_half_of_bilstm_is_forward_lstm_on_reversed_input(T, B, I, H, seed):
    bi = make_layer("lstm", I, H, seed, bidirectional=True)
    uni = make_layer("lstm", I, H, seed + 7)
    uni.load_state_dict({k: bi.state_dict()[k + "_reverse"] for k in uni.state_dict()})
    x = np.random.default_rng(seed + 1).normal(size=(T, B, I))
    out, (h_n, c_n) = bi(Tensor(x))
    rev_out, (rev_h, rev_c) = uni(Tensor(x[::-1].copy()))
    np.testing.assert_allclose(out.numpy()[..., H:], rev_out.numpy()[::-1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.numpy()[1], rev_h.numpy()[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_n.numpy()[1], rev_c.numpy()[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@given(T=st.integers(2, 6), B=sizes, I=sizes, H=sizes, data=st.data())
def test_chunks_with_carried_detached_state_equal_the_whole_sequence(kind, T, B, I, H, data):
    cut = data.draw(st.integers(1, T - 1))
    layer = make_layer(kind, I, H, 0, num_layers=2)
    x = Tensor(np.random.default_rng(T * 10 + cut).normal(size=(T, B, I)), requires_grad=True)
    whole, _ = layer(x)

    first, state = layer(x[:cut])
    state = tuple(s.detach() for s in state) if kind == "lstm" else state.detach()
    second, _ = layer(x[cut:], state)
    np.testing.assert_allclose(ts.concatenate([first, second]).numpy(), whole.numpy(), rtol=1e-12, atol=1e-12)

    second.sum().backward()
    grad = x.grad.numpy()
    assert np.all(grad[:cut] == 0)  # exactly zero before the detach point
    assert np.abs(grad[cut:]).max() > 0


def test_truncated_bptt_gradient_equals_finite_differences_of_the_truncated_objective():
    layer = make_layer("lstm", 2, 3, 0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 2, 2))
    _, (h, c) = layer(Tensor(x[:3]))
    carried = [Tensor(h.numpy()), Tensor(c.numpy())]  # constants: the truncated objective holds them fixed
    gradcheck_module(layer, lambda run, x2, h, c: run(x2, (h, c))[0], [x[3:], *carried], fast=False)


@pytest.mark.parametrize("kind", KINDS)
@given(T=st.integers(1, 5), B=st.integers(1, 4), I=sizes, H=sizes, num_layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), data=st.data())
def test_padded_batch_with_lengths_equals_each_sequence_alone(kind, T, B, I, H, num_layers, bidirectional,
                                                               batch_first, data):
    lengths = data.draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    seed = data.draw(st.integers(0, 99))
    layer = make_layer(kind, I, H, seed, num_layers=num_layers, bidirectional=bidirectional,
                       batch_first=batch_first)
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(T, B, I))  # padding holds noise: it must not leak into anything
    hx = [rng.normal(size=(num_layers * D, B, H)) for _ in range(n_states(kind))]
    g_out = rng.normal(size=(T, B, D * H))
    g_states = [rng.normal(size=(num_layers * D, B, H)) for _ in hx]

    def run(x, hx, weights, lengths=None):
        """Outputs, final states and the gradients of <weights, outputs> for x (T, B, I)."""
        xt = Tensor(x.swapaxes(0, 1).copy() if batch_first else x, requires_grad=True)
        arg = tuple(Tensor(s) for s in hx) if kind == "lstm" else Tensor(hx[0])
        layer.zero_grad()
        outs = layer_outputs(kind, layer(xt, arg, lengths=lengths))
        out = outs[0].swapaxes(0, 1) if batch_first else outs[0]  # (B, T, .) -> (T, B, .)
        weighted_loss([out, *outs[1:]], weights).backward()
        dx = xt.grad.numpy().swapaxes(0, 1) if batch_first else xt.grad.numpy()
        dparams = [p.grad.numpy().copy() for p in layer.parameters()]
        return out.numpy(), [s.numpy() for s in outs[1:]], dx, dparams

    out, states, dx, dparams = run(x, hx, [g_out, *g_states], lengths)
    total = [np.zeros_like(g) for g in dparams]
    for b, n in enumerate(lengths):
        alone = [g_out[:n, b : b + 1], *[g[:, b : b + 1] for g in g_states]]
        a_out, a_states, a_dx, a_dparams = run(x[:n, b : b + 1], [s[:, b : b + 1] for s in hx], alone)
        np.testing.assert_allclose(out[:n, b], a_out[:, 0], rtol=1e-11, atol=1e-12)
        assert np.all(out[n:, b] == 0)
        for s, a in zip(states, a_states):
            np.testing.assert_allclose(s[:, b], a[:, 0], rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(dx[:n, b], a_dx[:, 0], rtol=1e-10, atol=1e-12)
        assert np.all(dx[n:, b] == 0)
        total = [t + g for t, g in zip(total, a_dparams)]
    for got, want in zip(dparams, total):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_equals_a_batch_of_one(kind):
    layer = make_layer(kind, 3, 4, 0, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3))
    hx = [rng.normal(size=(4, 4)) for _ in range(n_states(kind))]
    single = [Tensor(s) for s in hx]
    unbatched = layer_outputs(kind, layer(Tensor(x), tuple(single) if kind == "lstm" else single[0]))
    batch = [Tensor(s[:, None]) for s in hx]
    batched = layer_outputs(kind, layer(Tensor(x[:, None]), tuple(batch) if kind == "lstm" else batch[0]))
    assert unbatched[0].shape == (5, 8)
    for u, b in zip(unbatched, batched):
        np.testing.assert_allclose(u.numpy(), b.numpy()[:, 0])  # (T, 1, .) / (L*D, 1, H) -> drop the 1
    assert all(u.shape == (4, 4) for u in unbatched[1:])


def test_batch_first_is_the_transposed_layout():
    rng = np.random.default_rng(0)
    first = make_layer("gru", 3, 4, 5, batch_first=True)
    second = make_layer("gru", 3, 4, 5)
    x = rng.normal(size=(2, 6, 3))
    out_bf, h_bf = first(Tensor(x))
    out, h = second(Tensor(x.swapaxes(0, 1).copy()))
    assert out_bf.shape == (2, 6, 4)
    np.testing.assert_allclose(out_bf.numpy(), out.numpy().swapaxes(0, 1))
    np.testing.assert_allclose(h_bf.numpy(), h.numpy())


# ------------------------------------------------------------------------------------ names, scopes, options


def test_lstm_parameter_names_and_shapes_are_pytorchs():
    lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True, rng=np.random.default_rng(0))
    expected = [
        ("weight_ih_l0", (80, 10)), ("weight_hh_l0", (80, 20)), ("bias_ih_l0", (80,)), ("bias_hh_l0", (80,)),
        ("weight_ih_l0_reverse", (80, 10)), ("weight_hh_l0_reverse", (80, 20)),
        ("bias_ih_l0_reverse", (80,)), ("bias_hh_l0_reverse", (80,)),
        ("weight_ih_l1", (80, 40)), ("weight_hh_l1", (80, 20)), ("bias_ih_l1", (80,)), ("bias_hh_l1", (80,)),
        ("weight_ih_l1_reverse", (80, 40)), ("weight_hh_l1_reverse", (80, 20)),
        ("bias_ih_l1_reverse", (80,)), ("bias_hh_l1_reverse", (80,)),
    ]
    assert [(n, p.shape) for n, p in lstm.named_parameters()] == expected
    assert list(lstm.state_dict()) == [n for n, _ in expected]


def test_a_state_dict_with_pytorchs_names_loads_and_drives_the_layer():
    rng = np.random.default_rng(3)
    gru = nn.GRU(3, 2, num_layers=2, rng=np.random.default_rng(0), dtype=F64)
    shapes = {"weight_ih_l0": (6, 3), "weight_hh_l0": (6, 2), "bias_ih_l0": (6,), "bias_hh_l0": (6,),
              "weight_ih_l1": (6, 2), "weight_hh_l1": (6, 2), "bias_ih_l1": (6,), "bias_hh_l1": (6,)}
    state = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    gru.load_state_dict(state)
    x = rng.normal(size=(4, 1, 3))
    hx = [np.zeros((2, 1, 2))]
    want, _ = cells_by_hand("gru", gru, x, 2, 1, hx)
    np.testing.assert_allclose(gru(Tensor(x))[0].numpy(), want, rtol=1e-12)
    assert np.array_equal(gru.weight_hh_l1.data, state["weight_hh_l1"])


def test_other_layers_register_pytorchs_names_without_bias():
    rnn = nn.RNN(4, 3, num_layers=2, bias=False, bidirectional=True, rng=np.random.default_rng(0))
    assert [(n, p.shape) for n, p in rnn.named_parameters()] == [
        ("weight_ih_l0", (3, 4)), ("weight_hh_l0", (3, 3)),
        ("weight_ih_l0_reverse", (3, 4)), ("weight_hh_l0_reverse", (3, 3)),
        ("weight_ih_l1", (3, 6)), ("weight_hh_l1", (3, 3)),
        ("weight_ih_l1_reverse", (3, 6)), ("weight_hh_l1_reverse", (3, 3)),
    ]
    assert nn.GRU(4, 3, rng=np.random.default_rng(0)).weight_ih_l0.shape == (9, 4)


def test_each_time_step_runs_in_its_own_scope():
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(2, 3, bidirectional=True, rng=np.random.default_rng(0))

        def forward(self, x):
            return self.rnn(x)[0]

    T = 4
    out = Tagger()(Tensor(np.ones((T, 1, 2), dtype=np.float32)))
    scopes = {fn.scope for fn in toposort([out])}
    for direction in ("l0", "l0_reverse"):
        for t in range(T):
            assert ("Tagger", "rnn", direction, f"t={t}") in scopes
    assert not any(s[-1] == f"t={T}" for s in scopes)
    # every step's matmul with W_hh^T is drawn inside its step, all sharing one weight node
    steps = [fn for fn in toposort([out]) if fn.name == "MatMul" and fn.scope[-1].startswith("t=")]
    assert len(steps) == 2 * T
    assert len({id(fn.inputs[1]) for fn in steps}) == 2  # one W_hh^T per direction


def test_forget_bias_sets_the_forget_gate_slices_only():
    H = 3
    plain = nn.LSTM(2, H, num_layers=2, bidirectional=True, rng=np.random.default_rng(4))
    biased = nn.LSTM(2, H, num_layers=2, bidirectional=True, forget_bias=1.0, rng=np.random.default_rng(4))
    for (name, p), (_, q) in zip(plain.named_parameters(), biased.named_parameters()):
        if name.startswith("bias_ih"):
            assert np.all(q.data[H : 2 * H] == 1.0)
        elif name.startswith("bias_hh"):
            assert np.all(q.data[H : 2 * H] == 0.0)
        keep = np.ones(p.shape[0], dtype=bool)
        if name.startswith("bias"):
            keep[H : 2 * H] = False
        np.testing.assert_array_equal(p.data[keep], q.data[keep])  # everything else: PyTorch's init
    assert not np.all(plain.bias_ih_l0.data[H : 2 * H] == 1.0)
    cell = nn.LSTMCell(2, H, forget_bias=1.0, rng=np.random.default_rng(0))
    assert np.all(cell.bias_ih.data[H : 2 * H] == 1.0) and np.all(cell.bias_hh.data[H : 2 * H] == 0.0)
    # the forget gate then starts at sigma(1) whatever the weights: zero weights show it
    cell.weight_ih.data, cell.weight_hh.data = np.zeros((4 * H, 2)), np.zeros((4 * H, H))
    cell.bias_ih.data, cell.bias_hh.data = np.where(np.arange(4 * H) // H == 1, 1.0, 0.0), np.zeros(4 * H)
    c = np.full((1, H), 2.0)
    _, c_next = cell(Tensor(np.zeros((1, 2))), (Tensor(np.zeros((1, H))), Tensor(c)))
    np.testing.assert_allclose(c_next.numpy(), sigmoid(1.0) * c, rtol=1e-6)
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        nn.LSTM(2, H, bias=False, forget_bias=1.0)


def test_dropout_acts_between_layers_in_training_mode_only():
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(5, 4, 3)))
    dropped = make_layer("lstm", 3, 6, 0, num_layers=2, dropout=0.5)
    clean = make_layer("lstm", 3, 6, 0, num_layers=2)
    want, (want_h, _) = clean(x)

    out_a, (h_a, _) = dropped(x)
    out_b, _ = dropped(x)
    assert not np.allclose(out_a.numpy(), want.numpy())  # layer 1 saw a dropped-out input
    assert not np.allclose(out_a.numpy(), out_b.numpy())  # a fresh mask on each call
    np.testing.assert_allclose(h_a.numpy()[0], want_h.numpy()[0])  # layer 0 itself is untouched

    dropped.eval()
    np.testing.assert_allclose(dropped(x)[0].numpy(), want.numpy())

    single = make_layer("gru", 3, 6, 0, dropout=0.5)  # nothing after the last layer
    np.testing.assert_allclose(single(x)[0].numpy(), make_layer("gru", 3, 6, 0)(x)[0].numpy())


def test_dropout_mask_is_the_inverted_dropout_of_layer_zeros_output():
    """Layer 1 of a trained-mode 2-layer RNN sees layer 0's output times mask / (1 - p)."""
    p = 0.5
    dropped = make_layer("rnn_tanh", 2, 8, 0, num_layers=2, dropout=p)
    dropped.rng = np.random.default_rng(11)
    x = np.random.default_rng(1).normal(size=(3, 2, 2))
    out, _ = dropped(Tensor(x))
    keep = np.random.default_rng(11).random((3, 2, 8)) >= p  # the same draws
    hx = [np.zeros((2, 2, 8))]
    layer0, _ = cells_by_hand("rnn_tanh", dropped, x, 1, 1, [hx[0][:1]])
    w = [getattr(dropped, f"{n}_l1").data for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    h, want = (np.zeros((2, 8)),), []
    for t in range(3):
        h = numpy_cell("rnn_tanh", layer0[t] * keep[t] / (1 - p), h, *w)
        want.append(h[0])
    np.testing.assert_allclose(out.numpy(), np.stack(want), rtol=1e-12)


def test_readable_errors():
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ShapeError, match=r"input = 3, got \(5, 2, 7\)"):
        lstm(Tensor(np.zeros((5, 2, 7), dtype=np.float32)))
    with pytest.raises(ShapeError, match=r"\(2, 2, 4\), got \(1, 2, 4\)"):
        h = Tensor(np.zeros((1, 2, 4), dtype=np.float32))
        lstm(Tensor(np.zeros((5, 2, 3), dtype=np.float32)), (h, h))
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 5\]"):
        lstm(Tensor(np.zeros((5, 2, 3), dtype=np.float32)), lengths=[6, 1])
    with pytest.raises(ValueError, match="lengths must be 2 integers"):
        lstm(Tensor(np.zeros((5, 2, 3), dtype=np.float32)), lengths=[1, 2, 3])
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ShapeError, match=r"GRUCell: .* got \(2, 5\)"):
        nn.GRUCell(3, 4)(Tensor(np.zeros((2, 5), dtype=np.float32)))
