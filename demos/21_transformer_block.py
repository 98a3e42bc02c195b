"""Lesson 21: the Transformer block's other parts: layer norm, the feed-forward layer, the residual
connections and the output head, each removed in turn to see what it costs.

    .venv/bin/python demos/21_transformer_block.py           # 5 variants x seeds 0-2, 200 steps each
    .venv/bin/python demos/21_transformer_block.py --quick   # 5 variants, seed 0, 120 steps (CI)

The task is a small causal language model's: read a sequence token by token and predict the next one.
Each sequence starts with two random digits and goes on by the rule x[t+1] = (x[t] + x[t-1]) mod 10
(Fibonacci mod 10), so after the first two tokens every next token is fixed by the two before it, and
the loss on those positions can fall to 0. To get there a model must
  - find the previous token (attention, with the positions learned),
  - keep its own token (the residual connection carries it past the attention), and
  - combine the two by a rule that is not a sum of a part per token (mod 10), the kind of per-position
    computation the feed-forward layer (a ReLU between two linear maps) is there for: without it the
    only nonlinear steps left are the attention's softmax and the layer norms.

The model is a 2-layer pre-norm causal Transformer of width 32 (2 heads, feed-forward 128, learned
positions), the layout of lesson 10's TransformerLM: per layer x = x + attention(LN(x)), then
x = x + FFN(LN(x)); then a final LN and a linear head to 10 logits. The variants remove one part each:
every LN; the FFNs; the residuals (x = attention(LN(x)), x = FFN(LN(x))); or the head's own weights (tied
to the token embedding, logits = LN(x) . E[v] / sqrt(32): the head reuses each token's input vector as
its output vector; the 1/sqrt(32) keeps the first logits as small as the linear head's). Each variant
trains the same number of steps with Adam from 3 seeds, and is scored on held-out sequences: the loss and
the accuracy on the fixed positions.

Picture: ``transformer_block.png``: the training loss of each variant (median over seeds, band from the
lowest to the highest) and the held-out loss of each seed.
"""

from __future__ import annotations

import math

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq import functional as F

PICTURES = ("transformer_block.png",)
V, T, D, HEADS, LAYERS, BATCH, LR = 10, 12, 32, 2, 2, 32, 0.01
VARIANTS = {  # name -> the part removed
    "full block": {},
    "no layer norm": {"norm": False},
    "no feed-forward": {"feedforward": False},
    "no residuals": {"residual": False},
    "tied head": {"tied": True},
}
COLOURS = dict(zip(VARIANTS, ("black", "tab:blue", "tab:orange", "tab:red", "tab:green")))


class Block(nn.Module):
    """One pre-norm layer: x + attention(LN(x)), then x + FFN(LN(x)); `norm`, `feedforward` and
    `residual` switch those parts off. (T, B, D) -> (T, B, D)."""

    def __init__(self, rng: np.random.Generator, norm: bool, feedforward: bool, residual: bool) -> None:
        super().__init__()
        self.norm, self.feedforward, self.residual = norm, feedforward, residual
        self.attention = nn.MultiheadAttention(D, HEADS, rng=rng, fused=True)
        if norm:  # a removed part has no parameters: the table counts what each variant trains
            self.norm1, self.norm2 = nn.LayerNorm(D, fused=True), nn.LayerNorm(D, fused=True)
        if feedforward:
            self.linear1, self.linear2 = nn.Linear(D, 4 * D, rng=rng), nn.Linear(4 * D, D, rng=rng)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(x) if self.norm else x
        a = self.attention(h, h, h, is_causal=True, need_weights=False)[0]
        x = x + a if self.residual else a
        if self.feedforward:
            h = self.norm2(x) if self.norm else x
            f = self.linear2(F.relu(self.linear1(h)))  # (T, B, D) -> (T, B, 4D) -> (T, B, D)
            x = x + f if self.residual else f
        return x


class TinyLM(nn.Module):
    """Token + learned position embeddings, LAYERS blocks, a final LN and a head: ids (T, B) -> (T, B, V)."""

    def __init__(self, rng: np.random.Generator, norm: bool = True, feedforward: bool = True,
                 residual: bool = True, tied: bool = False) -> None:
        super().__init__()
        self.norm, self.tied = norm, tied
        self.embedding = nn.Embedding(V, D, rng=rng)
        self.position = nn.Embedding(T, D, rng=rng)
        self.blocks = nn.ModuleList(Block(rng, norm, feedforward, residual) for _ in range(LAYERS))
        if norm:
            self.final_norm = nn.LayerNorm(D, fused=True)
        if not tied:
            self.head = nn.Linear(D, V, rng=rng)

    def forward(self, ids: np.ndarray) -> Tensor:
        x = self.embedding(ids) + self.position(np.arange(ids.shape[0])[:, None])  # (T, B) -> (T, B, D)
        for block in self.blocks:
            x = block(x)
        if self.norm:
            x = self.final_norm(x)
        if self.tied:  # each token's embedding row is its output vector too
            return F.linear(x, self.embedding.weight) * (1 / math.sqrt(D))  # (T, B, D) -> (T, B, V)
        return self.head(x)


def make_batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (T, n) and next tokens (T, n) of sequences x[t+1] = (x[t] + x[t-1]) mod V."""
    seq = np.zeros((T + 1, n), dtype=np.int64)
    seq[:2] = rng.integers(0, V, (2, n))
    for t in range(2, T + 1):
        seq[t] = (seq[t - 1] + seq[t - 2]) % V
    return seq[:-1], seq[1:]


def fixed_loss(logits: Tensor, targets: np.ndarray) -> Tensor:
    """Cross-entropy over the positions whose next token is fixed (all but the first: (T-1) * B)."""
    return F.cross_entropy(logits[1:].reshape(-1, V), targets[1:].reshape(-1))  # (T-1, B, V) -> (N, V)


def train(variant: dict, steps: int, seed: int, test: tuple[np.ndarray, np.ndarray]) -> dict:
    rng = np.random.default_rng(seed)
    model = TinyLM(rng, **variant)
    optimizer = nn.optim.Adam(model.parameters(), lr=LR)
    curve = []
    for _ in range(steps):
        inputs, targets = make_batch(rng, BATCH)
        loss = fixed_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        curve.append(loss.item())
    with no_grad():
        logits = model(test[0])
        test_loss = fixed_loss(logits, test[1]).item()
    accuracy = float((logits.numpy()[1:].argmax(-1) == test[1][1:]).mean())
    return {"curve": curve, "loss": test_loss, "accuracy": accuracy,
            "params": sum(p.size for p in model.parameters())}


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    return np.convolve(values, np.ones(window) / window, mode="valid")


def picture(runs: dict, steps: int):
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [1.5, 1]})
    window = max(1, steps // 20)
    for name, results in runs.items():
        curves = np.array([smooth(np.array(r["curve"]), window) for r in results])
        x = np.arange(window, steps + 1)
        left.plot(x, np.median(curves, axis=0), color=COLOURS[name], lw=2, label=name)
        left.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=COLOURS[name], alpha=0.15)
    left.axhline(math.log(V), color="gray", ls=":", label=f"guessing among {V} digits (ln {V})")
    left.set_yscale("log")
    left.set_xlabel("training step")
    left.set_ylabel(f"training loss (nats, log scale; mean of {window} steps)")
    left.set_title("Fibonacci mod 10, a 2-layer causal Transformer: one part removed at a time", fontsize=10)
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=9)
    names = list(runs)
    for i, name in enumerate(names):
        losses = [r["loss"] for r in runs[name]]
        right.bar(i, np.median(losses), color=COLOURS[name], alpha=0.35)
        right.plot([i] * len(losses), losses, "o", color=COLOURS[name])
        right.text(i, max(losses) * 1.3, f"{np.median(losses):.3f}", ha="center", fontsize=9)
    right.set_yscale("log")
    right.set_ylim(top=2.5 * max(r["loss"] for results in runs.values() for r in results))  # room for labels
    right.set_xticks(range(len(names)), [n.replace(" ", "\n", 1) for n in names], fontsize=9)
    right.set_ylabel("held-out loss after training (log scale)")
    right.set_title("Held-out loss: each seed (dots) and the median (bar)", fontsize=10)
    right.grid(alpha=0.3, axis="y", which="both")
    return fig


def main(argv=None) -> dict:
    args = parse_args("21_transformer_block", __doc__, argv)
    steps, seeds = (120, (0,)) if args.quick else (200, (0, 1, 2))
    test = make_batch(np.random.default_rng(1234), 500)
    print(f"Next token of x[t+1] = (x[t] + x[t-1]) mod {V}, sequences of {T}; a {LAYERS}-layer pre-norm "
          f"causal Transformer,\nwidth {D}, {HEADS} heads; {steps} steps of Adam (lr {LR}), seeds {seeds}. "
          "Held-out loss and accuracy on the fixed positions:\n")
    runs = {}
    print(f"  {'variant':<16} {'parameters':>10} {'loss (median)':>14} {'range':>16} {'accuracy':>9}")
    for name, variant in VARIANTS.items():
        runs[name] = [train(variant, steps, seed, test) for seed in seeds]
        losses = [r["loss"] for r in runs[name]]
        accuracy = np.median([r["accuracy"] for r in runs[name]])
        print(f"  {name:<16} {runs[name][0]['params']:>10,} {np.median(losses):>14.3f} "
              f"{min(losses):>7.3f}-{max(losses):<8.3f} {accuracy:>9.1%}")
    save(picture(runs, steps), args.out, "transformer_block.png")
    summary = {name: {"loss": float(np.median([r["loss"] for r in results])),
                      "range": [min(r["loss"] for r in results), max(r["loss"] for r in results)],
                      "accuracy": float(np.median([r["accuracy"] for r in results])),
                      "params": results[0]["params"]}
               for name, results in runs.items()}
    return {"variants": summary, "seeds": len(seeds), "steps": steps}


def readme_figures(r: dict) -> dict[str, str]:
    """One row of the page's table per variant: | parameters | median loss | range | accuracy |."""
    figures = {}
    for name, v in r["variants"].items():
        figures[name.replace(" ", "_")] = (f"| {v['params']:,} | {v['loss']:.3f} | {v['range'][0]:.3f}-"
                                           f"{v['range'][1]:.3f} | {v['accuracy']:.1%} |")
    full, no_ff = r["variants"]["full block"], r["variants"]["no feed-forward"]
    figures["ffn_share"] = f"{1 - no_ff['params'] / full['params']:.0%} of the parameters"
    return figures


if __name__ == "__main__":
    main()
