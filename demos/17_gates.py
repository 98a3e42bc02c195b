"""Lesson 17: the LSTM and GRU cells, gate by gate: what each gate computes and what it does, measured.

    .venv/bin/python demos/17_gates.py           # memory over 60 steps, the bias swept from -8 to 8
    .venv/bin/python demos/17_gates.py --quick   # 20 steps, fewer biases (CI)

The equations (PyTorch's, which `nn.LSTMCell` and `nn.GRUCell` follow; sigma is the logistic sigmoid,
* the element-wise product):

    LSTM  i = sigma(W_ii x + b_ii + W_hi h + b_hi)     input gate: how much new content is written
          f = sigma(W_if x + b_if + W_hf h + b_hf)     forget gate: how much of the old cell is kept
          g = tanh(W_ig x + b_ig + W_hg h + b_hg)      the candidate content
          o = sigma(W_io x + b_io + W_ho h + b_ho)     output gate: how much of the cell is shown
          c' = f * c + i * g                           the cell state: an additive path
          h' = o * tanh(c')
    GRU   r = sigma(W_ir x + b_ir + W_hr h + b_hr)     reset gate: how much of h the candidate reads
          z = sigma(W_iz x + b_iz + W_hz h + b_hz)     update gate: how much of h is kept
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
          h' = (1 - z) * n + z * h

The gate values are read from the real layers: the cells tag every gate they compute
(`tinygrad_seq.tags`), and the script finds the tagged tensors in the graph of the cell's output. The
cells are untrained (seeded); the input is the one-hot symbol "c" of {a, b, c, d} after the cell has
read "abd".

What each gate does is shown by pushing it with its bias (bias_ih's slice of that gate set to +-8, so the
gate sits near sigma(8) = 0.9997 or sigma(-8) = 0.0003) and measuring the cell:
- LSTM forget gate near 1 (input gate near 0): c' / c is 1, the cell state is kept; near 0: two cells
  that differ only in c end with the same c' (the part of the difference left is the gate's value);
- GRU update gate z near 1 copies the state, ||h' - h|| / ||h|| is about 0; near 0, h' is the candidate n;
- GRU reset gate r near 0: the candidate n no longer depends on h (two different states give the same n).
Over many steps the same gates decide how much of the first state is left: the second picture follows
two states that differ only at t = 0 for 60 steps.

Pictures: ``cells.png``: the LSTM and GRU cells drawn as diagrams, each gate's value on every unit
(coloured squares) and its mean; ``gate_effects.png``: the memory of the first state over time for
several gate biases, and the one-step measurements against the bias.
"""

from __future__ import annotations

import numpy as np
from common import parse_args, plt, save
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq.graph_analysis import Graph

PICTURES = ("cells.png", "gate_effects.png")
SYMBOLS = "abcd"
H, PUSH = 6, 8.0  # hidden units; the bias that pushes a gate to sigma(+-8)
LSTM_GATES, GRU_GATES = "ifgo", "rzn"


def tagged(*roots: Tensor) -> dict[str, np.ndarray]:
    """name -> the values of the tensor tagged `name` (`tinygrad_seq.tags`) in the graph behind `roots`."""
    g = Graph(roots)
    tensors = list(roots) + [x for fn in g.order for x in fn.inputs]
    return {name: t.numpy() for t in tensors for _, name in t.tags}


def one_hot(text: str) -> list[Tensor]:
    """One (1, 4) float64 row per symbol."""
    eye = np.eye(len(SYMBOLS))
    return [Tensor(eye[SYMBOLS.index(s)][None]) for s in text]


def cells(seed: int) -> tuple[nn.LSTMCell, nn.GRUCell]:
    rng = np.random.default_rng(seed)
    return (
        nn.LSTMCell(len(SYMBOLS), H, rng=rng, dtype=np.float64),
        nn.GRUCell(len(SYMBOLS), H, rng=rng, dtype=np.float64),
    )


def read(lstm: nn.LSTMCell, gru: nn.GRUCell, before: str, symbol: str) -> tuple[dict, dict]:
    """Each cell's gates and states at the step that reads `symbol` after reading `before`."""
    h = c = Tensor(np.zeros((1, H)))
    hg = Tensor(np.zeros((1, H)))
    with no_grad():
        for x in one_hot(before):
            h, c = lstm(x, (h, c))
            hg = gru(x, hg)
    x = one_hot(symbol)[0]
    h1, c1 = lstm(x, (h, c))  # with the graph recorded: the tags are found through it
    lstm_values = tagged(h1, c1) | {"h_prev": h.numpy(), "c_prev": c.numpy()}
    lstm_values["h"], lstm_values["c"] = h1.numpy(), c1.numpy()
    hg1 = gru(x, hg)
    gru_values = tagged(hg1) | {"h_prev": hg.numpy(), "h": hg1.numpy()}
    return lstm_values, gru_values


def push(cell: nn.Module, gate: int, value: float | None) -> None:
    """Set the slice of bias_ih for gate number `gate` (PyTorch's stacking order) to `value`, bias_hh's to 0.

    ``None`` leaves the cell's own initial biases."""
    if value is None:
        return
    b_ih, b_hh = cell.bias_ih.data.copy(), cell.bias_hh.data.copy()
    b_ih[gate * H : (gate + 1) * H], b_hh[gate * H : (gate + 1) * H] = value, 0.0
    cell.bias_ih.data, cell.bias_hh.data = b_ih, b_hh


def pushed(kind: str, gates: dict[int, float | None], seed: int) -> nn.Module:
    """A fresh cell (same seed) with the given gates pushed: {gate number: bias}."""
    cell = cells(seed)[0 if kind == "lstm" else 1]
    for gate, value in gates.items():
        push(cell, gate, value)
    return cell


def states(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two states (1, H) whose every entry is 0.5..1 in size with a random sign: no entry near 0."""
    a, b = (rng.uniform(0.5, 1.0, (1, H)) * rng.choice([-1, 1], (1, H)) for _ in range(2))
    return a, b


def one_step(kind: str, gates: dict[int, float | None], seed: int) -> dict[str, float]:
    """One step from two states that differ (c for the LSTM, h for the GRU) on the same input 'c'.

    LSTM: "kept" = mean c'/c; "passed" = ||c'_a - c'_b|| / ||c_a - c_b|| (h the same for both).
    GRU: "change" = ||h' - h|| / ||h||; "n_reads_h" = ||n_a - n_b|| / ||h_a - h_b||; the gates' means.
    """
    cell = pushed(kind, gates, seed)
    a, b = states(np.random.default_rng(seed + 100))
    x = one_hot("c")[0]
    if kind == "lstm":
        h = Tensor(np.zeros((1, H)))
        out_a, out_b = (cell(x, (h, Tensor(c))) for c in (a, b))
        values = tagged(*out_a)
        c_a, c_b = out_a[1].numpy(), out_b[1].numpy()
        return {
            "kept": float(np.mean(c_a / a)),
            "passed": float(np.linalg.norm(c_a - c_b) / np.linalg.norm(a - b)),
            **{g: float(values[g].mean()) for g in LSTM_GATES},
        }
    h_a, h_b = cell(x, Tensor(a)), cell(x, Tensor(b))
    values_a, values_b = tagged(h_a), tagged(h_b)
    return {
        "change": float(np.linalg.norm(h_a.numpy() - a) / np.linalg.norm(a)),
        "n_reads_h": float(np.linalg.norm(values_a["n"] - values_b["n"]) / np.linalg.norm(a - b)),
        **{g: float(values_a[g].mean()) for g in GRU_GATES},
    }


def memory(kind: str, gates: dict[int, float | None], steps: int, seed: int) -> np.ndarray:
    """How much of a difference in the first state is left after t = 1..steps steps on the same inputs:
    ||s_a(t) - s_b(t)|| / ||s_a(0) - s_b(0)||, s the cell state c (LSTM) or h (GRU)."""
    cell = pushed(kind, gates, seed)
    rng = np.random.default_rng(seed + 200)
    text = "".join(rng.choice(list(SYMBOLS), steps))
    a, b = states(rng)
    zero = Tensor(np.zeros((1, H)))
    s = [(zero, Tensor(a)), (zero, Tensor(b))] if kind == "lstm" else [Tensor(a), Tensor(b)]
    left = []
    with no_grad():
        for x in one_hot(text):
            s = [cell(x, state) for state in s]
            diff = s[0][1] - s[1][1] if kind == "lstm" else s[0] - s[1]
            left.append(np.linalg.norm(diff.numpy()) / np.linalg.norm(a - b))
    return np.array(left)



# ---------------------------------------------------------------------------------------------
# the cell diagrams
# ---------------------------------------------------------------------------------------------


def strip(ax, x: float, y: float, values: np.ndarray, lo: float, w: float = 0.3) -> None:
    """One coloured square per unit, centred at (x, y): sigmoid gates 0..1 (lo = 0), tanh values -1..1."""
    cmap = plt.get_cmap("viridis" if lo == 0 else "RdBu_r")
    n = values.size
    for k, v in enumerate(np.ravel(values)):
        ax.add_patch(Rectangle((x - n * w / 2 + k * w, y - w / 2), w, w, facecolor=cmap((v - lo) / (1 - lo)),
                               edgecolor="white", lw=0.5, zorder=4))


def box(ax, x: float, y: float, title: str, values: np.ndarray, lo: float, colour: str) -> None:
    """A gate: its name and nonlinearity, its units' values as squares, and their mean."""
    ax.add_patch(FancyBboxPatch((x - 1.1, y - 0.7), 2.2, 1.4, boxstyle="round,pad=0.05", facecolor=colour,
                                edgecolor="#333333", lw=1.2, zorder=3))
    ax.text(x, y + 0.42, title, ha="center", va="center", fontsize=10, weight="bold", zorder=5)
    strip(ax, x, y, values, lo)
    mean = round(values.mean(), 2) + 0.0  # + 0.0: no "-0.00"
    ax.text(x, y - 0.45, f"mean {mean:.2f}", ha="center", va="center", fontsize=9, zorder=5)


def node(ax, x: float, y: float, symbol: str) -> None:
    """A pointwise operation: a product, a sum, tanh, 1 - z."""
    r = 0.28 if len(symbol) == 1 else 0.36
    ax.add_patch(Circle((x, y), r, facecolor="#fff3c4", edgecolor="#333333", lw=1.2, zorder=3))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=11 if len(symbol) == 1 else 9, zorder=5)


def arrow(ax, *points: tuple[float, float], colour: str = "#444444", lw: float = 1.4) -> None:
    """A polyline through `points` with an arrow head at the end."""
    for (x0, y0), (x1, y1) in zip(points[:-2], points[1:-1]):
        ax.plot([x0, x1], [y0, y1], color=colour, lw=lw, zorder=1)
    ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>", mutation_scale=12, color=colour,
                                 lw=lw, zorder=2, shrinkA=0, shrinkB=9))


def state(ax, x: float, y: float, name: str, values: np.ndarray) -> None:
    ax.text(x, y + 0.3, name, ha="center", va="bottom", fontsize=10, weight="bold")
    strip(ax, x, y, values, -1)


TOP, GATE_Y, LOW = 5.0, 2.4, 0.6  # the state's line, the gates' row, the [h, x] line
PATH = {"colour": "#1f4e9c", "lw": 2.5}  # the state's own path through the cell
TIMES, SIGMA = "\u00d7", "\u03c3"


def draw_lstm(ax, v: dict) -> None:
    state(ax, 0.9, TOP, "c (previous)", v["c_prev"])
    state(ax, 0.9, LOW, "h (previous), x = 'c'", v["h_prev"])
    gates = {"f": (3.0, f"f: forget, {SIGMA}", "#cfe8ff", 0), "i": (5.5, f"i: input, {SIGMA}", "#d7f5d0", 0),
             "g": (8.0, "g: candidate, tanh", "#f4e1ff", -1),
             "o": (10.5, f"o: output, {SIGMA}", "#ffe2cc", 0)}
    ax.plot([1.9, 10.5], [LOW, LOW], color="#888888", lw=1.4, zorder=1)  # [h, x] feeds every gate
    for name, (x, title, colour, lo) in gates.items():
        arrow(ax, (x, LOW), (x, GATE_Y - 0.7), colour="#888888")
        box(ax, x, GATE_Y, title, v[name], lo, colour)
    # the cell state's additive path: c' = f * c + i * g
    node(ax, 3.0, TOP, TIMES)
    node(ax, 6.75, TOP, "+")
    node(ax, 6.75, 3.9, TIMES)
    arrow(ax, (1.9, TOP), (3.0, TOP), **PATH)
    arrow(ax, (3.0, TOP), (6.75, TOP), **PATH)
    arrow(ax, (6.75, TOP), (13.2, TOP), **PATH)
    arrow(ax, (3.0, GATE_Y + 0.7), (3.0, TOP))
    arrow(ax, (5.5, GATE_Y + 0.7), (5.5, 3.9), (6.75, 3.9))
    arrow(ax, (8.0, GATE_Y + 0.7), (8.0, 3.9), (6.75, 3.9))
    arrow(ax, (6.75, 3.9), (6.75, TOP))
    # h' = o * tanh(c')
    node(ax, 12.2, 3.9, "tanh")
    node(ax, 12.2, GATE_Y, TIMES)
    arrow(ax, (12.2, TOP), (12.2, 3.9))
    arrow(ax, (12.2, 3.9), (12.2, GATE_Y))
    arrow(ax, (10.5 + 1.1, GATE_Y), (12.2, GATE_Y))
    arrow(ax, (12.2, GATE_Y), (12.2, LOW), (13.2, LOW))
    state(ax, 14.2, TOP, "c' = f*c + i*g", v["c"])
    state(ax, 14.2, LOW, "h' = o*tanh(c')", v["h"])
    ax.text(4.9, TOP + 0.35, "the cell state's additive path: multiplied by f, added to, never squashed",
            ha="center", fontsize=9, color=PATH["colour"])


def draw_gru(ax, v: dict) -> None:
    state(ax, 0.9, TOP, "h (previous)", v["h_prev"])
    ax.text(0.9, LOW, "[h, x = 'c']", ha="center", va="center", fontsize=10, weight="bold")
    arrow(ax, (0.9, TOP - 0.2), (0.9, LOW + 0.25), colour="#888888")
    ax.plot([1.8, 8.5], [LOW, LOW], color="#888888", lw=1.4, zorder=1)
    gates = {"z": (3.0, f"z: update, {SIGMA}", "#cfe8ff", 0), "r": (5.5, f"r: reset, {SIGMA}", "#ffd6d6", 0),
             "n": (8.5, "n: candidate, tanh", "#f4e1ff", -1)}
    for name, (x, title, colour, lo) in gates.items():
        arrow(ax, (x, LOW), (x, GATE_Y - 0.7), colour="#888888")
        box(ax, x, GATE_Y, title, v[name], lo, colour)
    arrow(ax, (5.5 + 1.1, GATE_Y), (8.5 - 1.1, GATE_Y))  # r multiplies h's share inside n
    ax.text(7.0, GATE_Y + 0.15, "r*(W h)", ha="center", va="bottom", fontsize=8.5)
    # h' = z * h + (1 - z) * n
    node(ax, 3.0, TOP, TIMES)
    node(ax, 11.0, TOP, "+")
    node(ax, 5.5, 3.9, "1-")
    node(ax, 8.5, 3.9, TIMES)
    arrow(ax, (1.9, TOP), (3.0, TOP), **PATH)
    arrow(ax, (3.0, TOP), (11.0, TOP), **PATH)
    arrow(ax, (11.0, TOP), (13.2, TOP), **PATH)
    arrow(ax, (3.0, GATE_Y + 0.7), (3.0, TOP))
    arrow(ax, (3.0, 3.9), (5.5, 3.9))
    arrow(ax, (5.5, 3.9), (8.5, 3.9))
    arrow(ax, (8.5, GATE_Y + 0.7), (8.5, 3.9))
    arrow(ax, (8.5, 3.9), (11.0, 3.9), (11.0, TOP))
    state(ax, 14.2, TOP, "h' = (1-z)*n + z*h", v["h"])
    ax.text(7.0, TOP + 0.35, "z near 1: h is copied along this line;  r near 0: n ignores h", ha="center",
            fontsize=9, color=PATH["colour"])


def cells_picture(lstm_v: dict, gru_v: dict):
    fig, axes = plt.subplots(2, 1, figsize=(12, 9.5))
    draw_lstm(axes[0], lstm_v)
    draw_gru(axes[1], gru_v)
    for ax, title in zip(axes, ("nn.LSTMCell", "nn.GRUCell")):
        ax.set_xlim(-0.2, 15.4)
        ax.set_ylim(-0.1, 5.9)
        ax.axis("off")
        ax.set_title(f"{title} ({H} units, untrained) after reading 'abd', reading 'c': each gate's value on "
                     "every unit\n(gates: 0 = dark violet .. 1 = yellow;  tanh values and states: -1 = blue "
                     ".. +1 = red)", fontsize=10)
    return fig


def effects_picture(lstm_memory: dict, lstm_open: np.ndarray, gru_memory: dict, sweep: dict):
    fig, axes = plt.subplots(1, 3, figsize=(16, 6))
    colours = {-PUSH: "tab:red", None: "tab:gray", 1.0: "tab:olive", 3.0: "tab:green", PUSH: "tab:blue"}
    panels = ((axes[0], lstm_memory, "forget", "c"), (axes[1], gru_memory, "update z", "h"))
    for ax, runs, gate, what in panels:
        for bias, left in runs.items():
            label = "initial biases" if bias is None else f"{gate} bias {bias:+g}"
            ax.semilogy(np.arange(1, len(left) + 1), np.maximum(left, 1e-300), lw=2, color=colours[bias],
                        label=f"{label}: {left[-1]:.1e} left")
        if what == "c":
            ax.semilogy(np.arange(1, len(lstm_open) + 1), lstm_open, "--", lw=1.5, color=colours[PUSH],
                        label=f"forget {PUSH:+g}, input gate open: {lstm_open[-1]:.1f}")
        ax.axhspan(1e-19, 1e-16, color="#eeeeee", zorder=0)
        ax.text(len(lstm_open) / 2, 1e-18, "below 1e-16 float64 rounds the two states equal", fontsize=8,
                color="#777777", ha="center")
        ax.set_ylim(1e-19, 30)
        ax.set_xlabel("steps t")
        ax.set_ylabel(f"||{what}_a(t) - {what}_b(t)|| / ||{what}_a(0) - {what}_b(0)||")
        ax.set_title(f"{'LSTM (input gate shut)' if what == 'c' else 'GRU'}: how much of a difference in the "
                     f"first {what}\nis left after t steps", fontsize=10)
        ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
        ax.grid(alpha=0.3, which="both")
    ax = axes[2]
    for key, style, colour, label in (
            ("lstm_passed", "o-", "tab:blue", "LSTM: part of a change in c in c' (forget f)"),
            ("gru_change", "s-", "tab:green", "GRU: ||h' - h|| / ||h|| (update z)"),
            ("gru_n_reads_h", "^-", "tab:red", "GRU: ||n_a - n_b|| / ||h_a - h_b|| (reset r)")):
        ax.semilogy(sweep["biases"], sweep[key], style, color=colour, label=label)
    ax.set_xlabel("bias pushing the gate (forget f / update z / reset r)")
    ax.set_ylabel("measured, one step (log scale)")
    ax.set_title("One step: f near 1 keeps c, z near 1 copies h,\nr near 0 cuts h out of the candidate n",
                 fontsize=10)
    ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    ax.grid(alpha=0.3, which="both")
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = parse_args("17_gates", __doc__, argv,
                      extra=[("--seed", {"type": int, "default": 0, "help": "initial weights"})])
    seed = args.seed
    steps = 20 if args.quick else 60
    biases = [-PUSH, 0.0, PUSH] if args.quick else list(np.arange(-PUSH, PUSH + 1, 2.0))
    lstm_v, gru_v = read(*cells(seed), "abd", "c")
    print(f"The cells after reading 'abd', reading 'c' (untrained, seed {seed}): each gate's mean over "
          f"{H} units")
    print("  LSTM " + "  ".join(f"{g} {round(lstm_v[g].mean(), 2) + 0.0:.2f}" for g in LSTM_GATES))
    print("  GRU  " + "  ".join(f"{g} {round(gru_v[g].mean(), 2) + 0.0:.2f}" for g in GRU_GATES))
    save(cells_picture(lstm_v, gru_v), args.out, "cells.png")

    F, I, R, Z = 1, 0, 0, 1  # gate numbers in PyTorch's stacking order: LSTM i f g o, GRU r z n
    keep, wipe, default = (one_step("lstm", g, seed) for g in ({F: PUSH, I: -PUSH}, {F: -PUSH}, {}))
    copy, replace, reset, gru = (one_step("gru", g, seed) for g in ({Z: PUSH}, {Z: -PUSH}, {R: -PUSH}, {}))
    print(f"\nLSTM, one step from two cell states c_a, c_b (bias {PUSH:+g} or {-PUSH:+g} on a gate's slice):")
    print(f"  forget f = {keep['f']:.4f}, input i = {keep['i']:.4f}: c'/c = {keep['kept']:.4f} (kept)")
    print(f"  forget f = {wipe['f']:.4f}: ||c'_a - c'_b|| / ||c_a - c_b|| = {wipe['passed']:.1e} (wiped), "
          f"against {default['passed']:.2f} with the initial biases (f = {default['f']:.2f})")
    print("GRU, one step (h' = (1 - z) * n + z * h):")
    print(f"  update z = {copy['z']:.4f}: ||h' - h|| / ||h|| = {copy['change']:.1e} (copied); "
          f"z = {replace['z']:.4f}: {replace['change']:.2f}; initial z = {gru['z']:.2f}: {gru['change']:.2f}")
    print(f"  reset r = {reset['r']:.4f}: ||n_a - n_b|| / ||h_a - h_b|| = {reset['n_reads_h']:.1e} "
          f"(n ignores h), against {gru['n_reads_h']:.2f} at r = {gru['r']:.2f}")

    sweep: dict[str, list] = {"biases": biases, "lstm_passed": [], "gru_change": [], "gru_n_reads_h": []}
    for b in biases:
        sweep["lstm_passed"].append(one_step("lstm", {F: b}, seed)["passed"])
        sweep["gru_change"].append(one_step("gru", {Z: b}, seed)["change"])
        sweep["gru_n_reads_h"].append(one_step("gru", {R: b}, seed)["n_reads_h"])
    settings = [-PUSH, None, 1.0, 3.0, PUSH]
    lstm_memory = {b: memory("lstm", {F: b, I: -PUSH}, steps, seed) for b in settings}  # input gate shut
    lstm_open = memory("lstm", {F: PUSH}, steps, seed)
    gru_memory = {b: memory("gru", {Z: b}, steps, seed) for b in settings}
    print(f"\nOver {steps} steps of random symbols, the part of a difference in the first state left:")
    for b in settings:
        name = "initial" if b is None else f"{b:+g}"
        print(f"  bias {name:>7}: LSTM (forget) {lstm_memory[b][-1]:.1e}   GRU (update z) "
              f"{gru_memory[b][-1]:.1e}")
    print(f"  (the LSTM with its input gate shut, i = sigma({-PUSH:g}); with it open as initialised and "
          f"forget {PUSH:+g}: {lstm_open[-1]:.2f},\n   more than all: the cell keeps every write, and a "
          "different c writes differently through h)")
    save(effects_picture(lstm_memory, lstm_open, gru_memory, sweep), args.out, "gate_effects.png")
    return {"steps": steps, "lstm_gates": {g: float(lstm_v[g].mean()) for g in LSTM_GATES},
            "gru_gates": {g: float(gru_v[g].mean()) for g in GRU_GATES},
            "lstm_keep": keep, "lstm_wipe": wipe, "lstm_default": default,
            "gru_copy": copy, "gru_replace": replace, "gru_default": gru, "gru_reset": reset,
            "lstm_memory": {str(b): float(m[-1]) for b, m in lstm_memory.items()},
            "gru_memory": {str(b): float(m[-1]) for b, m in gru_memory.items()},
            "lstm_open_memory": float(lstm_open[-1]), "sweep": sweep}


def readme_figures(r: dict) -> dict[str, str]:
    return {"keep": f"{r['lstm_keep']['kept']:.4f}", "wipe": f"{r['lstm_wipe']['passed']:.1e}",
            "pass_default": f"{r['lstm_default']['passed']:.2f}", "copy": f"{r['gru_copy']['change']:.1e}",
            "change_default": f"{r['gru_default']['change']:.2f}",
            "reset": f"{r['gru_reset']['n_reads_h']:.1e}",
            "reads_default": f"{r['gru_default']['n_reads_h']:.2f}",
            "lstm_memory_default": f"{r['lstm_memory']['None']:.1e}",
            "lstm_memory_push": f"{r['lstm_memory'][str(PUSH)]:.1e}",
            "gru_memory_default": f"{r['gru_memory']['None']:.1e}",
            "gru_memory_push": f"{r['gru_memory'][str(PUSH)]:.1e}", "open": f"{r['lstm_open_memory']:.2f}",
            "lstm_gates": ", ".join(f"{g} {round(v, 2) + 0.0:.2f}" for g, v in r["lstm_gates"].items()),
            "gru_gates": ", ".join(f"{g} {round(v, 2) + 0.0:.2f}" for g, v in r["gru_gates"].items())}


if __name__ == "__main__":
    main()
