"""Lesson 2: backpropagation through time is a sum over time.

A tanh RNN written with core ops reads "ybigt" one one-hot character at a time and predicts the next
character at every step. Two sums make up BPTT:

1. The loss is a sum over time: L = L_0 + L_1 + ... + L_{T-1}, one cross-entropy per step.
2. The gradient of the shared recurrent weight W_hh is a sum over time: W_hh is used once per step, and
   dL/dW_hh = sum_t (the gradient that reaches W_hh through its use at step t). The script measures each
   step's contribution explicitly: it runs the same network again with its own copy of W_hh at every
   step (equal values, separate tensors), so the gradient of copy t is step t's contribution; the
   contributions add up to W_hh.grad to 1e-12 in float64. The graph renderer's `step_grads` splits the
   gradient the same way from the shared-weight graph.

Each loss term L_s only reaches back: it depends on W_hh's uses at steps 0..s and not on later ones, so
its contributions are exactly zero for t > s (the table of ||dL_s / dW_hh via step t||).

    .venv/bin/python demos/02_bptt_sum.py            # pictures in out/demos/02_bptt_sum/
    .venv/bin/python demos/02_bptt_sum.py --quick    # the same (it is small), for CI

Pictures:
    bptt_graph.png    the unrolled graph, op by op, each step's readout and loss term L_t one box. W_hh
                      is the only parameter here (the other weights are constants, one copy per step;
                      "input" is x_t W_xh): it is drawn once, and each of its edges into a time step is
                      labelled with that step's share of its gradient, the norms in the printed table.
                      The shares add up to W_hh.grad. The thick edges carry the hidden state.
    bptt_sums.png     left: which steps each loss term reaches (||dL_s/dW_hh via step t||, log colour,
                      blank = exactly zero); right: each step's contribution to dL/dW_hh and the norm of
                      their running sum, which ends at ||W_hh.grad||
    bptt_explorer.html  the same network in the BPTT explorer (open it in a browser): step through the
                      forward and the backward pass, click W_hh to see each step's share of its gradient
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from common import parse_args, save

import tinygrad_seq as ts
from tinygrad_seq import Tensor, graph
from tinygrad_seq.functional import cross_entropy, one_hot

PICTURES = ('bptt_sums.png', 'bptt_graph.png')

WORD = "ybigta"
HIDDEN = 4


def init_params(vocab_size: int, hidden_size: int, rng: np.random.Generator) -> dict[str, Tensor]:
    """W_xh (V, H), W_hh (H, H), b (H,), W_hy (H, V), b_y (V,): U(-1/sqrt(H), 1/sqrt(H)), float64."""
    bound = 1.0 / np.sqrt(hidden_size)
    shapes = {"W_xh": (vocab_size, hidden_size), "W_hh": (hidden_size, hidden_size), "b": (hidden_size,),
              "W_hy": (hidden_size, vocab_size), "b_y": (vocab_size,)}
    return {name: Tensor(rng.uniform(-bound, bound, size=shape), requires_grad=True)
            for name, shape in shapes.items()}


def step_losses(x: Tensor, targets: np.ndarray, weights: Sequence[dict[str, Tensor]],
                h: Tensor) -> list[Tensor]:
    """The per-step losses L_t of the RNN h_t = tanh(x_t W_xh + h_(t-1) W_hh + b), y_t = h_t W_hy + b_y.

    x is (T, 1, V), h the initial state (1, H). Step t reads its weights from weights[t]: the same dict
    at every step for the ordinary network, or dicts that differ in W_hh (a copy per step) to see each
    step's share of the gradient.
    """
    losses = []
    for t, w in enumerate(weights):
        with ts.scope(f"t={t}"):
            # (1, V) @ (V, H) + (1, H) @ (H, H); the tags name the input and state for the explorer
            h = ts.tag((ts.tag(x[t], "input") @ w["W_xh"] + h @ w["W_hh"] + w["b"]).tanh(), "h")
            with ts.scope(f"L_{t}"):  # the readout and the cross-entropy: drawn as one box
                losses.append(cross_entropy(h @ w["W_hy"] + w["b_y"], targets[t : t + 1]))
    return losses


class Names:
    """Names for the graph's leaves, several of which may share a name (each step's copy of W_xh)."""

    def __init__(self, pairs: list[tuple[str, Tensor]]) -> None:
        self.pairs = pairs

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        return self.pairs


def total(losses: Sequence[Tensor]) -> Tensor:
    out = losses[0]
    for loss in losses[1:]:
        out = out + loss
    return out


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args("02_bptt_sum", __doc__, argv)
    vocab = list(dict.fromkeys(WORD))
    ids = np.array([vocab.index(c) for c in WORD])
    x = one_hot(ids[:-1, None], len(vocab), dtype=np.float64)  # (T, 1) -> (T, 1, V)
    targets = ids[1:]
    T = len(targets)
    rng = np.random.default_rng(2)
    p = init_params(len(vocab), HIDDEN, rng)
    # A state carried over from earlier text. From the usual zero state, step 0's contribution would be
    # exactly zero: there W_hh multiplies h_(-1) = 0, and d(h W_hh)/dW_hh = h^T (outer) the gradient.
    h0 = Tensor(rng.uniform(-0.5, 0.5, size=(1, HIDDEN)))

    # 1. the loss is a sum over time
    losses = step_losses(x, targets, [p] * T, h0)
    loss = total(losses)
    print(f'A tanh RNN ({HIDDEN} hidden units, float64, random weights) reads "{WORD[:-1]}" and predicts '
          f'"{WORD[1:]}",\nstarting from a non-zero state h_(-1) (from the zero state, W_hh\'s use at step 0 '
          "would get no gradient: it multiplies zeros).\n")
    print("1. The loss is a sum over time: L = L_0 + ... + L_{T-1}")
    print("   step t  reads  target    L_t")
    for t, l_t in enumerate(losses):
        print(f"   {t:6d}  {WORD[t]:>5}  {WORD[t + 1]:>6}  {l_t.item():.6f}")
    loss_sum = sum(l_t.item() for l_t in losses)
    print(f"   sum of the L_t = {loss_sum:.12f}\n   total loss L   = {loss.item():.12f}")

    # 2. dL/dW_hh is a sum over time: one copy of W_hh per step, each with its own gradient
    shares = graph.step_grads(loss, tensor=p["W_hh"])  # from the shared-weight graph, before backward
    explorer = graph.explore(loss, params=p, name="tanh RNN", tokens=list(WORD[:-1]), vocab=vocab,
                             targets=targets, path=os.path.join(args.out, "bptt_explorer.html"))
    # The picture: the same network with W_hh its only parameter; each step gets its own constant copy of
    # the other weights, so that the shared, labelled edges are W_hh's alone.
    fixed = [{k: v if k == "W_hh" else Tensor(v.numpy().copy()) for k, v in p.items()} for _ in range(T)]
    drawn = total(step_losses(x, targets, fixed, h0))
    names = Names([("h_(-1)", h0)] + [(k, v) for w in fixed for k, v in w.items()])
    graph_path = graph.render(drawn, path=os.path.join(args.out, "bptt_graph.png"), params=names,
                              per_step_grad=True, collapse=["*L_*"])
    loss.backward()
    full = p["W_hh"].grad.numpy()

    copies = [Tensor(p["W_hh"].numpy(), requires_grad=True) for _ in range(T)]  # same values, own tensors
    copy_losses = step_losses(x, targets, [{**p, "W_hh": c} for c in copies], h0)
    contributions = [g.numpy() for g in ts.grad(total(copy_losses), copies, retain_graph=True)]
    print("\n2. dL/dW_hh is a sum over time: step t's contribution is the gradient of its own copy of W_hh")
    print("   step t  ||contribution_t||  ||running sum||")
    running = np.zeros_like(full)
    for t, c in enumerate(contributions):
        running = running + c
        print(f"   {t:6d}  {np.linalg.norm(c):18.6e}  {np.linalg.norm(running):15.6e}")
    grad_error = float(np.max(np.abs(running - full)))
    renderer_error = max(float(np.max(np.abs(shares[f"t={t}"] - contributions[t]))) for t in range(T))
    print(f"   ||W_hh.grad|| = {np.linalg.norm(full):.6e}")
    print(f"   largest |sum of contributions - W_hh.grad| = {grad_error:.1e}  (float64; it must be < 1e-12)")
    print("   graph.step_grads on the shared-weight graph gives the same contributions (largest")
    print(f"   difference {renderer_error:.1e}); their norms label W_hh's edges in {graph_path}")

    # 3. which steps each loss term reaches: ||dL_s / dW_hh via step t||
    parts = np.array([[g.numpy() for g in ts.grad(l_s, copies, retain_graph=True)] for l_s in copy_losses])
    reach = np.linalg.norm(parts, axis=(2, 3))  # (T losses, T steps, H, H) -> (T, T)
    column_error = float(np.max(np.abs(parts.sum(axis=0) - np.array(contributions))))
    print("\n3. Each loss term reaches back only: ||dL_s / dW_hh via step t|| (0 = no path at all)")
    print("   loss  " + "".join(f"{f'step {t}':>10}" for t in range(T)))
    for s in range(T):
        row = "".join(f"{'0':>10}" if v == 0 else f"{v:10.2e}" for v in reach[s])
        print(f"   L_{s:<3}{row}")
    above = float(reach[np.triu_indices(T, k=1)].max())
    on_or_below = float(reach[np.tril_indices(T)].min())
    print(f"   Above the diagonal (t > s) every entry is exactly {above:g}: L_s cannot depend on a later")
    print(f"   step. On and below it every entry is > 0 (smallest {on_or_below:.1e}). Step t's contribution")
    print("   is the sum of column t (as matrices, not norms): what every loss from L_t on sends back")
    print(f"   through step t (largest difference {column_error:.1e}). Read along a row to see how much of")
    print("   one loss term's gradient flows back to each earlier step.")

    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    shown = np.ma.masked_equal(reach, 0.0)
    im = left.imshow(shown, cmap="viridis", norm=LogNorm(vmin=shown.min(), vmax=shown.max()))
    for s in range(T):
        for t in range(T):
            text = "0" if reach[s, t] == 0 else f"{reach[s, t]:.1e}"
            colour = "#888888" if reach[s, t] == 0 else "white"
            left.text(t, s, text, ha="center", va="center", fontsize=7, color=colour)
    left.set_xticks(range(T), [f"t={t}\n({WORD[t]})" for t in range(T)])
    left.set_yticks(range(T), [f"L_{s}" for s in range(T)])
    left.set_xlabel("time step t whose use of W_hh the gradient flows through")
    left.set_ylabel("loss term")
    left.set_title("||dL_s / dW_hh via step t||: each loss reaches back only", fontsize=10)
    fig.colorbar(im, ax=left, label="gradient norm (log scale)")

    norms = [np.linalg.norm(c) for c in contributions]
    sums = np.linalg.norm(np.cumsum(np.array(contributions), axis=0), axis=(1, 2))
    right.bar(range(T), norms, color="tab:blue", label="||contribution of step t||")
    right.plot(range(T), sums, "o-", color="tab:orange", label="||contribution_0 + ... + contribution_t||")
    right.axhline(np.linalg.norm(full), color="black", ls="--", lw=1, label="||W_hh.grad|| (one backward)")
    right.set_xticks(range(T), [f"t={t}" for t in range(T)])
    right.set_xlabel("time step t")
    right.set_ylabel("Frobenius norm")
    right.set_title("dL/dW_hh = sum over t of each step's contribution", fontsize=10)
    right.legend(fontsize=8, loc="upper left")
    right.set_ylim(0, 1.35 * max(max(norms), max(sums)))
    save(fig, args.out, "bptt_sums.png")
    print(f"  wrote {graph_path}\n  wrote {explorer} (open it in a browser)")

    return {
        "explorer": explorer,
        "loss_sum_error": abs(loss_sum - loss.item()),
        "grad_sum_error": grad_error,
        "renderer_error": renderer_error,
        "column_sum_error": column_error,
        "reach_above_diagonal_max": above,
        "reach_on_or_below_min": on_or_below,
        "contribution_norms": norms,
    }


def readme_figures(r: dict) -> dict[str, str]:
    worst = max(r["loss_sum_error"], r["grad_sum_error"], r["renderer_error"], r["column_sum_error"])
    return {"worst_error": f"within {10.0 ** math.ceil(math.log10(worst)):.0e}" if worst > 0 else "exactly"}


if __name__ == "__main__":
    main()
