"""Lesson 3: vanishing and exploding gradients, and why the spectral radius of W_hh decides.

A tanh RNN with 32 hidden units reads T random input vectors; the loss reads only the last hidden state
(a fixed random readout, L = v . h_(T-1)). How much does that loss depend on the hidden state t steps
earlier? The script measures ||dL/dh_t|| at every step t (tinygrad_seq.grad of the loss with respect to
the list of hidden states) for W_hh = radius * Q, Q a random orthogonal matrix, at spectral radius 0.5,
1.0, 1.5 and 2.0 (measured with np.linalg.eigvals), and for an LSTM and a GRU of the same size reading
the same inputs (the LSTM also with its forget-gate bias at 1). It prints each setting's gradient norms
and average per-step factor, and a paragraph on the eigenvalues that explains them.

    .venv/bin/python demos/03_vanishing.py            # T = 100, pictures in out/demos/03_vanishing/
    .venv/bin/python demos/03_vanishing.py --quick    # T = 50

Picture:
    gradient_norms.png   ||dL/dh_t|| against t on a log scale, one line per setting: the 0.5-radius RNN
                         falls by tens of orders of magnitude, the 2.0-radius RNN grows backwards in
                         time (explodes) unless its units are saturated, and the gated cells fall
                         more slowly than the 0.5-radius RNN
    explorer.html        the first 20 steps of the radius-0.5 RNN next to the LSTM (forget bias 1) in the
                         BPTT explorer: run the backward pass and watch the RNN's gradient fade first
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from common import parse_args, save

import tinygrad_seq as ts
from tinygrad_seq import Tensor, graph, nn

PICTURES = ('gradient_norms.png',)

HIDDEN, INPUT = 32, 8
RADII = (0.5, 1.0, 1.5, 2.0)
INPUT_SCALE = 0.5  # the inputs' share of the pre-activation: small enough that the units stay unsaturated
SATURATED_SCALE = 4.0  # the variant with 8x larger inputs, where most units saturate
EXPLORED = 20  # steps shown in the explorer page


def scaled_orthogonal(n: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """radius * Q with Q a uniformly random orthogonal matrix: every eigenvalue has modulus `radius`."""
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return radius * q * np.sign(np.diag(r))  # the sign fix makes Q uniform (Haar) rather than biased


def norms(loss: Tensor, hidden: list[Tensor]) -> np.ndarray:
    """||dL/dh_t|| for every t."""
    return np.array([np.linalg.norm(g.numpy()) for g in ts.grad(loss, hidden)])


def tanh_rnn_loss(x: Tensor, v: Tensor, radius: float, input_scale: float,
                  rng: np.random.Generator) -> tuple[Tensor, list[Tensor], Tensor, float]:
    """A tanh RNN, W_hh = radius * Q, over x: (L = v . h_(T-1), the hidden states, W_hh, measured radius)."""
    w_hh = scaled_orthogonal(HIDDEN, radius, rng)
    measured = float(np.max(np.abs(np.linalg.eigvals(w_hh))))
    w_ih = Tensor(rng.normal(size=(HIDDEN, INPUT)) * input_scale / np.sqrt(INPUT))
    w_hh = Tensor(w_hh, requires_grad=True)
    h = ts.zeros(1, HIDDEN, dtype=np.float64)
    hidden = []
    for t in range(x.shape[0]):
        with ts.scope(f"t={t}"):
            # (1, I) @ (I, H) + (1, H) @ (H, H); the tags name the input and state for the explorer
            h = ts.tag((ts.tag(x[t], "input") @ w_ih.T + h @ w_hh.T).tanh(), "h")
        hidden.append(h)
    return (hidden[-1] * v).sum(), hidden, w_hh, measured


def tanh_rnn(x: Tensor, v: Tensor, radius: float, input_scale: float,
             rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """(||dL/dh_t|| for t < T, the measured spectral radius of W_hh, the fraction of |h_t| > 0.95)."""
    loss, hidden, _, measured = tanh_rnn_loss(x, v, radius, input_scale, rng)
    saturated = float(np.mean([np.abs(h.numpy()) > 0.95 for h in hidden]))
    return norms(loss, hidden), measured, saturated


def gated_loss(kind: str, x: Tensor, v: Tensor, rng: np.random.Generator,
               forget_bias: float | None = None) -> tuple[Tensor, list[Tensor], nn.Module]:
    """An LSTM or GRU cell (default initialisation) stepped over x: (L = v . h_(T-1), hidden states, cell)."""
    if kind == "lstm":
        cell = nn.LSTMCell(INPUT, HIDDEN, forget_bias=forget_bias, rng=rng, dtype=np.float64)
    else:
        cell = nn.GRUCell(INPUT, HIDDEN, rng=rng, dtype=np.float64)
    h = c = ts.zeros(1, HIDDEN, dtype=np.float64)
    hidden = []
    for t in range(x.shape[0]):
        with ts.scope(f"t={t}"):
            if kind == "lstm":
                h, c = cell(x[t], (h, c))
            else:
                h = cell(x[t], h)
        hidden.append(h)
    return (hidden[-1] * v).sum(), hidden, cell


def gated(kind: str, x: Tensor, v: Tensor, rng: np.random.Generator,
          forget_bias: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(||dL/dh_t|| for an LSTM or GRU cell stepped over the same inputs, the LSTM's forget gates (T, H))."""
    loss, hidden, cell = gated_loss(kind, x, v, rng, forget_bias)
    gates = forget_gates(cell, x, hidden) if isinstance(cell, nn.LSTMCell) else None
    return norms(loss, hidden), gates


def forget_gates(cell: nn.LSTMCell, x: Tensor, hidden: list[Tensor]) -> np.ndarray:
    """The forget gate f_t = sigmoid(W_if x_t + b_if + W_hf h_(t-1) + b_hf) at every step: (T, H).

    Read from the cell's own weights (rows H..2H of the stacked i, f, g, o) and the hidden states the
    cell produced, h_(-1) = 0.
    """
    rows = slice(HIDDEN, 2 * HIDDEN)
    w_ih, w_hh = cell.weight_ih.numpy()[rows], cell.weight_hh.numpy()[rows]  # (H, I), (H, H)
    bias = cell.bias_ih.numpy()[rows] + cell.bias_hh.numpy()[rows]  # (H,)
    previous = np.concatenate([np.zeros((1, HIDDEN)), np.concatenate([h.numpy() for h in hidden[:-1]])])
    pre = x.numpy()[:, 0] @ w_ih.T + previous @ w_hh.T + bias  # (T, I) @ (I, H) + (T, H) @ (H, H) + (H,)
    return 1.0 / (1.0 + np.exp(-pre))


def cell_path_factor(f: np.ndarray, v: Tensor) -> float:
    """The per-step factor of the cell-state path alone: dL/dc_0 = prod_t f_t * dL/dc_(T-1) unit by unit.

    dL/dc_(T-1) is taken as |v| (the readout's size per unit); the geometric mean over T-1 steps of the
    norm's shrinkage, which follows the units whose forget gates are most open.
    """
    start = np.abs(v.numpy())
    end = start * np.exp(np.log(f[1:]).sum(axis=0))  # the product of f_t over t = 1..T-1, per unit
    return float((np.linalg.norm(end) / np.linalg.norm(start)) ** (1.0 / (len(f) - 1)))


def per_step(g: np.ndarray) -> float:
    """The geometric mean of ||dL/dh_(t-1)|| / ||dL/dh_t|| over the whole sequence."""
    return float((g[0] / g[-1]) ** (1.0 / (len(g) - 1)))


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args("03_vanishing", __doc__, argv)
    T = 50 if args.quick else 100
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(T, 1, INPUT)))  # (T, B=1, I): the same inputs for every network
    v = Tensor(rng.normal(size=(HIDDEN,)) / np.sqrt(HIDDEN))  # the loss's readout of h_(T-1)

    curves: dict[str, np.ndarray] = {}
    print(f"||dL/dh_t|| with L = v . h_{T - 1} (the last step only), {HIDDEN} hidden units, T = {T}\n")
    print(f"{'network':34} {'radius':>6} {'t=T-1':>9} {'t=T-10':>9} {'t=T/2':>9} {'t=0':>9} "
          f"{'factor/step':>11} {'|h|>0.95':>8}")

    def row(name: str, g: np.ndarray, radius: str = "", saturated: float | None = None) -> None:
        sat = "" if saturated is None else f"{saturated:8.0%}"
        print(f"{name:34} {radius:>6} {g[-1]:9.1e} {g[-10]:9.1e} {g[T // 2]:9.1e} {g[0]:9.1e} "
              f"{per_step(g):11.3f} {sat:>8}")

    saturation, measured = {}, {}
    for radius in RADII:
        g, measured[radius], saturation[radius] = tanh_rnn(x, v, radius, INPUT_SCALE,
                                                           np.random.default_rng(1))
        curves[f"tanh RNN, radius {radius}"] = g
        row(f"tanh RNN, W_hh = {radius} Q", g, f"{measured[radius]:.3f}", saturation[radius])
    g, radius, saturation["saturated"] = tanh_rnn(x, v, 2.0, SATURATED_SCALE, np.random.default_rng(1))
    curves[f"tanh RNN, radius 2.0, inputs x{SATURATED_SCALE / INPUT_SCALE:.0f} (saturated)"] = g
    row(f"  same, inputs x{SATURATED_SCALE / INPUT_SCALE:.0f} (saturated)", g, f"{radius:.3f}",
        saturation["saturated"])
    gates: dict[str, np.ndarray] = {}
    for name, kind, bias in (("LSTM", "lstm", None), ("LSTM, forget bias 1", "lstm", 1.0),
                             ("GRU", "gru", None)):
        curves[name], f_t = gated(kind, x, v, np.random.default_rng(1), bias)
        if f_t is not None:
            gates[name] = f_t
        row(name, curves[name])
    forget = {name: {"gate_mean": float(f_t.mean()), "cell_path": cell_path_factor(f_t, v),
                     "measured": per_step(curves[name])} for name, f_t in gates.items()}
    print(f"\n{'network':20} {'forget gate (mean)':>18} {'cell path alone':>15} {'measured':>8}"
          "   (factor per step)")
    for name, k in forget.items():
        print(f"{name:20} {k['gate_mean']:18.2f} {k['cell_path']:15.2f} {k['measured']:8.2f}")

    rnn = {r: curves[f"tanh RNN, radius {r}"] for r in RADII}
    sat = curves[f"tanh RNN, radius 2.0, inputs x{SATURATED_SCALE / INPUT_SCALE:.0f} (saturated)"]
    lstm, lstm1, gru = curves["LSTM"], curves["LSTM, forget bias 1"], curves["GRU"]
    f = {r: f"{per_step(rnn[r]):.2f}" for r in RADII}
    f0, f1 = forget["LSTM"], forget["LSTM, forget bias 1"]
    why = [
        "Why. Backpropagation carries dL/dh_t one step back by multiplying it with the Jacobian of",
        "one step, J_t = dh_t/dh_(t-1) = diag(1 - h_t^2) W_hh, so dL/dh_0 is dL/dh_(T-1) times a",
        "product of T-1 such matrices. Without the tanh that product is W_hh^(T-1), which grows or",
        "shrinks like radius^(T-1), the spectral radius being the largest |eigenvalue| of W_hh (here",
        "every eigenvalue has that modulus, as W_hh is a scaled orthogonal matrix): "
        f"0.5^{T - 1} = {0.5 ** (T - 1):.0e},",
        f"2^{T - 1} = {2.0 ** (T - 1):.0e}. The tanh's factor 1 - h_t^2 lies in (0, 1], so it can only "
        "shrink the gradient",
        f"further: the measured factor per step is below the radius ({f[0.5]} at 0.5, {f[1.0]} at 1.0,",
        f"{f[1.5]} at 1.5, {f[2.0]} at 2.0), which is why radius 1.0 still vanishes. Explosion needs",
        "radius > 1 and unsaturated units: with inputs "
        f"{SATURATED_SCALE / INPUT_SCALE:.0f}x larger, {saturation['saturated']:.0%} of the units sit at",
        "|h| > 0.95, where tanh' is nearly 0, and the same 2.0-radius W_hh gives ||dL/dh_0|| = "
        f"{sat[0]:.0e}",
        f"instead of {rnn[2.0][0]:.0e}. The gated cells keep a path without W_hh and without tanh': "
        "the LSTM's",
        "cell state is updated by addition, c_t = f_t * c_(t-1) + i_t * g_t, so along it each step",
        "multiplies the gradient by the forget gate f_t alone (about sigma(0) = 0.5 at initialisation,",
        "sigma(1) = 0.73 with the forget bias at 1); the GRU's h_t = (1 - z_t) * n_t + z_t * h_(t-1)",
        "has the same kind of path through its update gate z_t. Their gradients still shrink, but more",
        f"slowly: at t = 0 they are {lstm[0]:.0e} (LSTM), {lstm1[0]:.0e} (LSTM, forget bias 1) and "
        f"{gru[0]:.0e} (GRU),",
        f"against {rnn[0.5][0]:.0e} for the 0.5-radius RNN. The default LSTM vanishes faster than the "
        "radius-1 RNN because",
        f"its forget gates start at {f0['gate_mean']:.2f} on average (bias about 0): the cell path about "
        f"halves the gradient each step",
        f"(0.5^{T - 1} = {0.5 ** (T - 1):.0e}), while the radius-1 RNN loses only tanh's share ({f[1.0]} "
        f"per step). With the forget bias at 1",
        f"the gates average {f1['gate_mean']:.2f}, yet the gradient shrinks by only {f1['measured']:.2f} "
        "per step, for two reasons. The norm",
        "follows the units whose gates are most open: the cell path alone (the product of each unit's f_t)",
        f"shrinks it by {f1['cell_path']:.2f} per step. And h_(t-1) feeds the gates through W_hh, a second "
        "path that adds to",
        f"the cell path's gradient (default init: gate {f0['gate_mean']:.2f}, cell path "
        f"{f0['cell_path']:.2f}, measured {f0['measured']:.2f}). Training moves the gates;",
        "a forget gate near 1 carries the gradient across many steps.",
    ]
    print("\n" + "\n".join(why))

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.2))
    reds = plt.get_cmap("plasma")
    steps = np.arange(T)
    for k, r in enumerate(RADII):
        ax.plot(steps, rnn[r], color=reds(0.1 + 0.75 * k / (len(RADII) - 1)), lw=2,
                label=f"tanh RNN, spectral radius {r}: x{f[r]} per step")
    ax.plot(steps, sat, color=reds(0.85), lw=2, ls=":",
            label=f"tanh RNN, radius 2.0, inputs {SATURATED_SCALE / INPUT_SCALE:.0f}x larger (saturated)")
    ax.plot(steps, lstm, color="tab:green", lw=2,
            label=f"LSTM, default init: forget gate {f0['gate_mean']:.2f}, x{f0['measured']:.2f} per step")
    ax.plot(steps, lstm1, color="tab:green", lw=1.5, ls="--",
            label=f"LSTM, forget bias 1: forget gate {f1['gate_mean']:.2f}, x{f1['measured']:.2f} per step")
    ax.plot(steps, gru, color="tab:cyan", lw=2, label="GRU (default init)")
    ax.set_yscale("log")
    ax.set_xlabel(f"time step t (the loss reads h_t at t = {T - 1} only)")
    ax.set_ylabel("||dL/dh_t||  (log scale)")
    ax.set_title(f"How much the last step's loss depends on h_t: {HIDDEN}-unit networks, same inputs")
    ax.axhline(1.0, color="#999999", lw=0.8)
    top = 10 ** (np.log10(max(g.max() for g in curves.values())) + 3)
    ax.set_ylim(top=top)
    ax.annotate("backpropagation runs this way", xy=(0.55 * T, top / 30), xytext=(0.8 * T, top / 30),
                fontsize=8, va="center", ha="left", color="#555555",
                arrowprops={"arrowstyle": "->", "color": "#555555"})
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="major", alpha=0.3)
    save(fig, args.out, "gradient_norms.png")

    # the first EXPLORED steps of the radius-0.5 RNN and the LSTM (forget bias 1) in the BPTT explorer
    rnn_loss, rnn_hidden, w_hh, _ = tanh_rnn_loss(x[:EXPLORED], v, 0.5, INPUT_SCALE, np.random.default_rng(1))
    lstm_loss, lstm_hidden, cell = gated_loss("lstm", x[:EXPLORED], v, np.random.default_rng(1), 1.0)
    explorer = graph.explore(rnn_loss, params={"W_hh": w_hh}, name="tanh RNN, radius 0.5",
                             compare={"LSTM, forget bias 1": (lstm_loss, cell)},
                             loss_text=f"L = v · h_{EXPLORED - 1}: a fixed random readout of the last state, "
                             "not a probability's log, so it can be negative; only its gradient matters here",
                             path=os.path.join(args.out, "explorer.html"))
    print(f"  wrote {explorer} (open it in a browser)")
    shown = {"rnn": norms(rnn_loss, rnn_hidden), "lstm": norms(lstm_loss, lstm_hidden)}  # the page's numbers
    print(f"  in the explorer ({EXPLORED} steps): ||dL/dh_6|| = {shown['rnn'][6]:.1e} (RNN), "
          f"{shown['lstm'][6]:.1e} (LSTM); at t = 0: {shown['rnn'][0]:.1e}, {shown['lstm'][0]:.1e}")


    def orders(g: np.ndarray) -> float:  # decades between the last step and the first
        return float(np.log10(g[-1] / g[0]))

    return {
        "explorer": explorer,
        "T": T,
        "measured_radii": measured,
        "rnn_first": {r: float(rnn[r][0]) for r in RADII},
        "rnn_last": {r: float(rnn[r][-1]) for r in RADII},
        "rnn_0.5_decades_lost": orders(rnn[0.5]),
        "rnn_2.0_decades_gained": -orders(rnn[2.0]),
        "saturated_2.0_first": float(sat[0]),
        "lstm_first": float(lstm[0]),
        "lstm_forget_bias_1_first": float(lstm1[0]),
        "gru_first": float(gru[0]),
        "per_step_factor": {r: per_step(rnn[r]) for r in RADII},
        "forget": forget,
        "explorer_rnn": shown["rnn"].tolist(), "explorer_lstm": shown["lstm"].tolist(),
    }


def short(value: float) -> str:
    """6.4e-06 -> '6.4e-6': the explorer's way of writing a gradient norm."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def readme_figures(r: dict) -> dict[str, str]:
    return {"explorer_rnn_t6": f"t=6 the RNN's gradient is {short(r['explorer_rnn'][6])}",
            "explorer_rnn_t0": f"{short(r['explorer_rnn'][0])} at t=0",
            "explorer_lstm_t6": f"the LSTM's {short(r['explorer_lstm'][6])}",
            "lost_0.5": f"loses {r['rnn_0.5_decades_lost']:.0f} orders", "gained_2.0":
            f"2.0 gains {r['rnn_2.0_decades_gained']:.0f}", "rnn_1.0": f"{r['rnn_first'][1.0]:.0e}",
            "lstm": f"{r['lstm_first']:.0e}", "lstm1": f"{r['lstm_forget_bias_1_first']:.0e}",
            "gru": f"{r['gru_first']:.0e}", "rnn_0.5": f"{r['rnn_first'][0.5]:.0e}",
            "rnn_1.0_factor": f"{r['per_step_factor'][1.0]:.2f} per step",
            "lstm_gate": f"gate {r['forget']['LSTM']['gate_mean']:.2f}",
            "lstm1_gate": f"gates average {r['forget']['LSTM, forget bias 1']['gate_mean']:.2f}",
            **{f"{key}_{part}": f"{label} {r['forget'][name][part]:.2f}"
               for key, name in (("lstm", "LSTM"), ("lstm1", "LSTM, forget bias 1"))
               for part, label in (("cell_path", "cell path"), ("measured", "measured"))}}


if __name__ == "__main__":
    main()
