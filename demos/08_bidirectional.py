"""Lesson 8: a bidirectional LSTM reads the whole sequence; it tags and classifies, it cannot generate.

    .venv/bin/python demos/08_bidirectional.py           # 150 training steps, seeds 0-2
    .venv/bin/python demos/08_bidirectional.py --quick   # 100 steps, one seed (CI)

A bidirectional LSTM (``nn.LSTM(bidirectional=True)``) runs a second LSTM from right to left and
concatenates both hidden states at each position, so its output at position t depends on the whole
input, x_0 .. x_{T-1}. That is what tagging and classification need, and it is why a bidirectional
model cannot be a language model: to generate, symbol t+1 must be chosen before it exists.

1. Tagging that needs both sides: under each symbol of a random sequence over {a, b, c, d}, write
   "=" if it equals its left or its right neighbour. A left-to-right LSTM at position t has seen
   x_{t-1} but not x_{t+1}: it is sure when x_t = x_{t-1}, and otherwise can only bet "no" (x_{t+1}
   matches with probability 1/4). The best it can do is 1/4 + 3/4 * 3/4 = 81.25% in the middle, 75% at
   position 0 (no left neighbour) and 100% at the last position (no right neighbour, nothing to
   miss). The bidirectional LSTM sees both neighbours and tags every position.
2. The language-model task, to see why a bidirectional model cannot be one: tag each symbol with the
   NEXT symbol. The bidirectional LSTM scores 100%, because its right-to-left half has just read the
   answer: it copies its input. The left-to-right LSTM, which must predict, stays at chance (25%).

The one-directional model gets a larger hidden state so that both have about the same number of
parameters: what wins is the direction, not the size.

Pictures: ``bidirectional.png``: for the neighbour task, accuracy on held-out sequences during training
and accuracy at each position after training (with the best a left-to-right reader can do); then the
next-symbol task's accuracies, with chance marked.
"""

from __future__ import annotations

import numpy as np
from common import parse_args, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq.functional import cross_entropy, one_hot

PICTURES = ("bidirectional.png",)
ALPHABET = "abcd"
V = len(ALPHABET)
T, BATCH = 10, 32
HIDDEN_BI, HIDDEN_UNI = 16, 24  # about 3k parameters each
IGNORE = -100  # cross_entropy's ignore_index: a position with no tag


def neighbour_tags(seq: np.ndarray) -> np.ndarray:
    """1 where a symbol equals its left or its right neighbour, else 0; seq (T, B) -> tags (T, B)."""
    same = seq[1:] == seq[:-1]  # (T-1, B): position t equals position t+1
    tags = np.zeros(seq.shape, dtype=np.int64)
    tags[:-1] |= same  # equals the right neighbour
    tags[1:] |= same  # equals the left neighbour
    return tags


def next_tags(seq: np.ndarray) -> np.ndarray:
    """The next symbol under each symbol, IGNORE at the end (nothing follows it)."""
    tags = np.full(seq.shape, IGNORE)
    tags[:-1] = seq[1:]
    return tags


TASKS = {"neighbour": (neighbour_tags, 2), "next": (next_tags, V)}


def best_left_to_right() -> np.ndarray:
    """The accuracy at each position of the best reader that has not seen x_{t+1} (neighbour task)."""
    best = np.full(T, 0.25 + 0.75 * 0.75)  # sure if x_t = x_{t-1}; else bet "no", right 3 times in 4
    best[0], best[-1] = 0.75, 1.0  # no left neighbour / no right neighbour
    return best


class Tagger(nn.Module):
    """An LSTM over one-hot symbols and a linear read-out of each position's hidden state."""

    def __init__(self, hidden: int, bidirectional: bool, classes: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.lstm = nn.LSTM(V, hidden, bidirectional=bidirectional, forget_bias=1.0, rng=rng, fused=True)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), classes, rng=rng)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.lstm(x)  # (T, B, D*H): both directions concatenated at each position
        return self.head(out)  # (T, B, classes)


def make_batch(task: str, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n random sequences (T, n) and their tags (T, n)."""
    seq = rng.integers(0, V, size=(T, n))
    return seq, TASKS[task][0](seq)


def accuracy(model: Tagger, seq: np.ndarray, tags: np.ndarray) -> tuple[float, np.ndarray]:
    """Accuracy over the tagged positions, and accuracy per position (NaN where nothing is tagged)."""
    with no_grad():
        pred = model(one_hot(seq, V)).numpy().argmax(-1)  # (T, B)
    tagged = tags != IGNORE
    hit = (pred == tags) & tagged
    counts = tagged.sum(axis=1)
    per_position = np.where(counts > 0, hit.sum(axis=1) / np.maximum(counts, 1), np.nan)
    return float(hit.sum() / tagged.sum()), per_position


def train(task: str, bidirectional: bool, steps: int, seed: int, test: tuple[np.ndarray, np.ndarray]) -> dict:
    rng = np.random.default_rng(seed)
    classes = TASKS[task][1]
    model = Tagger(HIDDEN_BI if bidirectional else HIDDEN_UNI, bidirectional, classes, rng)
    opt = nn.optim.Adam(model.parameters(), lr=0.02)
    curve = []
    every = max(1, steps // 25)
    for step in range(1, steps + 1):
        seq, tags = make_batch(task, rng, BATCH)
        logits = model(one_hot(seq, V))  # (T, B, classes)
        loss = cross_entropy(logits.reshape(-1, classes), tags.reshape(-1))  # (T*B, classes), skips IGNORE
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            curve.append((step, accuracy(model, *test)[0]))
    acc, per_position = accuracy(model, *test)
    n_params = sum(p.size for p in model.parameters())
    return {"model": model, "curve": curve, "accuracy": acc, "per_position": per_position, "params": n_params}


def plot(runs: dict, next_runs: dict, out: str) -> str:
    import matplotlib.pyplot as plt

    fig, (ax_curve, ax_pos, ax_next) = plt.subplots(1, 3, figsize=(15, 4.4),
                                                    gridspec_kw={"width_ratios": [1.1, 1.1, 0.7]})
    colours = {"bi-LSTM": "tab:green", "LSTM": "tab:gray"}
    best = best_left_to_right()
    for name, seeds in runs.items():
        r = seeds[0]
        steps, accs = zip(*r["curve"])
        ax_curve.plot(steps, accs, "-", color=colours[name], lw=2,
                      label=f"{name} ({r['params']} parameters), seed 0: {r['accuracy']:.1%}")
        ax_pos.plot(range(T), r["per_position"], "o-", color=colours[name], lw=2, label=name)
    ax_curve.axhline(np.mean(best), color="tab:blue", ls="--", lw=1)
    ax_curve.text(0, np.mean(best) + 0.01, f"best left-to-right reader: {np.mean(best):.1%}",
                  color="tab:blue", fontsize=9, va="bottom")
    ax_pos.plot(range(T), best, "s--", color="tab:blue", lw=1, ms=4, label="best left-to-right reader")
    ax_pos.annotate("no right neighbour:\nnothing to miss", (T - 1, 1.0), xytext=(T - 4.2, 0.62),
                    fontsize=8, color="tab:gray", arrowprops={"arrowstyle": "->", "color": "tab:gray"})
    ax_pos.annotate("cannot see x[t+1]:\nmisses x[t] = x[t+1]", (4, best[4]), xytext=(2.2, 0.62),
                    fontsize=8, color="tab:gray", arrowprops={"arrowstyle": "->", "color": "tab:gray"})
    for ax in (ax_curve, ax_pos):
        ax.set_ylim(0.5, 1.03)
        ax.set_ylabel("tagging accuracy (held-out sequences)")
        ax.grid(True, alpha=0.3)
    ax_curve.set_xlabel("training step")
    ax_curve.set_title('Tag "=" if a symbol equals a neighbour')
    ax_curve.legend(loc="lower right", fontsize=9)
    ax_pos.set_xlabel("position t")
    ax_pos.set_xticks(range(T))
    ax_pos.set_title("Accuracy at each position, after training")
    ax_pos.legend(loc="lower left", fontsize=9)

    names = list(next_runs)
    accs = [next_runs[n][0]["accuracy"] for n in names]
    bars = ax_next.bar(names, accs, color=[colours[n] for n in names])
    for bar, a in zip(bars, accs):
        ax_next.text(bar.get_x() + bar.get_width() / 2, a + 0.02, f"{a:.0%}", ha="center", fontsize=10)
    ax_next.axhline(1 / V, color="tab:red", ls="--", lw=1)
    ax_next.text(-0.45, 1 / V - 0.02, "chance", color="tab:red", ha="left", va="top", fontsize=9)
    ax_next.set_ylim(0, 1.12)
    ax_next.set_ylabel("accuracy naming the next symbol")
    ax_next.set_title("The LM task: the bi-LSTM reads\nthe answer, the LSTM must predict", fontsize=10)
    return save(fig, out, "bidirectional.png")


def show_example(runs: dict) -> dict[str, str]:
    """One held-out sequence with its true tags and each model's tags.

    '=' equal to a neighbour, '.' not; a wrong tag is 'x' where the model says '.' but the truth is '='
    (a pair it missed) and 'X' where it says '=' but the truth is '.' (a pair that is not there).
    """
    seq, tags = make_batch("neighbour", np.random.default_rng(7), 1)
    lines = {"sequence": "  ".join(ALPHABET[s] for s in seq[:, 0]),
             "truth": "  ".join("=" if t else "." for t in tags[:, 0])}
    print(f"{'':>9} {lines['sequence']}   (a held-out sequence)")
    print(f"{'truth':>9} {lines['truth']}")
    for name, seeds in runs.items():
        with no_grad():
            pred = seeds[0]["model"](one_hot(seq, V)).numpy().argmax(-1)[:, 0]
        marks = "  ".join(("=" if p else ".") if p == t else ("X" if p else "x")
                          for p, t in zip(pred, tags[:, 0]))
        print(f"{name:>9} {marks}")
        lines[name] = marks
    print(f"{'':>9} wrong tags: x = said '.', the truth is '=' (a missed pair); "
          "X = said '=', the truth is '.'")
    return lines


def main(argv: list[str] | None = None) -> dict:
    args = parse_args("08_bidirectional", __doc__, argv)
    steps, seeds = (100, (0,)) if args.quick else (150, (0, 1, 2))
    next_steps = steps // 3  # copying the input is learned fast; predicting it never is
    print(f"1. Tag each symbol of a random sequence over {{{', '.join(ALPHABET)}}} with '=' when it")
    print(f"   equals its left or right neighbour. {steps} steps of Adam, seeds {seeds}.\n")
    test = make_batch("neighbour", np.random.default_rng(1234), 500)
    runs = {name: [train("neighbour", name == "bi-LSTM", steps, seed, test) for seed in seeds]
            for name in ("LSTM", "bi-LSTM")}
    example = show_example(runs)
    best = best_left_to_right()
    medians = {}
    for name, rs in runs.items():
        accs = [r["accuracy"] for r in rs]
        medians[name] = float(np.median(accs))
        print(f"{name:>9}: {medians[name]:.1%} of held-out tags right (median over seeds; range "
              f"{min(accs):.1%}-{max(accs):.1%}; {rs[0]['params']} parameters)")
    print(f"{'best L->R':>9}: {np.mean(best):.2%} (sure when x[t] = x[t-1], else it bets 'no')")
    lstm_pos = np.median([r["per_position"] for r in runs["LSTM"]], axis=0)
    print(f"   the LSTM per position: {' '.join(f'{a:.0%}' for a in lstm_pos)}")

    print(f"\n2. The language-model task: tag each symbol with the NEXT one ({next_steps} steps, seed 0).")
    test_next = make_batch("next", np.random.default_rng(1234), 500)
    next_runs = {name: [train("next", name == "bi-LSTM", next_steps, 0, test_next)]
                 for name in ("LSTM", "bi-LSTM")}
    for name, rs in next_runs.items():
        print(f"{name:>9}: {rs[0]['accuracy']:.1%} (chance {1 / V:.0%})")
    print("\nThe bi-LSTM's right-to-left half has just read the symbol it must name: it copies its input.")
    print("To generate, that symbol does not exist yet, so a bidirectional model cannot be a language")
    print("model; it is for tagging and classifying inputs that are there in full.")
    plot(runs, next_runs, args.out)
    bi, uni = runs["bi-LSTM"], runs["LSTM"]
    return {"example": example, "bilstm_accuracy": medians["bi-LSTM"], "lstm_accuracy": medians["LSTM"],
            "bilstm_range": [min(r["accuracy"] for r in bi), max(r["accuracy"] for r in bi)],
            "lstm_range": [min(r["accuracy"] for r in uni), max(r["accuracy"] for r in uni)],
            "lstm_per_position": lstm_pos.tolist(), "bilstm_per_position":
                np.median([r["per_position"] for r in bi], axis=0).tolist(),
            "best_left_to_right": float(np.mean(best)), "seeds": len(seeds),
            "next_bilstm_accuracy": next_runs["bi-LSTM"][0]["accuracy"],
            "next_lstm_accuracy": next_runs["LSTM"][0]["accuracy"], "chance": 1 / V,
            "bilstm_params": bi[0]["params"], "lstm_params": uni[0]["params"], "steps": steps}


def readme_figures(r: dict) -> dict[str, str]:
    return {"lstm": f"{r['lstm_accuracy']:.1%}", "bilstm": f"{r['bilstm_accuracy']:.1%}",
            "lstm_range": f"{r['lstm_range'][0]:.1%}-{r['lstm_range'][1]:.1%}",
            "lstm_first": f"{r['lstm_per_position'][0]:.0%}",
            "lstm_last": f"{r['lstm_per_position'][-1]:.0%}",
            "next_bilstm": f"{r['next_bilstm_accuracy']:.0%}", "next_lstm": f"{r['next_lstm_accuracy']:.0%}",
            "params": f"{r['bilstm_params']} parameters against {r['lstm_params']}",
            "bound": f"averages {r['best_left_to_right']:.1%}",
            **{f"example_{k}": " ".join(v.split()) for k, v in r["example"].items()}}


if __name__ == "__main__":
    main()
