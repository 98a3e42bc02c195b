"""Lesson 1: a tiny character RNN learns "hello", then "ybigta".

A vanilla (tanh) RNN reads a word one character at a time, each character a one-hot vector, and at
every step predicts the next character: it reads "hell" and must answer "ello". Its hidden state is the
only thing that can tell the first "l" (followed by "l") from the second (followed by "o"). The script
trains it with plain SGD on the sum of the per-character cross-entropies and prints, as training goes,
what the network predicts after each character: "h->e e->l l->l l->o" once it has learned the word.
Watch the order in which it learns. In "hello", "l" is followed once by "l" and once by "o": a network
that looked only at the current character would have to give both "l"s the same answer, and this one
does once it has learned which characters follow which ("l->l l->l"; the untrained network's answers
are arbitrary); only later does it use its hidden state to answer "o" after the second
"l". Then a fresh network learns "ybigta" (it reads "ybigt" and must answer "bigta"): every input
character is different, so it needs no memory and it gets every prediction right sooner.

Last, the trained network generates: it starts from "h" and the zero state, and each predicted
character (the most likely one) is fed back as the next input.

    .venv/bin/python demos/01_tiny_char_rnn.py            # full run, pictures in out/demos/01_tiny_char_rnn/
    .venv/bin/python demos/01_tiny_char_rnn.py --quick    # a few seconds

Pictures:
    hello_unrolled.png  the trained "hello" network as in the lecture notes: at each step the one-hot
                      input, the hidden values tanh(W_ih x + W_hh h + b) and the softmax over
                      {h, e, l, o} (softmax(W_hy h + b_y)), the target outlined; each arrow labelled
                      with its weight matrix, the same three at every step; then generation from "h",
                      each prediction fed back as the next input
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

PICTURES = ("hello_unrolled.png", "hello_graph.png", "loss_curves.png")

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
    losses, solved_at, same_from, untrained = [], None, None, ""
    print(f'\nlearning "{word}": reads "{word[:-1]}", must answer "{word[1:]}" '
          f"(vocabulary {' '.join(vocab)}, {hidden_size} hidden units)")
    for epoch in range(epochs + 1):
        logits = model(x)
        loss = cross_entropy(logits, targets, reduction="sum")  # the sum of the T per-character losses
        predicted = logits.numpy().argmax(axis=1)
        per_char = loss.item() / len(targets)
        losses.append(per_char)
        if epoch == 0:
            untrained = describe(word, vocab, predicted)
        if same_from is None and solved_at is None and repeats_agree(word, predicted):
            same_from = epoch  # one answer for both "l"s: the current character alone decides
        if solved_at is None and np.array_equal(predicted, targets):
            solved_at = epoch
        if epoch % every == 0 or epoch in (epochs, solved_at, same_from):
            note = ("  <- all right for the first time" if solved_at == epoch else
                    "  <- one answer for each repeated character" if same_from == epoch else "")
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
    return model, {"losses": losses, "solved_at": solved_at, "accuracy": accuracy, "vocab": vocab,
                   "untrained": untrained, "same_from": same_from}


def repeats_agree(word: str, predicted: np.ndarray) -> bool:
    """Whether every input character that occurs twice gets one answer (both "l"s of "hell" -> the same)."""
    answers: dict[str, set[int]] = {}
    for c, p in zip(word[:-1], predicted):
        answers.setdefault(c, set()).add(int(p))
    repeated = [a for c, a in answers.items() if word[:-1].count(c) > 1]
    return bool(repeated) and all(len(a) == 1 for a in repeated)


def step_values(model: TinyCharRNN, ids: list[int], vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(hidden states (T, H), softmax outputs (T, V)) while reading the characters `ids`."""
    with no_grad():
        x = one_hot(np.array(ids)[:, None], vocab_size, dtype=np.float64)  # (T, 1) -> (T, 1, V)
        h, _ = model.rnn(x)  # (T, 1, H)
        logits = model.head(h[:, 0]).numpy()  # (T, V)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return h.numpy()[:, 0], p / p.sum(axis=1, keepdims=True)


def generate(model: TinyCharRNN, vocab: list[str], start: str, length: int) -> list[int]:
    """Greedy generation: from `start` and the zero state, each most likely character fed back."""
    ids, state = [vocab.index(start)], None
    with no_grad():
        for _ in range(length):
            x = one_hot(np.array([[ids[-1]]]), len(vocab), dtype=np.float64)  # (1, 1, V)
            h, state = model.rnn(x, state)
            ids.append(int(model.head(h[:, 0]).numpy().argmax()))
    return ids


def draw_steps(ax, vocab: list[str], inputs: list[int], hidden: np.ndarray, probs: np.ndarray,
               targets: list[int] | None, title: str) -> None:
    """Columns of (one-hot input, hidden values, softmax over the vocabulary), as in the lecture notes.

    Inputs orange where 1; hidden values coloured by sign (blue < 0 < red); output probabilities as
    bars, the target's cell outlined green (right: it has the largest probability) or red.
    """
    from matplotlib.patches import FancyArrowPatch, Rectangle

    V, H = len(vocab), hidden.shape[1]
    cell, gap = 0.42, 2.4  # cell height, distance between steps
    rows = {"out": 2 * (H + 1) * cell + 0.4, "hid": (V + 1) * cell + 0.2, "in": 0.0}

    def arrow(x0, y0, x1, y1, **kw):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=9, lw=1, **kw))

    def label_rows(x0, y, n):  # the vocabulary next to a column
        for v in range(n):
            ax.text(x0 - 0.08, y + (n - 1 - v + 0.5) * cell, vocab[v], ha="right", va="center", fontsize=8,
                    color="#666666")

    for t, (i, h, p) in enumerate(zip(inputs, hidden, probs)):
        x0 = t * gap
        for v in range(V):  # the one-hot input, first character on top
            y = rows["in"] + (V - 1 - v) * cell
            ax.add_patch(Rectangle((x0, y), 0.5, cell, fc="#fdae6b" if v == i else "white", ec="black",
                                   lw=0.8))
            ax.text(x0 + 0.25, y + cell / 2, "1" if v == i else "0", ha="center", va="center", fontsize=8)
        label_rows(x0, rows["in"], V)
        for k, value in enumerate(h):  # the hidden values, red > 0 > blue
            y = rows["hid"] + (H - 1 - k) * cell
            a = 0.65 * min(abs(float(value)), 1.0)  # light enough to read the number on it
            colour = (1, 1 - a, 1 - a) if value > 0 else (1 - a, 1 - a, 1)
            ax.add_patch(Rectangle((x0, y), 0.5, cell, fc=colour, ec="black", lw=0.8))
            ax.text(x0 + 0.25, y + cell / 2, f"{value:+.1f}", ha="center", va="center", fontsize=7.5)
        best = int(np.argmax(p))
        for v in range(V):  # the softmax over the vocabulary: a bar per character
            y = rows["out"] + (V - 1 - v) * cell
            target = targets is not None and v == targets[t]
            edge = ("tab:green" if best == v else "tab:red") if target else "black"
            ax.add_patch(Rectangle((x0, y), 1.2, cell, fc="white", ec=edge, lw=2.2 if target else 0.8))
            ax.add_patch(Rectangle((x0, y + 0.06), 1.2 * p[v], cell - 0.12, fc="#9ecae1", ec="none"))
            ax.text(x0 + 0.6, y + cell / 2, f"{p[v]:.2f}", ha="center", va="center", fontsize=7.5,
                    fontweight="bold" if best == v else "normal")
        label_rows(x0, rows["out"], V)
        arrow(x0 + 0.25, rows["in"] + V * cell + 0.02, x0 + 0.25, rows["hid"] - 0.02, color="tab:brown")
        arrow(x0 + 0.25, rows["hid"] + H * cell + 0.02, x0 + 0.25, rows["out"] - 0.02, color="tab:olive")
        # the same three weight matrices at every step: W_ih (input), W_hh (recurrence), W_hy (readout)
        ax.text(x0 + 0.33, (rows["in"] + V * cell + rows["hid"]) / 2, "W_ih", fontsize=7.5, va="center",
                color="tab:brown")
        ax.text(x0 + 0.33, (rows["hid"] + H * cell + rows["out"]) / 2, "W_hy", fontsize=7.5, va="center",
                color="tab:olive")
        if t + 1 < len(inputs):
            arrow(x0 + 0.55, rows["hid"] + H * cell / 2, x0 + gap - 0.05, rows["hid"] + H * cell / 2,
                  color="tab:purple")
            ax.text(x0 + 0.55 + (gap - 0.6) * 0.3, rows["hid"] + H * cell / 2 + 0.12, "W_hh", fontsize=7.5,
                    color="tab:purple", ha="center")
            if targets is None:  # generation: the prediction becomes the next input
                arrow(x0 + 1.25, rows["out"] + V * cell / 2, x0 + gap - 0.3, rows["in"] + V * cell / 2,
                      color="gray", ls="--")
        if targets is not None:
            label, colour = f"target {vocab[targets[t]]}", "tab:green" if best == targets[t] else "tab:red"
        else:
            label, colour = f"predicts {vocab[best]}", "black"
        ax.text(x0 + 0.6, rows["out"] + V * cell + 0.12, label, ha="center", fontsize=9, color=colour)
    for name, y, n in (("input (one-hot)", rows["in"], V), ("hidden h_t", rows["hid"], H),
                       ("softmax", rows["out"], V)):
        ax.text(-0.75, y + n * cell / 2, name, ha="right", va="center", fontsize=9, rotation=90)
    ax.set_xlim(-1.2, (len(inputs) - 1) * gap + 1.4)
    ax.set_ylim(-0.2, rows["out"] + V * cell + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


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

    vocab = results[word]["vocab"]
    ids = [vocab.index(c) for c in word]
    hidden, probs = step_values(model, ids[:-1], len(vocab))
    generated = generate(model, vocab, "h", len(word) - 1)
    g_hidden, g_probs = step_values(model, generated[:-1], len(vocab))
    text = "".join(vocab[i] for i in generated)
    print(f'\n  generation from "h", each prediction fed back: "{text}"')
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 10.5))
    draw_steps(top, vocab, ids[:-1], hidden, probs, ids[1:],
               'Training: input "hell", targets "ello" (outlined: green when it is the most likely)')
    draw_steps(bottom, vocab, generated[:-1], g_hidden, g_probs, None,
               f'Generation from "h": each prediction fed back as the next input -> "{text}"')
    save(fig, args.out, "hello_unrolled.png")

    return {
        "generated": text,
        "target_probabilities": [float(probs[t, i]) for t, i in enumerate(ids[1:])],
        "hello_accuracy": results["hello"]["accuracy"],
        "ybigta_accuracy": results["ybigta"]["accuracy"],
        "hello_loss": results["hello"]["losses"][-1],
        "ybigta_loss": results["ybigta"]["losses"][-1],
        "hello_solved_at": results["hello"]["solved_at"],
        "ybigta_solved_at": results["ybigta"]["solved_at"],
        "hello_untrained": results["hello"]["untrained"],
        "hello_same_from": results["hello"]["same_from"],
    }


def readme_figures(r: dict) -> dict[str, str]:
    return {"hello_untrained": r["hello_untrained"], "hello_same_from": f"from epoch {r['hello_same_from']}",
            "hello_solved": f"epoch {r['hello_solved_at']}",
            "ybigta_solved": f"epoch {r['ybigta_solved_at']}"}


if __name__ == "__main__":
    main()
