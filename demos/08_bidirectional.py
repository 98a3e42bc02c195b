"""Lesson 8: a bidirectional LSTM sees the future of the sequence; a one-directional LSTM cannot.

    .venv/bin/python demos/08_bidirectional.py           # 200 training steps
    .venv/bin/python demos/08_bidirectional.py --quick   # 50 steps (CI)

The task is tagging: under each symbol of a random sequence (alphabet a, b, c, d), write the symbol
that comes NEXT. Reading left to right, an LSTM at position t has seen x_0..x_t but not x_{t+1}, which
is drawn independently of everything before it: no model that reads left to right can beat chance
(1/4). A bidirectional LSTM (``nn.LSTM(bidirectional=True)``) runs a second LSTM from right to left
and concatenates both hidden states at each position; the backward half at position t has just read
x_{t+1}, so the tag is one linear read-out away. The one-directional model gets a larger hidden state
so that both have about the same number of parameters: what wins is the direction, not the size.

Pictures: ``bidirectional.png``: accuracy on held-out sequences during training, and accuracy at each
position after training, for both models, with chance marked.
"""

from __future__ import annotations

import numpy as np
from common import parse_args, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq.functional import cross_entropy, one_hot

ALPHABET = "abcd"
V = len(ALPHABET)
T, BATCH = 10, 32
HIDDEN_BI, HIDDEN_UNI = 16, 24  # about 3.3k parameters each


class Tagger(nn.Module):
    """An LSTM over one-hot symbols and a linear read-out of each position's hidden state."""

    def __init__(self, hidden: int, bidirectional: bool, rng: np.random.Generator) -> None:
        super().__init__()
        self.lstm = nn.LSTM(V, hidden, bidirectional=bidirectional, forget_bias=1.0, rng=rng)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), V, rng=rng)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.lstm(x)  # (T, B, D*H): both directions concatenated at each position
        return self.head(out)  # (T, B, V)


def make_batch(rng: np.random.Generator, n: int) -> tuple[Tensor, np.ndarray]:
    """n random sequences as one-hot (T, n, V) and their tags (T, n): the next symbol, -100 at the end."""
    seq = rng.integers(0, V, size=(T, n))
    tags = np.full((T, n), -100)
    tags[:-1] = seq[1:]
    return one_hot(seq, V), tags


def accuracy(model: Tagger, x: Tensor, tags: np.ndarray) -> tuple[float, np.ndarray]:
    """Overall accuracy and accuracy per position (positions 0..T-2: the last one has no tag)."""
    with no_grad():
        pred = model(x).numpy().argmax(-1)  # (T, B)
    hit = (pred == tags)[:-1]
    return float(hit.mean()), hit.mean(axis=1)


def train(bidirectional: bool, steps: int, seed: int, test: tuple[Tensor, np.ndarray]) -> dict:
    rng = np.random.default_rng(seed)
    model = Tagger(HIDDEN_BI if bidirectional else HIDDEN_UNI, bidirectional, rng)
    opt = nn.optim.Adam(model.parameters(), lr=0.02)
    curve = []
    every = max(1, steps // 30)
    for step in range(1, steps + 1):
        x, tags = make_batch(rng, BATCH)
        logits = model(x)  # (T, B, V)
        loss = cross_entropy(logits.reshape(-1, V), tags.reshape(-1))  # (T*B, V), ignores -100
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            curve.append((step, accuracy(model, *test)[0]))
    acc, per_position = accuracy(model, *test)
    n_params = sum(p.size for p in model.parameters())
    return {"model": model, "curve": curve, "accuracy": acc, "per_position": per_position, "params": n_params}


def plot(runs: dict[str, dict], out: str) -> str:
    import matplotlib.pyplot as plt

    fig, (ax_curve, ax_pos) = plt.subplots(1, 2, figsize=(10, 4))
    colours = {"bi-LSTM": "tab:green", "LSTM": "tab:gray"}
    for name, r in runs.items():
        steps, accs = zip(*r["curve"])
        ax_curve.plot(steps, accs, "-", color=colours[name], lw=2,
                      label=f"{name} ({r['params']} parameters): {r['accuracy']:.0%}")
        ax_pos.plot(range(T - 1), r["per_position"], "o-", color=colours[name], label=name)
    for ax in (ax_curve, ax_pos):
        ax.axhline(1 / V, color="tab:red", ls="--", lw=1)
        ax.text(ax.get_xlim()[1], 1 / V - 0.03, f"chance (1/{V})", color="tab:red", ha="right", va="top",
                fontsize=9)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("tagging accuracy (held-out sequences)")
        ax.grid(True, alpha=0.3)
    ax_curve.set_xlabel("training step")
    ax_curve.set_title("Tag each symbol with the NEXT symbol")
    ax_curve.legend(loc="center right", fontsize=9)
    ax_pos.set_xlabel("position t in the sequence (its tag is symbol t+1)")
    ax_pos.set_xticks(range(T - 1))
    ax_pos.set_title("Accuracy at each position, after training")
    ax_pos.legend(loc="center right", fontsize=9)
    return save(fig, out, "bidirectional.png")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args("08_bidirectional", __doc__, argv)
    steps = 50 if args.quick else 200
    test = make_batch(np.random.default_rng(1234), 500)
    print(f"Tag each symbol of a random sequence over {{{', '.join(ALPHABET)}}} with the symbol that comes")
    print("next.")
    print(f"Training a one-directional LSTM and a bidirectional LSTM for {steps} steps of Adam.\n")
    runs = {"LSTM": train(False, steps, seed=0, test=test), "bi-LSTM": train(True, steps, seed=0, test=test)}

    seq = np.random.default_rng(7).integers(0, V, size=T)
    x = one_hot(seq[:, None], V)  # (T, 1, V)
    print(f"{'':>9} {'  '.join(ALPHABET[s] for s in seq)}   (the sequence)")
    print(f"{'truth':>9} {'  '.join(ALPHABET[s] for s in seq[1:])}")
    for name, r in runs.items():
        with no_grad():
            pred = r["model"](x).numpy().argmax(-1)[:-1, 0]
        print(f"{name:>9} {'  '.join(ALPHABET[s] for s in pred)}")
    print()
    for name, r in runs.items():
        print(f"{name:>9}: {r['accuracy']:.1%} of held-out tags right ({r['params']} parameters)")
    print(f"{'chance':>9}: {1 / V:.1%}")
    print("\nThe left-to-right LSTM has never seen the symbol it must name, so it can only guess; the")
    print("bidirectional LSTM's right-to-left half has just read it. Any tag that depends on what comes")
    print("later (a word's role decided by the words after it) needs the second direction.")
    plot(runs, args.out)
    bi, uni = runs["bi-LSTM"], runs["LSTM"]
    return {"bilstm_accuracy": bi["accuracy"], "lstm_accuracy": uni["accuracy"], "chance": 1 / V,
            "bilstm_params": bi["params"], "lstm_params": uni["params"]}


if __name__ == "__main__":
    main()
