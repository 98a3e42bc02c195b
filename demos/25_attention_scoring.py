"""Lesson 25: attention scoring functions (additive against scaled dot-product), and padding masks.

    .venv/bin/python demos/25_attention_scoring.py           # 400 training steps per scorer, seeds 0-2
    .venv/bin/python demos/25_attention_scoring.py --quick   # 200 steps, seed 0 (CI)

Attention weighs values by softmax(score(query, key)) over the keys. Two scores:

* additive (Bahdanau): score(q, k) = v^T tanh(W q + U k), a one-hidden-layer network on the pair;
* scaled dot-product: score(q, k) = (W q) . (U k) / sqrt(h), one multiplication per pair, which for
  all pairs at once is a single matrix product.

The task is a dictionary look-up with a variable number of entries: 2 to 16 (key, value) pairs (keys
are distinct symbols of 64, values one of 8) and a query that is one of the keys; answer its value. The
model embeds keys and values, scores the query against each key, mixes the value embeddings by the
weights and reads the answer out linearly. Both scores are trained the same way; we compare accuracy
(and the step at which each first reaches 95%), parameters, and time: of a training step, and of the
score alone (forward and backward) for 64 queries against 64 keys, where additive scoring builds a
(B, L, S, h) tensor and the dot product one matrix product.

A batch holds look-ups of different lengths, padded to 16 with a padding key and value. The padding mask
(``key_padding_mask``, True at padding) sets those scores to -1e9 before the softmax, so their weight is
exactly 0 and a sequence's output does not depend on how much padding it was given. Without it:

1. on ``nn.MultiheadAttention`` with random float64 inputs, the output at the real positions of each
   sequence differs from the same sequence run alone (unpadded); with the mask it is the same to 1e-12;
2. the trained look-up model, evaluated without the mask, puts weight on the padding and gets wrong.

Pictures: ``attention_scoring.png``: accuracy during training for both scores; the weights of one
padded look-up with and without the mask; the output change at real positions with and without it.
"""

from __future__ import annotations

import math
import time

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq.functional import cross_entropy

PICTURES = ("attention_scoring.png",)
KEYS, VALUES, MAX_PAIRS, D, H, BATCH, LR = 64, 8, 16, 32, 32, 64, 0.01
PAD_KEY, PAD_VALUE = KEYS, VALUES  # one extra row in each embedding
BLOCKED = -1e9  # exp(-1e9 - max) is exactly 0.0: padding gets no weight and no gradient


class Additive(nn.Module):
    """score[b, l, s] = v . tanh(W q[b, l] + U k[b, s]): (B, L, D), (B, S, D) -> (B, L, S)."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.W, self.U = nn.Linear(D, H, bias=False, rng=rng), nn.Linear(D, H, bias=False, rng=rng)
        self.v = nn.Linear(H, 1, bias=False, rng=rng)

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        hidden = (self.W(q).expand_dims(2) + self.U(k).expand_dims(1)).tanh()  # (B, L, 1, H) + (B, 1, S, H)
        return self.v(hidden).squeeze(-1)  # (B, L, S, H) -> (B, L, S)


class ScaledDot(nn.Module):
    """score[b, l, s] = (W q[b, l]) . (U k[b, s]) / sqrt(H): (B, L, D), (B, S, D) -> (B, L, S)."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.W, self.U = nn.Linear(D, H, bias=False, rng=rng), nn.Linear(D, H, bias=False, rng=rng)

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        return self.W(q) @ self.U(k).swapaxes(1, 2) / math.sqrt(H)  # (B, L, H) @ (B, H, S) -> (B, L, S)


class LookUp(nn.Module):
    """Query and keys embedded -> score -> masked softmax -> mix of value embeddings -> linear read-out."""

    def __init__(self, scorer: str, rng: np.random.Generator) -> None:
        super().__init__()
        self.key_embed = nn.Embedding(KEYS + 1, D, rng=rng)
        self.value_embed = nn.Embedding(VALUES + 1, D, rng=rng)
        self.score = Additive(rng) if scorer == "additive" else ScaledDot(rng)
        self.head = nn.Linear(D, VALUES, rng=rng)

    def forward(self, keys: np.ndarray, values: np.ndarray, query: np.ndarray, mask: np.ndarray | None
                ) -> tuple[Tensor, Tensor]:
        """Logits (B, VALUES) and weights (B, S) for keys, values (B, S), query (B,), mask (B, S) or None."""
        k, v = self.key_embed(keys), self.value_embed(values)  # (B, S) -> (B, S, D)
        q = self.key_embed(query[:, None])  # (B,) -> (B, 1, D)
        scores = self.score(q, k)  # (B, 1, S)
        if mask is not None:
            scores = scores.masked_fill(mask[:, None, :], BLOCKED)
        weights = scores.softmax(-1)  # (B, 1, S)
        context = (weights @ v).squeeze(1)  # (B, 1, S) @ (B, S, D) -> (B, D)
        return self.head(context), weights.squeeze(1)


def make_batch(rng: np.random.Generator, n: int, pairs: int | None = None):
    """n look-ups of 2..MAX_PAIRS pairs (or `pairs`), padded: keys, values, mask (n, MAX_PAIRS); query,
    answer (n,)."""
    counts = rng.integers(2, MAX_PAIRS + 1, n) if pairs is None else np.full(n, pairs)
    keys = np.argsort(rng.random((n, KEYS)), axis=1)[:, :MAX_PAIRS]  # distinct keys per look-up
    values = rng.integers(0, VALUES, (n, MAX_PAIRS))
    mask = np.arange(MAX_PAIRS)[None, :] >= counts[:, None]  # True at padding
    keys[mask], values[mask] = PAD_KEY, PAD_VALUE
    pick = (rng.random(n) * counts).astype(int)
    return keys, values, mask, keys[np.arange(n), pick], values[np.arange(n), pick]


def evaluate(model: LookUp, test, masked: bool = True) -> dict[str, float]:
    """Accuracy, mean probability of the right answer and mean weight on padding (over the look-ups
    that have some) on the test look-ups, with or without the mask."""
    keys, values, mask, query, answer = test
    with no_grad():
        logits, weights = model(keys, values, query, mask if masked else None)
    p = logits.softmax(-1).numpy()[np.arange(len(answer)), answer]
    on_padding = (weights.numpy() * mask).sum(1)[mask.any(1)].mean()
    return {"accuracy": float((logits.numpy().argmax(-1) == answer).mean()),
            "p_answer": float(p.mean()), "worst_p_answer": float(p.min()), "on_padding": float(on_padding)}


def train(scorer: str, steps: int, seed: int, test) -> tuple[LookUp, list, float]:
    """The trained model, its accuracy curve and the seconds per training step."""
    rng = np.random.default_rng(seed)
    model = LookUp(scorer, rng)
    opt = nn.optim.Adam(model.parameters(), lr=LR)
    curve, every, spent = [], 10, 0.0
    for step in range(1, steps + 1):
        keys, values, mask, query, answer = make_batch(rng, BATCH)
        start = time.process_time()
        loss = cross_entropy(model(keys, values, query, mask)[0], answer)
        opt.zero_grad()
        loss.backward()
        opt.step()
        spent += time.process_time() - start
        if step % every == 0 or step == steps:
            curve.append((step, evaluate(model, test)["accuracy"]))
    return model, curve, spent / steps


def score_seconds(scorer: str, rng: np.random.Generator, B: int = 16, L: int = 64, repeats: int = 3) -> float:
    """CPU seconds of one forward and backward of the score alone for B x L queries against L keys."""
    score = Additive(rng) if scorer == "additive" else ScaledDot(rng)
    q = Tensor(rng.standard_normal((B, L, D)).astype(np.float32), requires_grad=True)
    k = Tensor(rng.standard_normal((B, L, D)).astype(np.float32), requires_grad=True)
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        score(q, k).sum().backward()
        best = min(best, time.process_time() - start)
    return best


def first_step(curve: list[tuple[int, float]], level: float) -> int | None:
    """The first measured step whose accuracy reached `level` (None if none did)."""
    return next((step for step, acc in curve if acc >= level), None)


def padding_check(rng: np.random.Generator) -> dict:
    """Self-attention (nn.MultiheadAttention, float64) over sequences of lengths 3, 5, 8: the largest
    change at real positions between each sequence alone and in the padded batch, without and with
    key_padding_mask."""
    lengths, E = (3, 5, 8), 16
    mha = nn.MultiheadAttention(E, 2, batch_first=True, rng=rng, dtype=np.float64)
    seqs = [rng.standard_normal((n, E)) for n in lengths]
    batch = np.zeros((len(lengths), max(lengths), E))  # padding: zero vectors
    for b, s in enumerate(seqs):
        batch[b, : len(s)] = s
    mask = np.arange(max(lengths))[None, :] >= np.array(lengths)[:, None]  # (B, S), True at padding
    change = {}
    with no_grad():
        alone = [mha(Tensor(s[None]), Tensor(s[None]), Tensor(s[None]))[0].numpy()[0] for s in seqs]
        for name, m in (("without mask", None), ("with mask", mask)):
            x = Tensor(batch)
            out = mha(x, x, x, key_padding_mask=m)[0].numpy()
            change[name] = max(float(np.abs(out[b, : len(s)] - a).max()) for b, (s, a) in
                               enumerate(zip(seqs, alone)))
    return change


def picture(curves: dict, accs: dict, model: LookUp, example, change: dict):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), gridspec_kw={"width_ratios": [1.3, 1.2, 1]})
    ax = axes[0]
    for (name, curve), colour in zip(curves.items(), ("tab:orange", "tab:blue")):
        steps, acc = zip(*curve)
        ax.plot(steps, acc, "-", lw=2, color=colour, label=f"{name}: {accs[name]:.1%}")
    ax.axhline(1 / VALUES, color="k", lw=0.8, ls=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out look-ups answered (with the mask)")
    ax.set_title(f"Look up a key among 2-{MAX_PAIRS} pairs: two scores (dotted: chance)", fontsize=10)
    ax.legend(loc="center right", fontsize=9)
    ax.grid(alpha=0.3)
    ax = axes[1]
    keys, values, mask, query, answer = example
    with no_grad():
        rows = [model(keys, values, query, m)[1].numpy()[0] for m in (mask, None)]
    ax.imshow(np.array(rows), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for (i, j), w in np.ndenumerate(np.array(rows)):
        ax.text(j, i, f"{w:.2f}"[1:] if w < 1 else "1", ha="center", va="center", fontsize=7,
                color="white" if w > 0.6 else "black")
    labels = [f"{k}:{v}" if not p else "pad" for k, v, p in zip(keys[0], values[0], mask[0])]
    ax.set_xticks(range(MAX_PAIRS), labels, fontsize=7, rotation=90)
    ax.set_yticks([0, 1], ["with mask", "without"])
    ax.set_xlabel("key:value at each position")
    ax.set_title(f"Query {query[0]} (answer {answer[0]}), additive model:\nweights with and "
                 "without the padding mask", fontsize=10)
    ax = axes[2]
    names = list(change)
    bars = ax.bar(names, [max(change[n], 1e-18) for n in names], color=["tab:red", "tab:green"])
    ax.bar_label(bars, [f"{change[n]:.1e}" for n in names], fontsize=9)
    ax.set_yscale("log")
    ax.set_ylim(1e-18, 10)
    ax.set_ylabel("largest change at real positions")
    ax.set_title("MultiheadAttention, lengths 3, 5, 8 padded to 8:\nbatch against each sequence alone",
                 fontsize=10)
    return fig


def main(argv=None) -> dict:
    args = parse_args("25_attention_scoring", __doc__, argv)
    steps, seeds = (200, (0,)) if args.quick else (400, (0, 1, 2))
    test = make_batch(np.random.default_rng(1234), 2000)
    print(f"Look up one of 2-{MAX_PAIRS} (key, value) pairs ({KEYS} keys, {VALUES} values), padded to "
          f"{MAX_PAIRS}; {steps} steps of Adam, batch {BATCH}, seeds {seeds}; 2000 held-out look-ups.\n")
    accs, curves, models, results = {}, {}, {}, {}
    for scorer in ("additive", "scaled dot-product"):
        runs = [train(scorer, steps, seed, test) for seed in seeds]
        model = runs[0][0]
        masked = [evaluate(m, test) for m, _, _ in runs]
        unmasked = [evaluate(m, test, masked=False) for m, _, _ in runs]
        score_params = sum(p.size for p in model.score.parameters())
        results[scorer] = {
            "accuracy": float(np.median([e["accuracy"] for e in masked])),
            "p_answer": float(np.median([e["p_answer"] for e in masked])),
            "unmasked_accuracy": float(np.median([e["accuracy"] for e in unmasked])),
            "unmasked_p_answer": float(np.median([e["p_answer"] for e in unmasked])),
            "worst_p_answer": float(np.median([e["worst_p_answer"] for e in masked])),
            "unmasked_worst_p_answer": float(np.median([e["worst_p_answer"] for e in unmasked])),
            "unmasked_on_padding": float(np.median([e["on_padding"] for e in unmasked])),
            "score_parameters": score_params, "parameters": sum(p.size for p in model.parameters()),
            "ms_per_step": 1000 * float(np.median([t for _, _, t in runs])),
            "steps_to_95": float(np.median([first_step(c, 0.95) or steps + 1 for _, c, _ in runs])),
            "score_ms": 1000 * score_seconds(scorer, np.random.default_rng(0))}
        accs[scorer], curves[scorer], models[scorer] = results[scorer]["accuracy"], runs[0][1], model
        r = results[scorer]
        print(f"  {scorer:18} score parameters {score_params:5}, model {r['parameters']}; "
              f"{r['ms_per_step']:.1f} ms CPU per training step; the score alone for 16 x 64 queries and "
              f"64 keys {r['score_ms']:.1f} ms")
        print(f"  {'':18} 95% held out first reached at step {r['steps_to_95']:.0f} (median)")
        for name, key in (("with the mask", ""), ("the same model without it", "unmasked_")):
            print(f"  {'':18} {name}: accuracy {r[key + 'accuracy']:.1%}, P(right answer) mean "
                  f"{r[key + 'p_answer']:.3f}, lowest {r[key + 'worst_p_answer']:.3f}")
        print(f"  {'':18} without the mask, {r['unmasked_on_padding']:.0%} of the weight goes to padding")
    change = padding_check(np.random.default_rng(0))
    print(f"\n  nn.MultiheadAttention (float64), sequences of lengths 3, 5, 8 padded to 8: the largest "
          f"change at real positions\n  against each sequence run alone: {change['without mask']:.2e} "
          f"without key_padding_mask, {change['with mask']:.1e} with it.")
    example = make_batch(np.random.default_rng(7), 1, pairs=5)
    save(picture(curves, accs, models["additive"], example, change), args.out,
         "attention_scoring.png")
    return {"scorers": results, "steps": steps, "seeds": len(seeds),
            "change_without_mask": change["without mask"], "change_with_mask": change["with mask"],
            "score_time_ratio": results["additive"]["score_ms"] / results["scaled dot-product"]["score_ms"]}


def readme_figures(r: dict) -> dict[str, str]:
    a, d = r["scorers"]["additive"], r["scorers"]["scaled dot-product"]
    return {"additive": f"{a['accuracy']:.1%}", "dot": f"{d['accuracy']:.1%}",
            "params": f"{a['score_parameters']} against {d['score_parameters']}",
            "time": f"{a['ms_per_step']:.1f} ms against {d['ms_per_step']:.1f} ms",
            "score_time": f"{a['score_ms']:.1f} ms against {d['score_ms']:.1f} ms",
            "steps": f"step {a['steps_to_95']:.0f} (additive) and {d['steps_to_95']:.0f}",
            "unmasked": f"{a['unmasked_accuracy']:.1%} (additive) and {d['unmasked_accuracy']:.1%}",
            "worst": f"from {a['worst_p_answer']:.3f} to {a['unmasked_worst_p_answer']:.3f}",
            "worst_dot": f"{d['worst_p_answer']:.3f} to {d['unmasked_worst_p_answer']:.3f}",
            "on_padding": f"{a['unmasked_on_padding']:.0%} and {d['unmasked_on_padding']:.0%}",
            "without": f"{r['change_without_mask']:.2e}", "with": f"{r['change_with_mask']:.1e}"}


if __name__ == "__main__":
    main()
