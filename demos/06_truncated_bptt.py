"""Lesson 6: truncated backpropagation through time trades gradient accuracy for memory.

    .venv/bin/python demos/06_truncated_bptt.py           # a 120-step sequence
    .venv/bin/python demos/06_truncated_bptt.py --quick   # a 40-step sequence (CI)

An LSTM reads one long sequence and is scored at every step (a linear read-out against a target).
Full BPTT keeps the graph of the whole sequence until the backward pass; truncated BPTT with length k
cuts the sequence into chunks of k steps, runs forward and backward on one chunk at a time, and hands
the final state to the next chunk *detached*: the state's values cross the cut, its gradient does not.

For k = 1, 2, 5, 10, 20 and the full length the script measures
  (a) the peak size of the graph held for a backward pass: its nodes (``autograd.toposort``) and the
      bytes of the arrays those nodes keep (inputs and saved intermediates; the weights not counted),
  (b) the relative error of dL/dW_hh against the full-BPTT gradient, ||g_k - g_full|| / ||g_full||.
Memory grows linearly in k; the error falls as k grows (the gradient that would have crossed a cut
decays like the product of forget gates over the distance) and is exactly zero at full length.

Pictures: ``truncation.png`` (both measurements against k) and ``graph_truncated.png`` (a 6-step LSTM
cut after step 3: the cut is the red dashed edge, and no gradient of the second chunk reaches the first).
"""

from __future__ import annotations

import numpy as np
from common import parse_args, save

import tinygrad_seq as ts
from tinygrad_seq import Tensor, graph, nn
from tinygrad_seq.autograd import toposort
from tinygrad_seq.functional import mse_loss

PICTURES = ('truncation.png', 'graph_truncated.png')

INPUT, HIDDEN, BATCH = 4, 16, 8
FORGET_BIAS = 1.0  # f = sigmoid(1) = 0.73 at the start: a memory of a few steps, as in an untrained LM


class Model(nn.Module):
    """An LSTM and a linear read-out of every hidden state."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.lstm = nn.LSTM(INPUT, HIDDEN, forget_bias=FORGET_BIAS, rng=rng, dtype=np.float64)
        self.head = nn.Linear(HIDDEN, 1, rng=rng, dtype=np.float64)

    def forward(self, x: Tensor, state=None):
        out, state = self.lstm(x, state)  # (T, B, H)
        return self.head(out), state  # (T, B, 1)


def owner(a: np.ndarray) -> np.ndarray:
    """The array whose memory `a` views (a itself if it owns its memory)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def graph_bytes(root: Tensor, exclude: set[int]) -> int:
    """Bytes of the distinct arrays that the graph behind `root` keeps alive for its backward pass.

    Each node holds its inputs and whatever its forward saved on itself (``self.out``, masks, ...).
    Views of one buffer count once (by the array owning the memory); buffers whose id is in `exclude`
    (the weights, which exist with or without a graph, and views of them such as W_hh.T) are not counted.
    """
    sizes: dict[int, int] = {}
    for fn in toposort([root]):
        arrays = [x.data for x in fn.inputs]
        arrays += [v for v in getattr(fn, "__dict__", {}).values() if isinstance(v, np.ndarray)]
        for a in map(owner, arrays):
            if id(a) not in exclude:
                sizes[id(a)] = a.nbytes
    return sum(sizes.values())


def truncated_gradient(model: Model, x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, int, int]:
    """dL/dW_hh by truncated BPTT with chunks of k steps; also the peak graph nodes and bytes.

    L is the mean squared error over all T steps; chunk j contributes its steps' share of it, so the
    chunk gradients add up to the gradient of L with the state detached at every cut.
    """
    T = x.shape[0]
    model.zero_grad()
    weights = {id(owner(p.data)) for p in model.parameters()}
    state, peak_nodes, peak_bytes = None, 0, 0
    for start in range(0, T, k):
        stop = min(start + k, T)
        xs = Tensor(x[start:stop].copy())  # a copy: the chunk's graph holds this chunk only
        pred, (h, c) = model(xs, state)
        loss = mse_loss(pred, y[start:stop], reduction="sum") / y.size
        peak_nodes = max(peak_nodes, len(toposort([loss])))
        peak_bytes = max(peak_bytes, graph_bytes(loss, weights))
        loss.backward()  # frees this chunk's graph
        state = (h.detach(), c.detach())  # the values cross the cut, the gradient does not
    return model.lstm.weight_hh_l0.grad.numpy().copy(), peak_nodes, peak_bytes


def measure(T: int, ks: list[int], seed: int = 0) -> list[dict]:
    """One row per truncation length: k, chunks, peak nodes, peak bytes, relative gradient error."""
    rng = np.random.default_rng(seed)
    model = Model(rng)
    x = rng.normal(size=(T, BATCH, INPUT))  # (T, B, I)
    # a target that depends on inputs up to 8 steps back, so the long gradient paths matter
    y = np.cumsum(x[..., :1], axis=0)
    y = (y - np.concatenate([np.zeros((8, BATCH, 1)), y[:-8]])) / np.sqrt(8)  # (T, B, 1)

    # the reference: the whole sequence in one forward pass and one backward pass
    model.zero_grad()
    pred, _ = model(Tensor(x))
    (mse_loss(pred, y, reduction="sum") / y.size).backward()
    full = model.lstm.weight_hh_l0.grad.numpy().copy()

    rows = []
    for k in ks:
        g, nodes, nbytes = truncated_gradient(model, x, y, k)
        error = float(np.linalg.norm(g - full) / np.linalg.norm(full))
        rows.append({"k": k, "chunks": -(-T // k), "nodes": nodes, "bytes": nbytes, "error": error})
    return rows


def plot(rows: list[dict], T: int, out: str) -> str:
    import matplotlib.pyplot as plt

    ks = [r["k"] for r in rows]
    labels = [str(k) if k < T else f"full\n({T})" for k in ks]
    fig, (ax_mem, ax_err) = plt.subplots(1, 2, figsize=(10, 4))

    kib = [r["bytes"] / 1024 for r in rows]
    ax_mem.loglog(ks, kib, "o-", color="tab:blue", label="peak graph memory")
    ax_mem.loglog(ks, [kib[-1] * k / T for k in ks], ":", color="gray", label="proportional to k (slope 1)")
    for r, m in zip(rows, kib):
        ax_mem.annotate(f"{r['nodes']} nodes", (r["k"], m), xytext=(6, -12), textcoords="offset points",
                        fontsize=8, color="tab:blue")
    ax_mem.set_xlabel("truncation length k (steps per backward pass, log scale)")
    ax_mem.set_ylabel("peak graph memory (KiB of saved arrays, log scale)")
    ax_mem.set_title("(a) memory grows linearly in k")
    ax_mem.minorticks_off()
    ax_mem.set_xticks(ks, labels)
    ax_mem.set_xlim(0.7, T * 2)
    ax_mem.set_ylim(kib[0] / 2, kib[-1] * 2)
    ax_mem.grid(True, alpha=0.3)
    ax_mem.legend(loc="upper left", fontsize=9)

    ax_err.plot(ks, [r["error"] for r in rows], "o-", color="tab:red")
    ax_err.annotate("exactly 0: nothing is cut", (ks[-1], 0), xytext=(-4, 14), textcoords="offset points",
                    ha="right", fontsize=9, color="tab:red")
    ax_err.set_xscale("log")
    ax_err.minorticks_off()
    ax_err.set_xticks(ks, labels)
    ax_err.set_ylim(bottom=0)
    ax_err.set_xlabel("truncation length k (log scale)")
    ax_err.set_ylabel("relative error of dL/dW_hh\n||g_k - g_full|| / ||g_full||")
    ax_err.set_title("(b) the gradient error falls as k grows")
    ax_err.grid(True, alpha=0.3)
    fig.suptitle(f"Truncated BPTT on a {T}-step sequence (LSTM, hidden {HIDDEN}, batch {BATCH})")
    return save(fig, out, "truncation.png")


def render_cut(out: str) -> str:
    """A 6-step LSTM whose state is detached after step 3, one box per time step, labelled t=0..5.

    The steps run one by one through an `nn.LSTMCell`, each in ``scope(f"t={t}")`` with t the position in
    the whole sequence (a layer called on each chunk would number each chunk's steps from 0).
    """
    rng = np.random.default_rng(1)
    cell = nn.LSTMCell(2, 3, forget_bias=FORGET_BIAS, rng=rng, dtype=np.float64)
    x = Tensor(rng.normal(size=(6, 1, 2)))
    state, losses = None, []
    for chunk, steps in (("chunk 1", range(0, 3)), ("chunk 2", range(3, 6))):
        if state is not None:
            state = (state[0].detach(), state[1].detach())  # the cut: values cross, gradients do not
        with ts.scope(chunk):
            total = None
            for t in steps:
                with ts.scope(f"t={t}"):
                    state = cell(x[t], state)
                total = state[0] ** 2 if total is None else total + state[0] ** 2
            losses.append(total.sum())
    path = graph.render(*losses, path=f"{out}/graph_truncated.png", params=cell, collapse=["*.t=*"])
    print(f"  wrote {path}")
    return path


def main(argv: list[str] | None = None) -> dict:
    args = parse_args("06_truncated_bptt", __doc__, argv)
    T = 40 if args.quick else 120
    ks = [1, 2, 5, 10, 20, T]
    print(f"Truncated BPTT on one {T}-step sequence: an LSTM (hidden {HIDDEN}, forget bias {FORGET_BIAS}),")
    print("scored at every step; chunks of k steps, the state detached between chunks.\n")
    rows = measure(T, ks)
    print(f"{'k':>6} {'chunks':>7} {'peak nodes':>11} {'peak KiB':>9} {'rel. error of dL/dW_hh':>23}")
    for r in rows:
        name = "full" if r["k"] == T else str(r["k"])
        print(f"{name:>6} {r['chunks']:>7} {r['nodes']:>11} {r['bytes'] / 1024:>9.1f} {r['error']:>23.2e}")
    per_step = (rows[-1]["nodes"] - rows[0]["nodes"]) / (T - 1)
    print(f"\nEach extra step of truncation costs {per_step:.0f} graph nodes: memory is linear in k.")
    print("The error falls as k grows: a gradient path longer than k is cut, and such paths are damped")
    print("by the product of forget gates along them, so the missing part shrinks with k; at full length")
    print("nothing is cut and the gradient is exact. In practice one picks the k where the error stops")
    print("mattering for learning, and pays memory for nothing beyond it.")
    plot(rows, T, args.out)
    render_cut(args.out)
    return {
        "ks": ks,
        "nodes": [r["nodes"] for r in rows],
        "bytes": [r["bytes"] for r in rows],
        "errors": [r["error"] for r in rows],
    }


def readme_figures(r: dict) -> dict[str, str]:
    at = dict(zip(r["ks"], zip(r["nodes"], r["bytes"], r["errors"])))
    k_full = r["ks"][-1]
    per_step = (r["nodes"][-1] - r["nodes"][0]) / (k_full - r["ks"][0])
    figures = {"per_step": f"{per_step:.0f} nodes per step",
               "k1": f"{at[1][0]} nodes and {at[1][1] / 1024:.0f} KiB",
               "full": f"{at[k_full][0]} nodes and {at[k_full][1] / 2**20:.1f} MiB",
               "error_1": f"{at[1][2]:.2f} at k = 1"}
    figures |= {f"error_{k}": f"{at[k][2]:.2f} (k = {k})" for k in (5, 20) if k in at}
    return figures


if __name__ == "__main__":
    main()
