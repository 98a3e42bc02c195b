"""Lesson 1: a tiny character RNN learns "hello", then "ybigta".

A vanilla (tanh) RNN reads a word one character at a time, each character a one-hot vector, and at
every step predicts the next character: it reads "hell" and must answer "ello". Its hidden state is the
only thing that can tell the first "l" (followed by "l") from the second (followed by "o"). The script
trains it with plain SGD on the sum of the per-character cross-entropies and prints, as training goes,
what the network predicts after each character: "h->e e->l l->l l->o" once it has learned the word.
Watch the order in which it learns: first that "l" is usually followed by "l" ("l->l l->l"), and only
later to use its hidden state to answer "o" after the second "l". Then a fresh network learns "ybigta"
(it reads "ybigt" and must answer "bigta"): every input character is different, so it needs no memory
and it gets every prediction right sooner.

    .venv/bin/python demos/01_tiny_char_rnn.py            # full run, pictures in out/demos/01_tiny_char_rnn/
    .venv/bin/python demos/01_tiny_char_rnn.py --quick    # a few seconds

Pictures:
    loss_curves.png   loss per character against epoch for both words, log scale, with the epoch at
                      which every prediction first came out right
    hello_graph.png   the trained "hello" network unrolled over its 4 steps, op by op. The input
                      projection x @ W_ih^T + b is one matmul for all steps; each time step (a cluster,
                      left to right) takes its row (GetItem), adds h @ W_hh^T and applies tanh; W_hh is
                      drawn once with an edge into every step. Each op is coloured by the norm of the
                      loss's gradient with respect to the tensor it makes, and the hidden-state edges
                      are labelled with it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from common import parse_args, save

from tinygrad_seq import Tensor, graph, nn, no_grad, scope
from tinygrad_seq.functional import cross_entropy, one_hot

WORDS = ("hello", "ybigta")


class TinyCharRNN(nn.Module):
    """One-hot characters (T, 1, V) -> tanh RNN with H units -> logits for the next character (T, V)."""

    def __init__(self, vocab_size: int, hidden_size: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.rnn = nn.RNN(vocab_size, hidden_size, rng=rng, dtype=np.float64)
        self.head = nn.Linear(hidden_size, vocab_size, rng=rng, dtype=np.float64)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (T, 1, V) -> (T, 1, H): the hidden state after each character
        return self.head(out[:, 0])  # (T, H) -> (T, V)


def vocabulary(word: str) -> list[str]:
    """The word's characters in order of first appearance: "hello" -> ['h', 'e', 'l', 'o']."""
    return list(dict.fromkeys(word))


def encode(word: str, vocab: list[str]) -> tuple[Tensor, np.ndarray]:
    """(one-hot inputs (T, 1, V) for word[:-1], target indices (T,) for word[1:])."""
    ids = np.array([vocab.index(c) for c in word])
    x = one_hot(ids[:-1, None], len(vocab), dtype=np.float64)  # (T, 1) -> (T, 1, V)
    return x, ids[1:]


def describe(word: str, vocab: list[str], predicted: np.ndarray) -> str:
    """'h->e e->l l->l l->o': each input character and the character predicted to follow it."""
    return " ".join(f"{c}->{vocab[p]}" for c, p in zip(word[:-1], predicted))


def train(word: str, epochs: int, every: int, seed: int, hidden_size: int = 4,
          lr: float = 0.02) -> tuple[TinyCharRNN, dict]:
    """Train a fresh network on `word` with plain SGD; print the predictions every `every` epochs."""
    vocab = vocabulary(word)
    x, targets = encode(word, vocab)
    model = TinyCharRNN(len(vocab), hidden_size, np.random.default_rng(seed))
    opt = nn.optim.SGD(model.parameters(), lr=lr)
    losses, solved_at = [], None
    print(f'\nlearning "{word}": reads "{word[:-1]}", must answer "{word[1:]}" '
          f"(vocabulary {' '.join(vocab)}, {hidden_size} hidden units)")
    for epoch in range(epochs + 1):
        logits = model(x)
        loss = cross_entropy(logits, targets, reduction="sum")  # the sum of the T per-character losses
        predicted = logits.numpy().argmax(axis=1)
        per_char = loss.item() / len(targets)
        losses.append(per_char)
        if solved_at is None and np.array_equal(predicted, targets):
            solved_at = epoch
        if epoch % every == 0 or epoch in (epochs, solved_at):
            note = "  <- all right for the first time" if solved_at == epoch else ""
            print(f"  epoch {epoch:4d}  loss {per_char:6.3f}  {describe(word, vocab, predicted)}{note}")
        if epoch == epochs:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    with no_grad():
        predicted = model(x).numpy().argmax(axis=1)
    accuracy = float(np.mean(predicted == targets))
    print(f'  after {epochs} epochs: answers "{"".join(vocab[p] for p in predicted)}" '
          f"({accuracy:.0%} of the next characters right), loss per character {losses[-1]:.4f}")
    return model, {"losses": losses, "solved_at": solved_at, "accuracy": accuracy, "vocab": vocab}


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args("01_tiny_char_rnn", __doc__, argv)
    epochs, every = (200, 20) if args.quick else (300, 20)
    results, models = {}, {}
    for k, word in enumerate(WORDS):
        models[word], results[word] = train(word, epochs, every, seed=k)

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for word, colour in zip(WORDS, ("tab:blue", "tab:orange")):
        r = results[word]
        ax.plot(r["losses"], color=colour, label=f'"{word}" ({len(word) - 1} steps)')
        if r["solved_at"] is not None:
            s = r["solved_at"]
            ax.plot([s], [r["losses"][s]], "o", color=colour)
            ax.annotate(f"all {len(word) - 1} predictions right\n(epoch {s})", (s, r["losses"][s]),
                        textcoords="offset points", xytext=(12, 8), fontsize=8, color=colour)
    ax.axhline(np.log(4), color="tab:blue", ls=":", lw=1)
    ax.axhline(np.log(6), color="tab:orange", ls=":", lw=1)
    ax.text(epochs, np.log(6), "chance: ln(vocabulary size)", ha="right", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("epoch (one SGD step on the whole word)")
    ax.set_ylabel("cross-entropy per character (nats)")
    ax.set_title("A tiny tanh RNN learns to spell")
    ax.legend()
    save(fig, args.out, "loss_curves.png")

    word = WORDS[0]
    model = models[word]
    x, targets = encode(word, results[word]["vocab"])
    logits = model(x)
    with scope("cross_entropy"):  # the loss's six ops drawn as one box
        loss = cross_entropy(logits, targets, reduction="sum")
    path = graph.render(loss, path=os.path.join(args.out, "hello_graph.png"), params=model,
                        collapse=["cross_entropy"])
    print(f"  wrote {path}")

    return {
        "hello_accuracy": results["hello"]["accuracy"],
        "ybigta_accuracy": results["ybigta"]["accuracy"],
        "hello_loss": results["hello"]["losses"][-1],
        "ybigta_loss": results["ybigta"]["losses"][-1],
        "hello_solved_at": results["hello"]["solved_at"],
        "ybigta_solved_at": results["ybigta"]["solved_at"],
    }


if __name__ == "__main__":
    main()
