"""Lesson 16: skip connections against vanishing gradients in depth.

    .venv/bin/python demos/16_skip_connections.py           # depth 40, 300 training steps
    .venv/bin/python demos/16_skip_connections.py --quick   # depth 40, 100 training steps (CI)

Vanishing gradients are not a recurrent-network problem only: a deep feed-forward stack multiplies
the gradient by one Jacobian per layer, just as BPTT multiplies it by one per time step (lesson 3). A
tanh MLP of 40 layers of 32 units (``nn.Linear``'s default initialisation, as in PyTorch) computes
h_(l+1) = tanh(W_l h_l + b_l); its Jacobian diag(tanh') W_l shrinks vectors (the default weights have
a gain of about 1/sqrt(3)), so dL/dh_l falls geometrically towards the input. The residual version
computes h_(l+1) = h_l + tanh(W_l h_l + b_l): its Jacobian is I + diag(tanh') W_l, and the identity
carries the gradient from the loss to every layer undiminished (LSTM cells do the same across time
with their additive cell state, lesson 5). Transformers put such a skip around every sub-layer.

The script measures ||dL/dW_l||, the gradient of each layer's weight, at initialisation for both
networks on the same batch, then trains both with the same SGD on the same data: regress the output of
a small random "teacher" network (SGD, gradients clipped at norm 1: the residual stack's output starts
large, its first gradients too). The plain stack's early layers barely move and its loss stalls near
the variance of the target (the loss of predicting its mean, measured on 4096 held-out targets): on
held-out inputs it predicts almost a constant, the mean. The residual stack learns.

Pictures: ``skip_connections.png``: gradient norm per layer (log scale) at initialisation, plain against
residual; the ratio between the first and last layer's gradient against depth; the training loss of both.
"""

from __future__ import annotations

import numpy as np
from common import parse_args, save

from tinygrad_seq import Tensor, nn
from tinygrad_seq.functional import mse_loss

PICTURES = ("skip_connections.png",)
WIDTH, INPUTS, BATCH, LR, CLIP = 32, 8, 64, 0.05, 1.0


class DeepMLP(nn.Module):
    """`depth` tanh layers of WIDTH units, with or without a skip around each; a linear read-out."""

    def __init__(self, depth: int, residual: bool, rng: np.random.Generator) -> None:
        super().__init__()
        self.residual = residual
        self.inp = nn.Linear(INPUTS, WIDTH, rng=rng, dtype=np.float64)
        self.layers = nn.ModuleList([nn.Linear(WIDTH, WIDTH, rng=rng, dtype=np.float64)
                                     for _ in range(depth)])
        self.out = nn.Linear(WIDTH, 1, rng=rng, dtype=np.float64)

    def forward(self, x: Tensor) -> Tensor:
        h = self.inp(x)  # (B, INPUTS) -> (B, WIDTH)
        for layer in self.layers:
            h = h + layer(h).tanh() if self.residual else layer(h).tanh()
        return self.out(h)  # (B, 1)


def teacher_data(rng: np.random.Generator, n: int) -> tuple[Tensor, np.ndarray]:
    """Inputs (n, INPUTS) ~ N(0, 1) and targets y = sin(x @ a) @ b from a fixed random teacher."""
    teacher = np.random.default_rng(99)
    a, b = teacher.normal(size=(INPUTS, 16)) / np.sqrt(INPUTS), teacher.normal(size=(16, 1)) / 2
    x = rng.normal(size=(n, INPUTS))
    return Tensor(x), np.sin(x @ a) @ b


def layer_gradients(model: DeepMLP, x: Tensor, y: np.ndarray) -> np.ndarray:
    """||dL/dW_l|| for each hidden layer l, first to last, on one batch."""
    model.zero_grad()
    mse_loss(model(x), y).backward()
    return np.array([np.linalg.norm(layer.weight.grad.numpy()) for layer in model.layers])


def train(model: DeepMLP, steps: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    opt = nn.optim.SGD(model.parameters(), lr=LR)
    losses = []
    for _ in range(steps):
        x, y = teacher_data(rng, BATCH)
        loss = mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)  # the residual stack's first steps are large
        opt.step()
        losses.append(loss.item())
    return losses


def plot(depth: int, grads: dict, ratios: dict, depths: list[int], curves: dict, target_var: float,
         out: str) -> str:
    import matplotlib.pyplot as plt

    fig, (ax_g, ax_d, ax_l) = plt.subplots(1, 3, figsize=(15, 4.4))
    colours = {"plain": "tab:red", "residual": "tab:blue"}
    for name, g in grads.items():
        ax_g.semilogy(range(1, depth + 1), g, "o-", ms=3, color=colours[name], lw=2,
                      label=f"{name}: first/last = {g[0] / g[-1]:.1e}")
        ax_d.semilogy(depths, ratios[name], "o-", color=colours[name], lw=2, label=name)
        steps = np.arange(1, len(curves[name]) + 1)
        smooth = np.convolve(curves[name], np.ones(10) / 10, mode="valid")
        ax_l.plot(steps, curves[name], color=colours[name], alpha=0.25, lw=1)
        ax_l.plot(steps[9:], smooth, color=colours[name], lw=2,
                  label=f"{name}: {np.mean(curves[name][-20:]):.3f}")
    ax_g.set_xlabel("layer l (1 = next to the input)")
    ax_g.set_ylabel("||dL/dW_l|| at initialisation (log scale)")
    ax_g.set_title(f"Gradient per layer, {depth} tanh layers")
    low = min(g.min() for g in grads.values())
    ax_g.annotate("backpropagation runs this way", xy=(0.45 * depth, low), xytext=(0.98 * depth, low),
                  fontsize=8, va="center", ha="right", color="#555555",
                  arrowprops={"arrowstyle": "->", "color": "#555555"})
    ax_d.set_xlabel("depth (tanh layers)")
    ax_d.set_ylabel("||dL/dW_first|| / ||dL/dW_last||")
    ax_d.set_title("First layer's share of the gradient vs depth")
    ax_d.set_xticks(depths)
    ax_l.axhline(target_var, color="black", ls=":", lw=1.5,
                 label=f"predicting the mean: {target_var:.3f}\n(the variance of 4096 held-out targets)")
    ax_l.set_xlabel("SGD step")
    ax_l.set_ylabel("training loss (MSE; last 20 steps in the legend)")
    ax_l.set_title(f"Training both, SGD at lr {LR}, clipped at {CLIP:g}")
    ax_l.set_ylim(0, 2.0 * target_var)  # room for the legend above the curves
    for ax, where in ((ax_g, "center left"), (ax_d, "lower left"), (ax_l, "upper right")):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9, loc=where)
    return save(fig, out, "skip_connections.png")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args("16_skip_connections", __doc__, argv)
    depth, steps = (40, 100) if args.quick else (40, 300)
    depths = [5, 10, 20, 40]
    x, y = teacher_data(np.random.default_rng(1), 256)
    held_x, held_y = teacher_data(np.random.default_rng(3), 4096)  # held out: the same inputs for all
    target_var = float(np.var(held_y))  # the loss of predicting the mean, on 4096 targets (256 are too few)
    print(f"A tanh MLP of {depth} layers of {WIDTH} units, plain (h = tanh(W h + b)) and residual")
    print("(h = h + tanh(W h + b)), same initial weights. ||dL/dW_l|| at initialisation, one batch:\n")
    grads = {name: layer_gradients(DeepMLP(depth, name == "residual", np.random.default_rng(0)), x, y)
             for name in ("plain", "residual")}
    print(f"{'layer':>7} {'plain':>10} {'residual':>10}")
    for l in sorted({0, 1, depth // 4, depth // 2, 3 * depth // 4, depth - 1}):
        print(f"{l + 1:>7} {grads['plain'][l]:>10.2e} {grads['residual'][l]:>10.2e}")
    ratios = {name: [] for name in grads}
    for d in depths:
        for name in grads:
            g = layer_gradients(DeepMLP(d, name == "residual", np.random.default_rng(0)), x, y)
            ratios[name].append(float(g[0] / g[-1]))
    print("\nfirst layer's gradient / last layer's, against depth:")
    for name in grads:
        print(f"  {name:>8}: " + "  ".join(f"{d}: {r:.1e}" for d, r in zip(depths, ratios[name])))
    per_layer = (grads["plain"][0] / grads["plain"][-1]) ** (1 / (depth - 1))
    print(f"\nIn the plain stack each layer multiplies the gradient by about {per_layer:.2f}: the first")
    print(f"layer gets {grads['plain'][0] / grads['plain'][-1]:.0e} of the last one's."
          f" With the skips it gets {grads['residual'][0] / grads['residual'][-1]:.2f} of it.\n")
    models = {name: DeepMLP(depth, name == "residual", np.random.default_rng(0)) for name in grads}
    curves = {name: train(model, steps, seed=2) for name, model in models.items()}
    final = {name: float(np.mean(c[-20:])) for name, c in curves.items()}
    print(f"Trained {steps} SGD steps (lr {LR}, batch {BATCH}, clipped at {CLIP:g}) to regress a random "
          "teacher:")
    for name in grads:
        print(f"  {name:>8}: loss {curves[name][0]:.3f} -> {final[name]:.3f} (mean of the last 20 steps)")
    held = {name: float(np.mean((model(held_x).numpy() - held_y) ** 2)) for name, model in models.items()}
    wobble = float(np.var(models["plain"](held_x).numpy()))
    print(f"On 4096 held-out inputs: plain {held['plain']:.3f}, residual {held['residual']:.3f}; predicting "
          f"the mean: {target_var:.3f} (the target's variance).\nThe plain stack predicts almost a "
          f"constant (its predictions' variance {wobble:.4f}): it has learned the mean and nothing\nelse. "
          "Its training loss is the mean of the last 20 batches' losses, on other targets.")
    plot(depth, grads, ratios, depths, curves, target_var, args.out)
    return {"depth": depth, "plain_grads": grads["plain"].tolist(),
            "residual_grads": grads["residual"].tolist(),
            "plain_ratio": float(grads["plain"][0] / grads["plain"][-1]),
            "residual_ratio": float(grads["residual"][0] / grads["residual"][-1]),
            "per_layer_factor": float(per_layer), "depths": depths, "ratios_by_depth": ratios,
            "plain_final_loss": final["plain"], "residual_final_loss": final["residual"],
            "target_variance": target_var, "steps": steps, "held_out": held,
            "plain_prediction_variance": wobble}


def readme_figures(r: dict) -> dict[str, str]:
    return {"plain_ratio": f"{r['plain_ratio']:.0e}", "residual_ratio": f"{r['residual_ratio']:.2f}",
            "factor": f"{r['per_layer_factor']:.2f}", "plain_loss": f"{r['plain_final_loss']:.3f}",
            "residual_loss": f"{r['residual_final_loss']:.3f}", "variance": f"{r['target_variance']:.3f}",
            "held_plain": f"plain {r['held_out']['plain']:.3f}",
            "held_residual": f"residual {r['held_out']['residual']:.3f}",
            "wobble": f"{r['plain_prediction_variance']:.4f}"}


if __name__ == "__main__":
    main()
