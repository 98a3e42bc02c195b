"""Lesson 18: why recurrence: a fixed window (an MLP, an n-gram table) has a ceiling; a hidden state has none.

    .venv/bin/python demos/18_why_recurrence.py           # windows 1, 2, 4, 8, 16, 21; a GRU and a tanh RNN
    .venv/bin/python demos/18_why_recurrence.py --quick   # windows 1, 4, 8; the GRU only; fewer steps (CI)

The task: a sequence over {a, b, c, d} whose first symbol is marked ("remember this": the tokens are the
four plain symbols and the four marked ones), followed by g more random plain symbols, g drawn uniformly
from 1..20 for every sequence. After the last symbol the model must name the marked one (chance 1/4).

A model that sees only the last k tokens (a window of k) sees the marked symbol only when the sequence is
at most k long, g <= k - 1; otherwise it can only guess. So its accuracy cannot pass

    ceiling(k) = P(g <= k-1) + P(g >= k) / 4 = (k-1)/20 + (1 - (k-1)/20) / 4,

however large it is and however long it trains. Three kinds of model, each given the same sequences:

- a window MLP: the last k tokens, one-hot (zeros before the sequence starts), -> 64 ReLU units -> 4
  logits; its first layer has k * 8 * 64 weights, so its size grows with k;
- an n-gram (Markov) model of order k: a table from each context of k tokens seen in training to the
  answer seen most often after it (an unseen context gets the most common answer); its table can hold
  up to 9^k contexts, and it knows only the contexts it has seen;
- a recurrent network (a GRU and a tanh RNN, 32 units, fused, `lengths=` for the padded batch) reads the
  whole sequence, whatever its length, with the same parameters at every step, and answers from its last
  hidden state.

Pictures: ``window_ceiling.png``: test accuracy against the window k (the ceiling drawn), the recurrent
networks beside it; and accuracy by gap g for two windows and the GRU: a window is right up to g = k - 1
and guesses beyond.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq.functional import cross_entropy

PICTURES = ("window_ceiling.png",)
C, MAX_GAP, LONGER = 4, 20, 30  # symbols; gaps 1..MAX_GAP in training and test; a longer gap, tested
TOKENS = 2 * C  # plain a..d, then marked a..d
PAD = -1  # before a sequence starts (window models) / after it ends (the recurrent networks)
BATCH, LR, HIDDEN, RNN_HIDDEN = 128, 0.01, 64, 32


def make_batch(rng: np.random.Generator, n: int, gap: int | None = None) -> tuple[np.ndarray, ...]:
    """Token ids (T_max, n) padded with PAD after each end, the lengths (n,) = 1 + g, the answers (n,).

    g is drawn from 1..MAX_GAP for every sequence, or is `gap` for all."""
    gaps = rng.integers(1, MAX_GAP + 1, n) if gap is None else np.full(n, gap)
    lengths = gaps + 1
    ids = rng.integers(0, C, (gaps.max() + 1, n))
    answers = ids[0].copy()
    ids[0] += C  # the first symbol is marked
    ids[np.arange(len(ids))[:, None] >= lengths] = PAD
    return ids, lengths, answers


def window(ids: np.ndarray, lengths: np.ndarray, k: int) -> np.ndarray:
    """The last k tokens of every sequence, (n, k), PAD where the window reaches before its start."""
    at = lengths[None, :] - k + np.arange(k)[:, None]  # (k, n): the positions the window covers
    tokens = ids[np.clip(at, 0, None), np.arange(ids.shape[1])]
    return np.where(at >= 0, tokens, PAD).T


def one_hot(ids: np.ndarray) -> np.ndarray:
    """(...,) token ids -> (..., TOKENS) float32, all zeros for PAD."""
    out = np.zeros(ids.shape + (TOKENS,), dtype=np.float32)
    idx = np.nonzero(ids != PAD)
    out[idx + (ids[idx],)] = 1.0
    return out


def ceiling(k: int) -> float:
    """The best accuracy a window of k can have: right when g <= k - 1, chance otherwise."""
    seen = min(max(k - 1, 0), MAX_GAP) / MAX_GAP
    return seen + (1 - seen) / C


class WindowMLP(nn.Module):
    """(n, k * TOKENS) -> ReLU(HIDDEN) -> C logits."""

    def __init__(self, k: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.hidden = nn.Linear(k * TOKENS, HIDDEN, rng=rng)
        self.out = nn.Linear(HIDDEN, C, rng=rng)

    def forward(self, ids: np.ndarray, lengths: np.ndarray, k: int) -> Tensor:
        x = one_hot(window(ids, lengths, k))  # (n, k, TOKENS)
        return self.out(self.hidden(Tensor(x.reshape(len(x), -1))).relu())  # (n, k*TOKENS) -> (n, C)


class Recurrent(nn.Module):
    """A GRU or tanh RNN over the whole padded sequence, a linear read-out of each sequence's last state."""

    def __init__(self, layer: type, rng: np.random.Generator) -> None:
        super().__init__()
        self.rnn = layer(TOKENS, RNN_HIDDEN, rng=rng, fused=True)
        self.out = nn.Linear(RNN_HIDDEN, C, rng=rng)

    def forward(self, ids: np.ndarray, lengths: np.ndarray, k: int = 0) -> Tensor:
        _, h_n = self.rnn(Tensor(one_hot(ids)), lengths=lengths)  # (T, n, TOKENS) -> h_n (1, n, H)
        return self.out(h_n[0])


def train(model: nn.Module, steps: int, k: int, rng: np.random.Generator) -> None:
    opt = nn.optim.Adam(model.parameters(), lr=LR)
    for _ in range(steps):
        ids, lengths, answers = make_batch(rng, BATCH)
        loss = cross_entropy(model(ids, lengths, k), answers)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


def predict(model: nn.Module, test: tuple, k: int = 0) -> np.ndarray:
    ids, lengths, _ = test
    with no_grad():
        return model(ids, lengths, k).numpy().argmax(-1)


class NGram:
    """Order-k Markov model as a classifier: the answer seen most often after each context of k tokens."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.counts: dict[bytes, Counter] = defaultdict(Counter)
        self.overall: Counter = Counter()

    def fit(self, ids: np.ndarray, lengths: np.ndarray, answers: np.ndarray) -> NGram:
        for context, answer in zip(window(ids, lengths, self.k), answers):
            self.counts[context.tobytes()][answer] += 1
        self.overall.update(answers.tolist())
        return self

    def known(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """For each sequence: was its context (its last k tokens) seen in training?"""
        return np.array([c.tobytes() in self.counts for c in window(ids, lengths, self.k)])

    def predict(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        default = self.overall.most_common(1)[0][0]
        return np.array(
            [
                self.counts[c.tobytes()].most_common(1)[0][0] if c.tobytes() in self.counts else default
                for c in window(ids, lengths, self.k)
            ]
        )


def blind(pred: np.ndarray, test: tuple, k: int) -> float:
    """Accuracy on the sequences whose marked symbol lies outside a window of k (g >= k), NaN if none."""
    _, lengths, answers = test
    outside = lengths > k
    return float((pred == answers)[outside].mean()) if outside.any() else float("nan")


def by_gap(pred: np.ndarray, test: tuple) -> np.ndarray:
    """Accuracy for each gap 1..MAX_GAP."""
    _, lengths, answers = test
    return np.array([(pred == answers)[lengths == g + 1].mean() for g in range(1, MAX_GAP + 1)])


def picture(ks: list[int], result: dict, gaps: dict[str, np.ndarray]):
    fig, (ax, ax_gap, ax_long) = plt.subplots(
        1, 3, figsize=(18, 5), gridspec_kw={"width_ratios": [1.2, 1.2, 0.8]}
    )
    fine = np.arange(1, max(ks) + 1)
    ax.plot(fine, [ceiling(k) for k in fine], "--", color="gray", lw=1.5, label="ceiling of a window of k")
    ax.plot(ks, result["mlp"], "o-", color="tab:orange", lw=2, label="window MLP")
    ax.plot(ks, result["ngram"], "s-", color="tab:purple", lw=2, label="n-gram table (order k)")
    for name, colour, ls, lw in (("GRU", "tab:green", "-", 5), ("tanh RNN", "tab:red", "--", 2)):
        if name in result["recurrent"]:
            acc = result["recurrent"][name]
            ax.axhline(
                acc, color=colour, ls=ls, lw=lw, alpha=0.8, label=f"{name} (whole sequence): {acc:.1%}"
            )
    ax.axhline(1 / C, color="gray", ls=":", lw=1)
    ax.text(max(ks), 1 / C - 0.02, "chance", color="gray", ha="right", va="top", fontsize=9)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("window k: tokens the model sees (log scale)")
    ax.set_ylabel("test accuracy (gaps 1..20 mixed)")
    ax.set_title("Name the marked first symbol after g = 1..20 more symbols", fontsize=10)
    ax.legend(fontsize=8.5, loc="center left", bbox_to_anchor=(0.0, 0.66))
    ax.grid(alpha=0.3)
    g = np.arange(1, MAX_GAP + 1)
    styles = {"GRU": ("tab:green", "-", "o"), "tanh RNN": ("tab:red", "--", "v")}
    for name, acc in gaps.items():
        colour, ls, marker = styles.get(name, ("tab:orange", "-", "s"))
        if name.startswith("window"):
            ax_gap.axvline(int(name.split()[-1]) - 0.5, color="tab:orange", ls=":", lw=1)
            colour = (
                "tab:orange"
                if name.endswith(str(max(int(n.split()[-1]) for n in gaps if n.startswith("w"))))
                else "#f2b36f"
            )
        ax_gap.plot(g, acc, ls, marker=marker, ms=7 if name == "GRU" else 5, color=colour, lw=2, label=name)
    ax_gap.axhline(1 / C, color="gray", ls=":", lw=1)
    ax_gap.set_ylim(0, 1.05)
    ax_gap.set_xticks(g[::2] if len(g) > 10 else g)
    ax_gap.set_xlabel("gap g (the marked symbol is g + 1 tokens back)")
    ax_gap.set_ylabel("test accuracy at that gap")
    ax_gap.set_title("A window of k is right while g <= k - 1 (dotted), then guesses", fontsize=10)
    ax_gap.legend(fontsize=8.5, loc="center right")
    ax_gap.grid(alpha=0.3)
    names = [n for n in result["longer"] if "MLP" not in n or n.endswith(f"k = {ks[-1]}")]
    accs = [result["longer"][n] for n in names]
    colours = [styles.get(n, ("tab:orange",))[0] for n in names]
    bars = ax_long.bar(range(len(names)), accs, color=colours, alpha=0.85)
    ax_long.bar_label(bars, [f"{a:.1%}" for a in accs], fontsize=9)
    ax_long.set_xticks(range(len(names)), [n.replace(", k", "\nk") for n in names], fontsize=9)
    ax_long.axhline(1 / C, color="gray", ls=":", lw=1)
    ax_long.set_ylim(0, 1.1)
    ax_long.set_ylabel("test accuracy")
    ax_long.set_title(f"Longer than any training sequence (g <= {MAX_GAP}): g = {LONGER}", fontsize=10)
    ax_long.grid(alpha=0.3, axis="y")
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(
        "18_why_recurrence",
        __doc__,
        argv,
        extra=[("--seed", {"type": int, "default": 0, "help": "initial weights and data"})],
    )
    ks = [1, 4, 8] if args.quick else [1, 2, 4, 8, 16, 21]
    steps, rnn_steps = (200, 250) if args.quick else (400, 500)
    layers = {"GRU": nn.GRU} if args.quick else {"GRU": nn.GRU, "tanh RNN": nn.RNN}
    test = make_batch(np.random.default_rng(10_000 + args.seed), 4000)
    longer = make_batch(np.random.default_rng(20_000 + args.seed), 1000, gap=LONGER)
    print(f"Name the marked first symbol of {{a, b, c, d}} after g = 1..{MAX_GAP} more (chance 25%).")
    print(
        f"Each model sees {steps * BATCH} training sequences ({steps} batches of {BATCH}); the recurrent "
        "ones "
        f"{rnn_steps * BATCH}.\n"
    )
    print(
        f"{'window k':>9} {'ceiling':>8} {'MLP':>7} {'n-gram':>7} {'MLP, g >= k':>12} {'contexts seen':>14} "
        f"{'MLP weights':>12}"
    )
    result: dict = {
        "ks": ks,
        "ceiling": [ceiling(k) for k in ks],
        "mlp": [],
        "ngram": [],
        "contexts": [],
        "mlp_blind": [],
        "ngram_unseen": [],
        "mlp_weights": [],
        "recurrent": {},
        "longer": {},
        "steps": steps,
    }
    gaps: dict[str, np.ndarray] = {}
    shown = ks[1:3] if args.quick else [4, 8]
    for k in ks:
        rng = np.random.default_rng(args.seed)
        mlp = WindowMLP(k, rng)
        train(mlp, steps, k, rng)
        pred = predict(mlp, test, k)
        result["mlp"].append(float((pred == test[2]).mean()))
        result["mlp_blind"].append(blind(pred, test, k))
        if k in shown:
            gaps[f"window MLP, k = {k}"] = by_gap(pred, test)
        data_rng = np.random.default_rng(args.seed + 1)
        ngram = NGram(k)
        for _ in range(steps):  # the same number of sequences the MLP saw
            ngram.fit(*make_batch(data_rng, BATCH))
        result["ngram"].append(float((ngram.predict(*test[:2]) == test[2]).mean()))
        result["contexts"].append(len(ngram.counts))
        visible = test[1] <= k  # the marked symbol is inside the window
        unseen = ~ngram.known(*test[:2])[visible]
        result["ngram_unseen"].append(float(unseen.mean()) if visible.any() else 0.0)
        result["mlp_weights"].append(sum(p.size for p in mlp.parameters()))
        print(
            f"{k:>9} {ceiling(k):>8.1%} {result['mlp'][-1]:>7.1%} {result['ngram'][-1]:>7.1%} "
            f"{result['mlp_blind'][-1]:>12.1%}".replace("nan%", "none")
            + f" {result['contexts'][-1]:>14,} {result['mlp_weights'][-1]:>12,}"
        )
    result["longer"][f"window MLP, k = {k}"] = float((predict(mlp, longer, k) == longer[2]).mean())
    for name, layer in layers.items():
        rng = np.random.default_rng(args.seed)
        model = Recurrent(layer, rng)
        train(model, rnn_steps, 0, rng)
        pred = predict(model, test)
        result["recurrent"][name] = float((pred == test[2]).mean())
        result[f"{name} weights"] = sum(p.size for p in model.parameters())
        gaps[name] = by_gap(pred, test)
        result["longer"][name] = float((predict(model, longer) == longer[2]).mean())
        print(
            f"{name:>9}: {result['recurrent'][name]:.1%} over all gaps, {gaps[name][-1]:.1%} at "
            f"g = {MAX_GAP} "
            f"({result[f'{name} weights']:,} weights, for any length)"
        )
    result["gru_at_longest"] = float(gaps["GRU"][-1])
    seen = [b for b in result["mlp_blind"] if b == b]  # the windows that miss some sequences (not NaN)
    print(
        f"\nOn the sequences whose marked symbol is outside its window (g >= k) the MLP gets "
        f"{min(seen):.1%} to {max(seen):.1%}: chance. The n-gram table needs to have seen each exact "
        f"context: at k = {ks[-1]} it knows {result['contexts'][-1]:,} of them and gets "
        f"{result['ngram'][-1]:.1%}; of the test sequences whose marked symbol is inside the window, it "
        "never saw the context of\n"
        + ", ".join(f"{u:.0%} at k = {k}" for k, u in zip(ks, result["ngram_unseen"]) if k > 1)
        + "."
    )
    print(
        f"A sequence longer than any in training (g = {LONGER}, 1000 of them): "
        + ", ".join(
            f"{name} {acc:.1%}"
            for name, acc in result["longer"].items()
            if "MLP" not in name or name.endswith(f"k = {ks[-1]}")
        )
        + "."
    )
    result["mlp_blind_range"] = [min(seen), max(seen)]
    save(picture(ks, result, gaps), args.out, "window_ceiling.png")
    result["gaps"] = {name: acc.tolist() for name, acc in gaps.items()}
    return result


def readme_figures(r: dict) -> dict[str, str]:
    figures = {"gru": f"{r['recurrent']['GRU']:.1%}", "gru_longest": f"{r['gru_at_longest']:.1%}"}
    if "tanh RNN" in r["recurrent"]:
        figures["rnn"] = f"{r['recurrent']['tanh RNN']:.1%}"
    figures |= {f"unseen k{k}": f"{u:.0%} at k = {k}" for k, u in zip(r["ks"], r["ngram_unseen"]) if k > 1}
    lo, hi = r["mlp_blind_range"]
    figures["blind"] = f"{lo:.1%} to {hi:.1%}"
    figures |= {
        f"longer {name}": f"{name}: {acc:.1%}"
        for name, acc in r["longer"].items()
        if "MLP" not in name or name.endswith(f"k = {r['ks'][-1]}")
    }
    for k, c, m, n, s in zip(r["ks"], r["ceiling"], r["mlp"], r["ngram"], r["contexts"]):
        figures[f"k{k}"] = f"| {k} | {c:.1%} | {m:.1%} | {n:.1%} | {s:,} |"
    return figures


if __name__ == "__main__":
    main()
