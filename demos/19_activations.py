"""Lesson 19: ReLU and sigmoid RNNs next to tanh: what explodes, what saturates, and what clipping saves.

    .venv/bin/python demos/19_activations.py           # 60 steps; training: 300 steps, seeds 0-2
    .venv/bin/python demos/19_activations.py --quick   # 30 steps; training: 150 steps, seed 0 (CI)

An Elman RNN h_t = phi(W_ih x_t + b + W_hh h_(t-1)) with three nonlinearities phi: ReLU and tanh are
``nn.RNN(nonlinearity='relu' | 'tanh')``; the sigmoid has no option in nn.RNN (nor in PyTorch), so the same
layer's parameters are run by `nn.recurrent.scan`, the loop every recurrent layer uses, with a sigmoid step.
The three start from the same weights, W_hh an orthogonal matrix scaled to spectral radius 1.5.

Backward, each step multiplies dL/dh by W_hh^T diag(phi'): a factor of at most radius * max phi'. The
slopes differ: ReLU' is 0 or 1, tanh' = 1 - h^2 is at most 1, sigmoid' = h (1 - h) is at most 1/4. So:

- ReLU does not bound h: with radius > 1 the active units grow geometrically, forward (||h_t||) and
  backward (||dL/dh_t||): it explodes;
- sigmoid squashes h into (0, 1) and its slope is at most 1/4: the gradient shrinks by at least
  radius / 4 < 1 per step: it vanishes (saturates), even at a radius that makes the others explode;
- tanh sits between: h is bounded, the slope is at most 1, and its gradient grows or shrinks slowly.

The script measures ||h_t|| and ||dL/dh_t|| (L = v . h_(T-1), a fixed random read-out; the hidden states
are found in the graph by their "h" tags), the mean slope phi' along the way, and the gradient's factor
per step against its bound. Then the three train on lesson 4's task (a leaky running sum of 40 inputs,
16 units, W_hh at radius 1.2, plain SGD at lr 0.1, 300 steps) with and without clipping the gradient's
norm to 1; a run whose loss passes 1e6 or becomes NaN has diverged and stops.

Picture: ``activations.png``: ||h_t|| and ||dL/dh_t|| against t, the three slopes phi'(a), and the
training losses with and without clipping (seed 0).
"""

from __future__ import annotations

import math

import numpy as np
from common import load_lesson, parse_args, plt, save

import tinygrad_seq as ts
from tinygrad_seq import Tensor, nn, scope
from tinygrad_seq.functional import mse_loss
from tinygrad_seq.graph_analysis import Graph, time_step
from tinygrad_seq.nn.recurrent import State, project, scan

PICTURES = ("activations.png",)
ACTIVATIONS = ("relu", "tanh", "sigmoid")
COLOURS = {"relu": "tab:red", "tanh": "tab:blue", "sigmoid": "tab:green"}
MAX_SLOPE = {"relu": 1.0, "tanh": 1.0, "sigmoid": 0.25}
HIDDEN, INPUT, RADIUS = 32, 8, 1.5  # the measurement
TRAIN_HIDDEN, TRAIN_RADIUS, LR, CLIP, DIVERGED = 16, 1.2, 0.1, 1.0, 1e6  # the training
clipping = load_lesson("04_clipping")  # its task (`batch`) and `scaled_orthogonal`


def rnn_sigmoid_step(gi: Tensor, state: State, w_hh_t: Tensor, b_hh: Tensor | None) -> State:
    """h' = sigmoid(gi + h @ W_hh^T); gi already holds x @ W_ih^T + b_ih + b_hh (as nn.recurrent's steps)."""
    (h,) = state
    return ((gi + h @ w_hh_t).sigmoid(),)


class Elman(nn.Module):
    """h_t = phi(W_ih x_t + b_ih + b_hh + W_hh h_(t-1)), W_hh = radius * Q: (T, B, I) -> every h, (T, B, H).

    ReLU and tanh are nn.RNN itself; the sigmoid runs nn.RNN's parameters through `scan`."""

    def __init__(self, nonlinearity: str, input_size: int, hidden: int, radius: float,
                 rng: np.random.Generator, fused: bool = False) -> None:
        super().__init__()
        self.nonlinearity = nonlinearity
        own = "tanh" if nonlinearity == "sigmoid" else nonlinearity
        self.rnn = nn.RNN(input_size, hidden, nonlinearity=own, rng=rng, dtype=np.float64,
                          fused=fused and nonlinearity != "sigmoid")
        self.rnn.weight_hh_l0.data = clipping.scaled_orthogonal(hidden, radius, rng)

    def forward(self, x: Tensor) -> Tensor:
        if self.nonlinearity != "sigmoid":
            return self.rnn(x)[0]
        r = self.rnn
        gi = project(x, r.weight_ih_l0, r.bias_ih_l0 + r.bias_hh_l0)  # (T, B, I) -> (T, B, H)
        h0 = Tensor(np.zeros((x.shape[1], r.hidden_size)))
        with scope("l0"):
            out, _ = scan(rnn_sigmoid_step, gi, (h0,), r.weight_hh_l0.T)
        return out


def hidden_states(loss: Tensor) -> list[Tensor]:
    """The hidden state of every time step behind `loss`, in time order: the tensors tagged "h" in a step."""
    found: dict[int, Tensor] = {}
    for fn in Graph([loss]).order:
        for x in fn.inputs:
            for where, name in x.tags:
                step = time_step(where)
                if name == "h" and step is not None:
                    found[step[1]] = x
    return [found[k] for k in sorted(found)]


def measure(nonlinearity: str, T: int, seed: int) -> dict:
    """||h_t||, ||dL/dh_t|| (L = v . h_(T-1)), the mean slope phi' and the gradient's factor per step."""
    model = Elman(nonlinearity, INPUT, HIDDEN, RADIUS, np.random.default_rng(seed))
    data = np.random.default_rng(seed + 1)
    x = Tensor(data.normal(size=(T, 1, INPUT)))
    v = Tensor(data.normal(size=HIDDEN))
    out = model(x)
    loss = (out[-1] * v).sum()
    hs = hidden_states(loss)
    assert len(hs) == T, f"found {len(hs)} hidden states for {T} steps"
    grads = np.array([np.linalg.norm(g.numpy()) for g in ts.grad(loss, hs)])
    h = out.numpy()[:, 0]  # (T, H)
    slope = {"relu": (h > 0).mean(), "tanh": (1 - h**2).mean(), "sigmoid": (h * (1 - h)).mean()}[nonlinearity]
    return {"h_norm": np.linalg.norm(h, axis=1), "grad_norm": grads, "slope": float(slope),
            "factor": float((grads[0] / grads[-1]) ** (1 / (T - 1))),
            "bound": RADIUS * MAX_SLOPE[nonlinearity]}


class RunningSum(nn.Module):
    """Lesson 4's model with a chosen nonlinearity: x (T, B, 1) -> Elman RNN -> linear read-out (T, B, 1)."""

    def __init__(self, nonlinearity: str, rng: np.random.Generator) -> None:
        super().__init__()
        self.body = Elman(nonlinearity, 1, TRAIN_HIDDEN, TRAIN_RADIUS, rng, fused=True)
        self.head = nn.Linear(TRAIN_HIDDEN, 1, rng=rng, dtype=np.float64)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def train(nonlinearity: str, clip: float | None, steps: int, seed: int) -> dict:
    """SGD on lesson 4's running sum; clip the gradient's norm to `clip` (None: never)."""
    rng = np.random.default_rng(seed)
    model = RunningSum(nonlinearity, rng)
    opt = nn.optim.SGD(model.parameters(), lr=LR)
    data = np.random.default_rng(seed + 1)
    losses: list[float] = []
    for step in range(steps):
        x, y = clipping.batch(data)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows: that is the point
            loss = mse_loss(model(x), y)
        losses.append(loss.item())
        if not math.isfinite(losses[-1]) or losses[-1] > DIVERGED:
            return {"losses": losses, "diverged_at": step, "final": math.inf}
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        with np.errstate(over="ignore", invalid="ignore"):
            opt.step()
    return {"losses": losses, "diverged_at": None, "final": float(np.mean(losses[-max(steps // 10, 5):]))}


def picture(measured: dict, runs: dict, T: int):
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax_h, ax_g, ax_slope, ax_train = axes.ravel()
    t = np.arange(T)
    for name, m in measured.items():
        ax_h.semilogy(t, m["h_norm"], color=COLOURS[name], lw=2,
                      label=f"{name}: {m['h_norm'][-1]:.3g} at t = {T - 1}")
        ax_g.semilogy(t, m["grad_norm"], color=COLOURS[name], lw=2,
                      label=f"{name}: x{m['factor']:.2f} per step (bound {m['bound']:.3g})")
    ax_h.axhline(np.sqrt(HIDDEN), color="gray", ls=":", lw=1)
    ax_h.text(0, np.sqrt(HIDDEN) * 1.3, f"sqrt(H) = {np.sqrt(HIDDEN):.1f}: the most a tanh or sigmoid h can "
              "be",
              fontsize=8, color="gray")
    ax_h.set_title(f"Forward: ||h_t|| (same weights, W_hh at spectral radius {RADIUS})", fontsize=10)
    ax_h.set_ylabel("||h_t|| (log scale)")
    ax_g.set_title(f"Backward: ||dL/dh_t||, L reads h at t = {T - 1}", fontsize=10)
    ax_g.set_ylabel("||dL/dh_t|| (log scale)")
    for ax in (ax_h, ax_g):
        ax.set_xlabel("time step t")
        ax.legend(fontsize=8.5)
        ax.grid(alpha=0.3, which="both")
    a = np.linspace(-5, 5, 401)
    s = 1 / (1 + np.exp(-a))
    slopes = {"relu": (a > 0).astype(float), "tanh": 1 - np.tanh(a) ** 2, "sigmoid": s * (1 - s)}
    for name, slope in slopes.items():
        ax_slope.plot(a, slope, color=COLOURS[name], lw=2, label=f"{name}': at most {MAX_SLOPE[name]:g}; "
                      f"mean along h: {measured[name]['slope']:.2f}")
    ax_slope.set_xlabel("pre-activation a")
    ax_slope.set_ylabel("phi'(a): the factor each step's backward multiplies by")
    ax_slope.set_title("The slopes: the sigmoid's is at most 1/4", fontsize=10)
    ax_slope.legend(fontsize=8.5, loc="upper left")
    ax_slope.set_ylim(-0.05, 1.25)
    ax_slope.grid(alpha=0.3)
    top = 30.0  # the panel's ceiling: a diverged run is drawn up to it and marked there
    for (name, clip), run in runs.items():
        losses = np.minimum(run["losses"], top)
        smooth = np.convolve(losses, np.ones(10) / 10, mode="valid") if len(losses) >= 10 else losses
        label = f"{name}, {'clip ' + format(clip, 'g') if clip else 'no clipping'}: "
        diverged = run["diverged_at"] is not None
        label += f"diverged at step {run['diverged_at']}" if diverged else f"{run['final']:.3f}"
        steps = np.arange(len(losses))
        ax_train.semilogy(steps[len(steps) - len(smooth):], smooth, color=COLOURS[name],
                          ls="-" if clip else "--", lw=2, label=label)
        if diverged:
            ax_train.semilogy(steps, losses, color=COLOURS[name], ls="--", lw=1, alpha=0.5)
            ax_train.plot(run["diverged_at"], top / 1.6, "x", color=COLOURS[name], ms=12, mew=3)
    ax_train.set_ylim(0.03, top)
    ax_train.set_xlabel(f"training step (SGD, lr {LR})")
    ax_train.set_ylabel("training loss (MSE, mean of 10 steps, log scale)")
    ax_train.set_title(f"Lesson 4's running sum, W_hh starting at radius {TRAIN_RADIUS} (seed 0)",
                       fontsize=10)
    ax_train.legend(fontsize=8, loc="upper right", ncol=2)
    ax_train.grid(alpha=0.3, which="both")
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = parse_args("19_activations", __doc__, argv)
    T, steps, seeds = (30, 150, (0,)) if args.quick else (60, 300, (0, 1, 2))
    measured = {name: measure(name, T, seed=0) for name in ACTIVATIONS}
    print(f"An RNN with {HIDDEN} units over {T} steps, W_hh an orthogonal matrix at spectral radius "
          f"{RADIUS}, "
          f"the same weights for each nonlinearity.\nL = v . h_{T - 1}.\n")
    print(f"{'':>8} {'||h_0||':>9} {'||h_T-1||':>10} {'||dL/dh_0||':>12} {'||dL/dh_T-1||':>14} "
          f"{'mean slope':>11} {'factor/step':>12} {'bound':>6}")
    for name, m in measured.items():
        print(f"{name:>8} {m['h_norm'][0]:>9.3g} {m['h_norm'][-1]:>10.3g} {m['grad_norm'][0]:>12.3g} "
              f"{m['grad_norm'][-1]:>14.3g} {m['slope']:>11.2f} {m['factor']:>12.2f} {m['bound']:>6.3g}")
    print(f"ReLU explodes forward and backward; the sigmoid's gradient shrinks by "
          f"x{measured['sigmoid']['factor']:.2f} per step, within its bound radius/4 = {RADIUS / 4:g};\n"
          "tanh is bounded forward and changes slowly backward.\n")
    print(f"Training on lesson 4's running sum ({steps} SGD steps, lr {LR}, W_hh at radius {TRAIN_RADIUS}, "
          f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))});\n"
          "final loss (mean of the last tenth; the targets' variance is 1):")
    runs: dict = {}
    table: dict[str, dict] = {}
    for name in ACTIVATIONS:
        for clip in (None, CLIP):
            results = [train(name, clip, steps, seed) for seed in seeds]
            runs[(name, clip)] = results[0]
            finals = [r["final"] for r in results]
            key = f"{name}, {'clip' if clip else 'no clip'}"
            table[key] = {"median": float(np.median(finals)), "min": min(finals), "max": max(finals),
                          "diverged": sum(r["diverged_at"] is not None for r in results)}
            e = table[key]
            finished = f"median {e['median']:.3g} (range {e['min']:.3g}-{e['max']:.3g})"
            print(f"  {key:>18}: {finished if e['diverged'] < len(seeds) else 'every run'} "
                  f"diverged {e['diverged']} of {len(seeds)}".replace("every run diverged", "diverged"))
    save(picture(measured, runs, T), args.out, "activations.png")
    return {"T": T, "seeds": len(seeds), "steps": steps,
            "h_last": {n: float(m["h_norm"][-1]) for n, m in measured.items()},
            "h_first": {n: float(m["h_norm"][0]) for n, m in measured.items()},
            "grad_first": {n: float(m["grad_norm"][0]) for n, m in measured.items()},
            "grad_last": {n: float(m["grad_norm"][-1]) for n, m in measured.items()},
            "slope": {n: m["slope"] for n, m in measured.items()},
            "factor": {n: m["factor"] for n, m in measured.items()},
            "bound": {n: m["bound"] for n, m in measured.items()}, "training": table}


def readme_figures(r: dict) -> dict[str, str]:
    figures = {f"h_{n}": f"{v:.3g}" for n, v in r["h_last"].items()}
    figures |= {f"grad_{n}": f"{v:.2g}" for n, v in r["grad_first"].items()}
    figures |= {f"factor_{n}": f"{v:.2f}" for n, v in r["factor"].items()}
    figures |= {f"slope_{n}": f"{v:.2f}" for n, v in r["slope"].items()}
    figures["grad_last"] = f"{r['grad_last']['tanh']:.2g}"
    for key, e in r["training"].items():
        cell = f"{e['median']:.3g}" if math.isfinite(e["median"]) else "diverged"
        figures[f"train {key}"] = f"| {key} | {cell} | {e['diverged']} of {r['seeds']} |"
    return figures


if __name__ == "__main__":
    main()
