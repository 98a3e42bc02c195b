"""Lesson 15: multi-head attention: two heads learn two different dependencies; where one head fails.

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
two positions unequal weights (about 1/3 and 2/3), and the read-out scores each of the 36 pairs as a
whole, so the mix it reads still tells the two tokens apart.

Part 2 shows where one head stops: the same two tokens over 10 symbols, each named by its own read-out
(10 classes for the previous token, 10 for the mirrored one). Each read-out sees the one head's single
mix of the two tokens' values, and the token with more weight drowns the other: one of the two comes out
right, the other barely. Two heads put the two tokens in separate parts of the output, and both read-outs
are right.

The maps are read with ``need_weights=True, average_attn_weights=False`` (one map per head).

Pictures: ``multihead.png``: top, each head's self-attention map (mean over held-out sequences) for the
two-head model, the one-head model's map, and accuracy during training; bottom, the same for part 2 and
each read-out's accuracy with one head and with two.
"""

from __future__ import annotations

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq.functional import cross_entropy

PICTURES = ("multihead.png",)
V, T, D, BATCH, LR = 6, 8, 32, 64, 0.01
SEPARATE_V = 10  # part 2: the two tokens named by separate read-outs, over 10 symbols
IGNORE = -100


class PairTagger(nn.Module):
    """Token + position embedding -> self-attention (`heads` heads) -> residual -> linear read-out.

    The read-out names the pair as one of vocab^2 classes, or (``separate``) each token on its own:
    2 * vocab logits, the previous token's vocab then the mirrored token's.
    """

    def __init__(self, heads: int, rng: np.random.Generator, vocab: int = V, separate: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, D, rng=rng)
        self.position = nn.Embedding(T, D, rng=rng)
        self.attention = nn.MultiheadAttention(D, heads, rng=rng)
        self.head = nn.Linear(D, 2 * vocab if separate else vocab * vocab, rng=rng)

    def forward(self, seq: np.ndarray) -> tuple[Tensor, Tensor]:
        """Logits (T, B, classes) and the attention weights (B, heads, T, T) for sequences (T, B)."""
        x = self.embed(seq) + self.position(np.arange(seq.shape[0])[:, None])  # (T, B, D)
        a, weights = self.attention(x, x, x, need_weights=True, average_attn_weights=False)
        return self.head(x + a), weights


def make_batch(rng: np.random.Generator, n: int, vocab: int = V,
               separate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sequences (T, n) and their tags (none at t = 0): (T, n) previous token * vocab + mirrored token,
    or (``separate``) (T, n, 2) the two tokens."""
    seq = rng.integers(0, vocab, (T, n))
    if separate:
        tags = np.full((T, n, 2), IGNORE)
        tags[1:, :, 0], tags[1:, :, 1] = seq[:-1], seq[::-1][1:]  # position t: x[t-1] and x[T-1-t]
        return seq, tags
    tags = np.full((T, n), IGNORE)
    tags[1:] = seq[:-1] * vocab + seq[::-1][1:]  # position t: x[t-1] and x[T-1-t]
    return seq, tags


def evaluate(model: PairTagger, test: tuple[np.ndarray, np.ndarray]) -> dict:
    seq, tags = test
    with no_grad():
        logits, weights = model(seq)
    if tags.ndim == 3:  # separate read-outs: both tokens right, and each on its own
        pred = logits.numpy().reshape(*tags.shape, -1).argmax(-1)  # (T, B, 2)
        hit = (pred == tags)[1:]
        return {"accuracy": float(hit.all(axis=-1).mean()), "weights": weights.numpy().mean(axis=0),
                "previous": float(hit[..., 0].mean()), "mirrored": float(hit[..., 1].mean())}
    pred = logits.numpy().argmax(-1)
    scored = tags != IGNORE
    hit = (pred == tags) & scored
    prev, mirror = np.zeros_like(tags), np.zeros_like(tags)
    prev[1:], mirror[1:] = seq[:-1], seq[::-1][1:]
    equal = scored & (prev == mirror)
    return {"accuracy": float(hit.sum() / scored.sum()), "weights": weights.numpy().mean(axis=0),
            "equal_pairs": float(hit[equal].mean()), "other_pairs": float(hit[scored & ~equal].mean())}


def train(heads: int, steps: int, seed: int, test, vocab: int = V,
          separate: bool = False) -> tuple[PairTagger, list]:
    rng = np.random.default_rng(seed)
    model = PairTagger(heads, rng, vocab, separate)
    opt = nn.optim.Adam(model.parameters(), lr=LR)
    curve, every = [], max(1, steps // 20)
    for step in range(1, steps + 1):
        seq, tags = make_batch(rng, BATCH, vocab, separate)
        logits, _ = model(seq)
        loss = cross_entropy(logits.reshape(-1, vocab if separate else vocab * vocab), tags.reshape(-1))
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


def draw_map(ax, w: np.ndarray, title: str) -> None:
    """One head's mean attention map (T, T), titled with its weight on the two positions."""
    ax.imshow(w, cmap="Blues", vmin=0, vmax=1)
    prev, mirror = head_roles(w[None])[0]
    ax.set_title(f"{title}: weight on the previous\nposition {prev:.2f}, on the mirrored {mirror:.2f}",
                 fontsize=10)
    ax.set_xlabel("key position (attended to)")
    ax.set_ylabel("query position t")
    ax.set_xticks(range(T))
    ax.set_yticks(range(T))


def picture(two: dict, one: dict, curves: dict, separate: dict):
    """Top: the pair task (maps, accuracy during training); bottom: the separate read-outs."""
    fig, axes = plt.subplots(2, 4, figsize=(17, 9.8), gridspec_kw={"width_ratios": [1, 1, 1, 1.4]})
    maps = [(two["weights"][0], "2 heads, head 0"), (two["weights"][1], "2 heads, head 1"),
            (one["weights"][0], "1 head")]
    for ax, (w, title) in zip(axes[0], maps):
        draw_map(ax, w, title)
    ax = axes[0, 3]
    for (name, curve), colour in zip(curves.items(), ("tab:blue", "tab:gray")):
        steps, accs = zip(*curve)
        ax.plot(steps, accs, "-", color=colour, lw=2, label=f"{name}: {accs[-1]:.1%}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out pairs named exactly")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title(f"Pair task: (previous, mirrored) as one of {V * V} classes", fontsize=10)
    first = {heads: runs[0] for heads, runs in separate.items()}
    maps = [(first[2]["weights"][0], "separate, 2 heads, head 0"),
            (first[2]["weights"][1], "separate, 2 heads, head 1"),
            (first[1]["weights"][0], "separate, 1 head")]
    for ax, (w, title) in zip(axes[1], maps):
        draw_map(ax, w, title)
    ax = axes[1, 3]
    parts = ("previous", "mirrored", "accuracy")
    for k, (heads, colour) in enumerate(((2, "tab:blue"), (1, "tab:gray"))):
        medians = [float(np.median([r[part] for r in separate[heads]])) for part in parts]
        bars = ax.bar(np.arange(3) + 0.38 * (k - 0.5), medians, 0.36, color=colour,
                      label=f"{heads} head{'s' if heads > 1 else ''}")
        for bar, value in zip(bars, medians):
            ax.text(bar.get_x() + bar.get_width() / 2, value + 0.01, f"{value:.0%}", ha="center", fontsize=9)
    ax.set_xticks(range(3), ["previous token\nright", "mirrored token\nright", "both right"])
    ax.axhline(1 / SEPARATE_V, color="tab:red", ls=":", lw=1)
    ax.text(2.45, 1 / SEPARATE_V + 0.01, "chance, one token", color="tab:red", ha="right", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel(f"held-out positions (median of {len(separate[1])} seeds)")
    ax.legend(loc="lower left", fontsize=9)
    ax.set_title(f"Separate read-outs, {SEPARATE_V} symbols: one head fails", fontsize=10)
    fig.tight_layout()
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
    print(f"\n2. The same two tokens named by separate read-outs ({SEPARATE_V} classes each), over "
          f"{SEPARATE_V} symbols:")
    test2 = make_batch(np.random.default_rng(1234), 500, SEPARATE_V, separate=True)
    separate = {heads: [evaluate(train(heads, steps, seed, test2, SEPARATE_V, True)[0], test2)
                        for seed in seeds] for heads in (2, 1)}
    for heads, results in separate.items():
        print(f"  {heads} head{'s' if heads > 1 else ' '}: " + "  ".join(
            f"seed {seed}: both {r['accuracy']:.0%} (previous {r['previous']:.0%}, mirrored "
            f"{r['mirrored']:.0%})" for seed, r in zip(seeds, results)))
    save(picture(runs[2][0][0], one, {"2 heads": runs[2][0][1], "1 head": runs[1][0][1]}, separate), args.out,
         "multihead.png")
    roles = head_roles(runs[2][0][0]["weights"])
    specialised = sorted(roles, key=lambda r: r[0] - r[1], reverse=True)  # the 'previous' head first
    accs = {heads: [r["accuracy"] for r, _ in results] for heads, results in runs.items()}
    return {"two_heads_accuracy": float(np.median(accs[2])), "one_head_accuracy": float(np.median(accs[1])),
            "two_heads_range": [min(accs[2]), max(accs[2])], "one_head_range": [min(accs[1]), max(accs[1])],
            "previous_head": specialised[0], "mirror_head": specialised[1],
            "one_head_split": [prev1, mirror1], "one_head_equal": one["equal_pairs"],
            "one_head_other": one["other_pairs"], "seeds": len(seeds),
            "separate": {heads: {part: [r[part] for r in results]
                                 for part in ("accuracy", "previous", "mirrored")}
                         for heads, results in separate.items()}}


def readme_figures(r: dict) -> dict[str, str]:
    return {"two": f"{r['two_heads_accuracy']:.1%}", "one": f"{r['one_head_accuracy']:.1%}",
            "previous": f"{r['previous_head'][0]:.2f}", "mirror": f"{r['mirror_head'][1]:.2f}",
            "split": f"{r['one_head_split'][0]:.2f} on the previous position and "
                     f"{r['one_head_split'][1]:.2f}",
            **{f"separate_{heads}": spread(r["separate"][heads]["accuracy"]) for heads in (1, 2)},
            **{f"separate_1_{part}": f"{part} token {np.median(r['separate'][1][part]):.0%}"
               for part in ("previous", "mirrored")}}


def spread(values: list[float]) -> str:
    """'46% (34%-90%)': median and range over seeds, or '100% on every seed'."""
    lo, mid, hi = min(values), float(np.median(values)), max(values)
    return f"{mid:.0%} on every seed" if f"{lo:.0%}" == f"{hi:.0%}" else f"{mid:.0%} ({lo:.0%}-{hi:.0%})"


if __name__ == "__main__":
    main()
