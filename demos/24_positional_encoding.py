"""Lesson 24: positional encoding: sinusoidal against learned against none, on a task where order matters.

    .venv/bin/python demos/24_positional_encoding.py           # 200 training steps per model, seeds 0-2
    .venv/bin/python demos/24_positional_encoding.py --quick   # 150 steps, seed 0 (CI)

Self-attention treats its input as a set: permute the tokens and each output is permuted the same way,
with the same values. So a Transformer layer alone cannot tell "a then b" from "b then a". The task:
a sequence of 12 tokens holds one ``a``, one ``b`` and ten distractors (6 symbols) in random places;
say whether ``a`` comes first. Every arrangement of the same tokens is equally likely with either
answer, so a model that cannot see order can do no better than a coin: 50%.

The model is one Transformer encoder layer (``nn.TransformerEncoderLayer``: self-attention, feed-forward,
residuals and LayerNorm; 2 heads, d = 32), the mean over positions, and a linear read-out. The only
difference between the three models is what is added to the token embeddings:

* nothing;
* the sinusoidal encoding (``nn.SinusoidalPositionalEncoding``): pe[t, 2i] = sin(t / 10000^(2i/d)),
  pe[t, 2i+1] = cos(t / 10000^(2i/d)), fixed; each pair of columns turns at its own rate, fast in the
  first columns and slow in the last, like the hands of a clock;
* a learned vector per position (``nn.LearnedPositionalEncoding``), starting random.

The sinusoidal table's dot products pe[i] . pe[j] depend only on the distance i - j (a sum of
cos(w (i - j)) over the pairs of columns): largest at i = j and falling with the distance, the same
for every position, which is what lets attention find "the token k places back" anywhere.

Pictures: ``positional_encoding.png``: the sinusoidal table as a heat map, its dot products between
positions, the learned table's (cosine) similarities after training, and accuracy during training.
"""

from __future__ import annotations

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq.functional import cross_entropy

PICTURES = ("positional_encoding.png",)
DRAWN = 48  # positions drawn of the sinusoidal table (the model uses its first T rows)
T, V, D, HEADS, BATCH, LR = 12, 8, 32, 2, 64, 0.003  # tokens 0 = a, 1 = b, 2..7 distractors
KINDS = ("none", "sinusoidal", "learned")


class OrderClassifier(nn.Module):
    """Token embedding (+ a positional encoding) -> Transformer encoder layer -> mean over T -> 2 logits."""

    def __init__(self, kind: str, rng: np.random.Generator) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, D, rng=rng)
        self.position = {"none": None, "sinusoidal": nn.SinusoidalPositionalEncoding(D, max_len=T),
                         "learned": nn.LearnedPositionalEncoding(T, D, rng=rng)}[kind]
        self.layer = nn.TransformerEncoderLayer(D, HEADS, 2 * D, dropout=0.0, rng=rng)
        self.head = nn.Linear(D, 2, rng=rng)

    def forward(self, seq: np.ndarray) -> Tensor:
        x = self.embed(seq)  # (T, B) -> (T, B, D)
        if self.position is not None:
            x = self.position(x)  # + pe[t] for each position t, the same for every sequence
        return self.head(self.layer(x).mean(axis=0))  # (T, B, D) -> (B, D) -> (B, 2)


def make_batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n sequences (T, n) with one a (0) and one b (1) among distractors 2..V-1; label 1 if a is first."""
    seq = rng.integers(2, V, (T, n))
    places = np.argsort(rng.random((T, n)), axis=0)[:2]  # (2, n): two distinct positions per sequence
    seq[places[0], np.arange(n)] = 0
    seq[places[1], np.arange(n)] = 1
    return seq, (places[0] < places[1]).astype(np.int64)


def accuracy(model: OrderClassifier, test: tuple[np.ndarray, np.ndarray]) -> float:
    with no_grad():
        return float((model(test[0]).numpy().argmax(-1) == test[1]).mean())


def train(kind: str, steps: int, seed: int, test) -> tuple[OrderClassifier, list]:
    rng = np.random.default_rng(seed)
    model = OrderClassifier(kind, rng)
    opt = nn.optim.Adam(model.parameters(), lr=LR)
    curve, every = [], max(1, steps // 20)
    for step in range(1, steps + 1):
        seq, label = make_batch(rng, BATCH)
        loss = cross_entropy(model(seq), label)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            curve.append((step, accuracy(model, test)))
    return model, curve


def permutation_change(model: OrderClassifier, seq: np.ndarray) -> float:
    """max |logits(seq) - logits(seq with its T tokens shuffled)| over the batch: 0 for a set model."""
    perm = np.random.default_rng(0).permutation(seq.shape[0])
    with no_grad():
        return float(np.abs(model(seq).numpy() - model(seq[perm]).numpy()).max())


def similarities(table: np.ndarray, cosine: bool) -> np.ndarray:
    """(T, T) dot products table[i] . table[j], or cosines when `cosine`."""
    if cosine:
        table = table / np.linalg.norm(table, axis=1, keepdims=True)
    return table @ table.T  # (T, D) @ (D, T) -> (T, T)


def shift_invariance(dots: np.ndarray) -> float:
    """The largest spread of dots[i, i + k] over i, for any k: 0 when the dot product depends only on k."""
    return float(max(np.ptp(np.diagonal(dots, k)) for k in range(dots.shape[0] - 1)))


def picture(pe: np.ndarray, learned: np.ndarray, curves: dict, accs: dict):
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.6), gridspec_kw={"width_ratios": [1.4, 1, 1, 1.3]})
    ax = axes[0]
    im = ax.imshow(pe, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xlabel("column of the encoding (pairs sin, cos; slower to the right)")
    ax.set_ylabel("position t")
    ax.axhline(T - 0.5, color="k", lw=1, ls="--")
    ax.text(pe.shape[1] - 1, T - 1, f"above: the task's {T} positions", ha="right", va="bottom", fontsize=8,
            bbox={"fc": "white", "ec": "none", "alpha": 0.85})
    ax.set_title(f"Sinusoidal encoding, {pe.shape[0]} positions x d = {pe.shape[1]}", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04)
    for ax, dots, title, cmap in ((axes[1], similarities(pe, False), "Sinusoidal: pe[i] . pe[j]", "viridis"),
                                  (axes[2], similarities(learned, True),
                                   "Learned (after training):\ncosine of p[i], p[j]", "RdBu_r")):
        lim = np.abs(dots).max()
        im = ax.imshow(dots, cmap=cmap, vmin=-lim if cmap == "RdBu_r" else None, vmax=lim)
        ax.set_xlabel("position j")
        ax.set_ylabel("position i")
        ax.set_title(title, fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046)
    ax = axes[3]
    for (kind, curve), colour in zip(curves.items(), ("tab:gray", "tab:blue", "tab:orange")):
        steps, acc = zip(*curve)
        ax.plot(steps, acc, "-", lw=2, color=colour, label=f"{kind}: {accs[kind]:.1%}")
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.set_ylim(0.3, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out accuracy")
    ax.set_title("Does a come before b? (12 tokens)", fontsize=10)
    ax.legend(loc="lower right", fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def main(argv=None) -> dict:
    args = parse_args("24_positional_encoding", __doc__, argv)
    steps, seeds = (150, (0,)) if args.quick else (200, (0, 1, 2))
    test = make_batch(np.random.default_rng(1234), 1000)
    print(f"Does a come before b, in {T} tokens with {T - 2} distractors? One Transformer encoder layer "
          f"(d = {D}, {HEADS} heads), {steps} steps of Adam, seeds {seeds}; 1000 held-out sequences, "
          f"a first in {test[1].mean():.1%} of them.\n")
    accs, curves, models = {}, {}, {}
    for kind in KINDS:
        runs = [train(kind, steps, seed, test) for seed in seeds]
        per_seed = [accuracy(m, test) for m, _ in runs]
        accs[kind], curves[kind], models[kind] = float(np.median(per_seed)), runs[0][1], runs[0][0]
        params = sum(p.size for p in runs[0][0].parameters())
        print(f"  {kind:10} ({params} parameters): {accs[kind]:.1%} held out (median; "
              f"{', '.join(f'{a:.1%}' for a in per_seed)})")
    shuffled = {kind: permutation_change(models[kind], test[0][:, :200]) for kind in KINDS}
    print(f"\n  Shuffle the tokens of each sequence: the logits change by at most {shuffled['none']:.1e} "
          f"without positions,\n  {shuffled['sinusoidal']:.2f} with the sinusoidal encoding, "
          f"{shuffled['learned']:.2f} with the learned one.")
    pe = nn.SinusoidalPositionalEncoding(D, max_len=DRAWN).pe.numpy().astype(np.float64)
    dots = similarities(pe, False)
    learned = models["learned"].position.weight.numpy().astype(np.float64)
    learned_cos = similarities(learned, True)
    neighbour = float(np.mean(np.diagonal(learned_cos, 1)))
    far = float(np.mean([learned_cos[i, j] for i in range(T) for j in range(T) if abs(i - j) >= T // 2]))
    print(f"\n  Sinusoidal: pe[i] . pe[i+k] depends only on k (largest spread over i: "
          f"{shift_invariance(dots):.1e}); it is {dots[0, 0]:.0f} at k = 0, {dots[0, 1]:.2f} at k = 1, "
          f"{dots[0, T - 1]:.2f} at k = {T - 1}, {dots[0, DRAWN - 1]:.2f} at k = {DRAWN - 1}.")
    print(f"  Learned (seed {seeds[0]}): neighbouring positions have cosine {neighbour:.2f} on average, "
          f"positions {T // 2} or more apart {far:.2f}.")
    save(picture(pe, learned, curves, accs), args.out, "positional_encoding.png")
    return {"accuracy": accs, "steps": steps, "a_first_share": float(test[1].mean()), "seeds": len(seeds),
            "shuffled_change": shuffled,
            "sinusoidal_spread": shift_invariance(dots), "dot_0": float(dots[0, 0]),
            "dot_1": float(dots[0, 1]), "dot_far": float(dots[0, T - 1]), "dot_drawn": float(dots[0, -1]),
            "learned_neighbour_cos": neighbour, "learned_far_cos": far}


def readme_figures(r: dict) -> dict[str, str]:
    a = r["accuracy"]
    return {"none": f"{a['none']:.1%}", "sinusoidal": f"{a['sinusoidal']:.1%}",
            "learned": f"{a['learned']:.1%}",
            "share": f"a first in {r['a_first_share']:.1%}, b first in {1 - r['a_first_share']:.1%}",
            "dots": f"{r['dot_0']:.0f} at k = 0, {r['dot_1']:.2f} at k = 1, "
                    f"{r['dot_far']:.2f} at k = {T - 1}, {r['dot_drawn']:.2f} at k = {DRAWN - 1}",
            "shuffled": f"{r['shuffled_change']['none']:.1e}",
            "learned_cos": f"{r['learned_neighbour_cos']:.2f}", "learned_far": f"{r['learned_far_cos']:.2f}"}


if __name__ == "__main__":
    main()
