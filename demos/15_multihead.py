"""Lesson 15: multi-head attention: two heads learn two different dependencies.

    .venv/bin/python demos/15_multihead.py           # 300 training steps, seeds 0-2
    .venv/bin/python demos/15_multihead.py --quick   # 150 steps, seed 0 (CI)

The task has two kinds of dependency at once. Under each token of a random sequence of 8 tokens
(6 symbols), name a pair: the token just before it (a local dependency, one step back) and the token
at the mirrored position, 7 - t (a global one, across the sequence). The answer is one of 36 classes.

The model is one self-attention layer, as in a Transformer encoder: token embedding plus a learned
position embedding, ``nn.MultiheadAttention`` (self-attention: queries, keys and values all from the
sequence), a residual connection, and a linear read-out of the pair. With two heads of 16 dimensions,
each head can put its weight on one position: one head learns "the previous position" (its map is the
diagonal just below the main one), the other "the mirrored position" (the anti-diagonal). With one head
of 32 dimensions (the same parameter count) the single softmax has to split its weight between the two
positions, and its map shows both dependencies at once. On this task it still gets there: it gives the
two positions unequal weights (about 1/3 and 2/3), so the mix it reads still tells the two tokens apart;
with more kinds of dependency than one softmax can keep apart, more heads are the way out.

The maps are read with ``need_weights=True, average_attn_weights=False`` (one map per head).

Pictures: ``multihead.png``: each head's self-attention map (mean over held-out sequences) for the
two-head model, the one-head model's map, and accuracy during training.
"""

from __future__ import annotations

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq.functional import cross_entropy

PICTURES = ("multihead.png",)
V, T, D, BATCH, LR = 6, 8, 32, 64, 0.01
IGNORE = -100


class PairTagger(nn.Module):
    """Token + position embedding -> self-attention (`heads` heads) -> residual -> linear read-out."""

    def __init__(self, heads: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, D, rng=rng)
        self.position = nn.Embedding(T, D, rng=rng)
        self.attention = nn.MultiheadAttention(D, heads, rng=rng)
        self.head = nn.Linear(D, V * V, rng=rng)

    def forward(self, seq: np.ndarray) -> tuple[Tensor, Tensor]:
        """Logits (T, B, V*V) and the attention weights (B, heads, T, T) for sequences (T, B)."""
        x = self.embed(seq) + self.position(np.arange(seq.shape[0])[:, None])  # (T, B, D)
        a, weights = self.attention(x, x, x, need_weights=True, average_attn_weights=False)
        return self.head(x + a), weights


def make_batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequences (T, n) and their tags (T, n): previous token * V + mirrored token (none at t = 0)."""
    seq = rng.integers(0, V, (T, n))
    tags = np.full((T, n), IGNORE)
    tags[1:] = seq[:-1] * V + seq[::-1][1:]  # position t: x[t-1] and x[T-1-t]
    return seq, tags


def evaluate(model: PairTagger, test: tuple[np.ndarray, np.ndarray]) -> dict:
    seq, tags = test
    with no_grad():
        logits, weights = model(seq)
    pred = logits.numpy().argmax(-1)
    scored = tags != IGNORE
    hit = (pred == tags) & scored
    prev, mirror = np.zeros_like(tags), np.zeros_like(tags)
    prev[1:], mirror[1:] = seq[:-1], seq[::-1][1:]
    equal = scored & (prev == mirror)
    return {"accuracy": float(hit.sum() / scored.sum()), "weights": weights.numpy().mean(axis=0),
            "equal_pairs": float(hit[equal].mean()), "other_pairs": float(hit[scored & ~equal].mean())}


def train(heads: int, steps: int, seed: int, test) -> tuple[PairTagger, list]:
    rng = np.random.default_rng(seed)
    model = PairTagger(heads, rng)
    opt = nn.optim.Adam(model.parameters(), lr=LR)
    curve, every = [], max(1, steps // 20)
    for step in range(1, steps + 1):
        seq, tags = make_batch(rng, BATCH)
        logits, _ = model(seq)
        loss = cross_entropy(logits.reshape(-1, V * V), tags.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            curve.append((step, evaluate(model, test)["accuracy"]))
    return model, curve


def head_roles(weights: np.ndarray) -> list[tuple[float, float]]:
    """For each head's mean map (T, T): (weight on the previous position, weight on the mirrored one),
    averaged over the positions t >= 1 where the two differ (at t = T/2 they are the same position)."""
    t = np.array([t for t in range(1, T) if t - 1 != T - 1 - t])
    return [(float(w[t, t - 1].mean()), float(w[t, T - 1 - t].mean())) for w in weights]


def picture(two: dict, one: dict, curves: dict):
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.9), gridspec_kw={"width_ratios": [1, 1, 1, 1.4]})
    maps = [(two["weights"][0], "2 heads, head 0"), (two["weights"][1], "2 heads, head 1"),
            (one["weights"][0], "1 head")]
    for ax, (w, title) in zip(axes, maps):
        ax.imshow(w, cmap="Blues", vmin=0, vmax=1)
        prev, mirror = head_roles(w[None])[0]
        ax.set_title(f"{title}: weight on the previous\nposition {prev:.2f}, on the mirrored {mirror:.2f}",
                     fontsize=10)
        ax.set_xlabel("key position (attended to)")
        ax.set_ylabel("query position t")
        ax.set_xticks(range(T))
        ax.set_yticks(range(T))
    ax = axes[3]
    for (name, curve), colour in zip(curves.items(), ("tab:blue", "tab:gray")):
        steps, accs = zip(*curve)
        ax.plot(steps, accs, "-", color=colour, lw=2, label=f"{name}: {accs[-1]:.1%}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out pairs named exactly")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title("(previous token, mirrored token): 36 classes", fontsize=10)
    return fig


def main(argv=None) -> dict:
    args = parse_args("15_multihead", __doc__, argv)
    steps, seeds = (150, (0,)) if args.quick else (300, (0, 1, 2))
    test = make_batch(np.random.default_rng(1234), 500)
    print(f"Under each of {T} tokens (symbols 0-{V - 1}), name (the previous token, the token at the "
          f"mirrored position).\nOne self-attention layer, embedding {D}; {steps} steps of Adam; "
          f"seeds {seeds}.\n")
    runs = {}
    for heads in (2, 1):
        results = []
        for seed in seeds:
            model, curve = train(heads, steps, seed, test)
            results.append((evaluate(model, test), curve))
        runs[heads] = results
        params = sum(p.size for p in model.parameters())
        accs = [r["accuracy"] for r, _ in results]
        print(f"  {heads} head{'s' if heads > 1 else ' '} ({params} parameters): {np.median(accs):.1%} of "
              f"held-out pairs (median; range {min(accs):.1%}-{max(accs):.1%})")
        for h, (prev, mirror) in enumerate(head_roles(results[0][0]["weights"])):
            print(f"     head {h}: weight on the previous position {prev:.2f}, on the mirrored position "
                  f"{mirror:.2f} (seed {seeds[0]})")
    one = runs[1][0][0]
    prev1, mirror1 = head_roles(one["weights"])[0]
    print(f"\n  The one head splits its weight, {prev1:.2f} on the previous position and {mirror1:.2f} on "
          f"the mirrored one:\n  unequal weights keep the two tokens apart in the mix it reads (pairs of "
          f"equal tokens {one['equal_pairs']:.0%}, others {one['other_pairs']:.0%}).")
    save(picture(runs[2][0][0], one, {"2 heads": runs[2][0][1], "1 head": runs[1][0][1]}), args.out,
         "multihead.png")
    roles = head_roles(runs[2][0][0]["weights"])
    specialised = sorted(roles, key=lambda r: r[0] - r[1], reverse=True)  # the 'previous' head first
    accs = {heads: [r["accuracy"] for r, _ in results] for heads, results in runs.items()}
    return {"two_heads_accuracy": float(np.median(accs[2])), "one_head_accuracy": float(np.median(accs[1])),
            "two_heads_range": [min(accs[2]), max(accs[2])], "one_head_range": [min(accs[1]), max(accs[1])],
            "previous_head": specialised[0], "mirror_head": specialised[1],
            "one_head_split": [prev1, mirror1], "one_head_equal": one["equal_pairs"],
            "one_head_other": one["other_pairs"], "seeds": len(seeds)}


def readme_figures(r: dict) -> dict[str, str]:
    return {"two": f"{r['two_heads_accuracy']:.1%}", "one": f"{r['one_head_accuracy']:.1%}",
            "previous": f"{r['previous_head'][0]:.2f}", "mirror": f"{r['mirror_head'][1]:.2f}",
            "split": f"{r['one_head_split'][0]:.2f} on the previous position and "
                     f"{r['one_head_split'][1]:.2f}"}


if __name__ == "__main__":
    main()
