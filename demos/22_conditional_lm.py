"""Lesson 22: a conditional language model: an RNN LM whose initial state is a projection of a condition.

    .venv/bin/python demos/22_conditional_lm.py           # 600 steps
    .venv/bin/python demos/22_conditional_lm.py --quick   # 250 steps (CI)

A language model gives p(x_1 .. x_T) = prod_t p(x_t | x_<t). A conditional one gives p(x_1 .. x_T | c)
for a condition c: here the GRU's initial state is h_0 = tanh(W c + b), a learned projection of the
condition vector, and everything else is an ordinary character LM (embedding, GRU, linear read-out). The
condition reaches every prediction through the state the GRU carries on.

The corpus: names in three invented styles, made by rules (loosely Italian, German and Japanese):
syllables such as "lo", "ve" ending in -ino/-ella/-etti/-ona; a cluster, a vowel, a coda and
-mann/-berg/-stein/-er/-feld; kana-like syllables ending in -ko/-moto/-da/-shi. The condition is the
style as a one-hot vector of 3. One model trains on all the names, each with its own style's vector.

What the lesson measures:
  - per-character cross-entropy (bits) of held-out names with the right condition and with a wrong one:
    the condition is worth the difference;
  - the model as a classifier: the style c that gives a held-out name the highest p(name | c);
  - generated names: for each condition, 200 names sampled from the model, checked two ways that do not
    use the model: the rule of each style (does the name follow the rules of the style asked for?), and a
    character-bigram classifier trained on the training names (which style does it think each is?).

Real uses have the same shape, with a richer condition: image captioning (c = a picture's features from
a convolutional network), speech recognition (c = the encoded audio), translation (c = the encoder's
summary of the source sentence: lesson 14's first decoder starts from its encoder's final state).

Picture: ``conditional_lm.png``: bits per character with the right and a wrong condition; which style the
bigram classifier gives the names generated under each condition; samples per condition.
"""

from __future__ import annotations

import math
import re

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq import functional as F

PICTURES = ("conditional_lm.png",)
STYLES = ("Italian-style", "German-style", "Japanese-style")
END = "."  # starts every input and ends every name
ALPHABET = END + "abcdefghijklmnopqrstuvwxyz"
IGNORE = -100
EMBED, HIDDEN, BATCH, LR = 16, 64, 64, 0.01
TRAIN_PER_STYLE, TEST_PER_STYLE, SAMPLES = 1000, 200, 200

# each style: the pieces a name is made of, in order; a piece is drawn from its list ("" can be drawn)
SYLLABLES = tuple(c + v for c in "bcdfglmnprstv" for v in "aeiou")
KANA = ("ka", "ki", "ku", "ko", "sa", "shi", "su", "ta", "to", "na", "ni", "mo", "ya", "yo", "ra", "ri", "ha",
        "hi", "mi")
RULES: dict[str, list[tuple[str, ...]]] = {
    "Italian-style": [SYLLABLES, SYLLABLES, ("ino", "ella", "etti", "ona")],
    "German-style": [("br", "gr", "kr", "st", "schw", "w", "h", "f", "k"),
                     ("a", "e", "i", "o", "u", "ei", "au"), ("n", "r", "l", "ck", "tz", "nd"),
                     ("mann", "berg", "stein", "er", "feld")],
    "Japanese-style": [KANA, KANA, ("",) + KANA, ("ko", "moto", "da", "shi")],
}


def pattern(style: str) -> re.Pattern:
    """The regular expression of the names a style's rule makes."""
    return re.compile("".join("(" + "|".join(sorted(p, key=len, reverse=True)) + ")" for p in RULES[style])
                      + "$")


def make_names(rng: np.random.Generator, style: str, n: int, avoid: set[str] = frozenset()) -> list[str]:
    """`n` different names of a style by its rule, none of them in `avoid`."""
    names: dict[str, None] = {}
    while len(names) < n:
        name = "".join(pieces[rng.integers(len(pieces))] for pieces in RULES[style])
        if name not in avoid:
            names[name] = None
    return list(names)


def rule_probability(name: str, style: str) -> float:
    """The probability that `style`'s rule makes `name`: a sum over the ways of cutting it into pieces."""
    ways = {0: 1.0}  # position in the name -> probability of having made name[:position]
    for pieces in RULES[style]:
        after: dict[int, float] = {}
        for position, p in ways.items():
            for piece in pieces:
                if name.startswith(piece, position):
                    end = position + len(piece)
                    after[end] = after.get(end, 0.0) + p / len(pieces)
        ways = after
    return ways.get(len(name), 0.0)


class ConditionalLM(nn.Module):
    """h_0 = tanh(W c + b), then embedding -> GRU -> linear: ids (T, B), h_0 (1, B, H) -> logits (T, B, V)."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.condition = nn.Linear(len(STYLES), HIDDEN, rng=rng)
        self.embedding = nn.Embedding(len(ALPHABET), EMBED, rng=rng)
        self.rnn = nn.GRU(EMBED, HIDDEN, rng=rng, fused=True)
        self.head = nn.Linear(HIDDEN, len(ALPHABET), rng=rng)

    def initial_state(self, conditions: np.ndarray) -> Tensor:
        return self.condition(Tensor(conditions)).tanh().expand_dims(0)  # (B, C) -> (1, B, H)

    def forward(self, ids: np.ndarray, state: Tensor) -> tuple[Tensor, Tensor]:
        out, state = self.rnn(self.embedding(ids), state)  # (T, B) -> (T, B, E) -> (T, B, H)
        return self.head(out), state  # (T, B, H) -> (T, B, V)


def encode(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (T, B): END then the name, padded; targets (T, B): the name then END, IGNORE after it."""
    T = max(len(n) for n in names) + 1
    inputs = np.zeros((T, len(names)), dtype=np.int64)  # ALPHABET[0] is END
    targets = np.full((T, len(names)), IGNORE, dtype=np.int64)
    for b, name in enumerate(names):
        ids = [ALPHABET.index(c) for c in name]
        inputs[1:len(ids) + 1, b] = ids
        targets[:len(ids), b], targets[len(ids), b] = ids, 0
    return inputs, targets


def one_hot(styles: np.ndarray) -> np.ndarray:
    return np.eye(len(STYLES), dtype=np.float32)[styles]  # (B,) -> (B, C)


def train(data: list[tuple[str, int]], steps: int, seed: int) -> tuple[ConditionalLM, list[float]]:
    rng = np.random.default_rng(seed)
    model = ConditionalLM(rng)
    optimizer = nn.optim.Adam(model.parameters(), lr=LR)
    losses = []
    for _ in range(steps):
        batch = [data[i] for i in rng.integers(0, len(data), BATCH)]
        inputs, targets = encode([name for name, _ in batch])
        logits, _ = model(inputs, model.initial_state(one_hot(np.array([s for _, s in batch]))))
        loss = F.cross_entropy(logits.reshape(-1, len(ALPHABET)), targets.reshape(-1), fused=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


def name_log_probs(model: ConditionalLM, names: list[str], style: int) -> np.ndarray:
    """log p(name + END | style) of each name, in nats: (B,)."""
    inputs, targets = encode(names)
    with no_grad():
        logits, _ = model(inputs, model.initial_state(one_hot(np.full(len(names), style))))
    logp = F.log_softmax(logits, axis=-1).numpy()  # (T, B, V)
    picked = np.take_along_axis(logp, np.maximum(targets, 0)[..., None], axis=-1)[..., 0]  # (T, B)
    return np.where(targets != IGNORE, picked, 0.0).sum(axis=0)


def sample(model: ConditionalLM, style: int, n: int, rng: np.random.Generator,
           longest: int = 24) -> list[str]:
    """`n` names drawn from p(. | style), one character at a time, each fed back as the next input."""
    names = [""] * n
    done = np.zeros(n, dtype=bool)
    ids = np.zeros((1, n), dtype=np.int64)  # END: start
    with no_grad():
        state = model.initial_state(one_hot(np.full(n, style)))
        for _ in range(longest):
            logits, state = model(ids, state)  # (1, n, V)
            p = F.softmax(logits[0], axis=-1).numpy().astype(np.float64)  # (n, V)
            drawn = np.array([rng.choice(len(ALPHABET), p=row / row.sum()) for row in p])
            for b in np.flatnonzero(~done):
                if drawn[b] == 0:
                    done[b] = True
                else:
                    names[b] += ALPHABET[drawn[b]]
            if done.all():
                break
            ids = drawn[None]
    return names


class BigramClassifier:
    """Naive Bayes over character bigrams (with start and end marks), add-one smoothed: a style guesser
    that knows nothing of the LM."""

    def __init__(self, data: list[tuple[str, int]]) -> None:
        size = len(ALPHABET) + 1  # + the start mark
        self.counts = np.ones((len(STYLES), size, size))
        for name, style in data:
            for a, b in self.pairs(name):
                self.counts[style, a, b] += 1
        self.log_p = np.log(self.counts / self.counts.sum(axis=2, keepdims=True))

    @staticmethod
    def pairs(name: str) -> list[tuple[int, int]]:
        ids = [len(ALPHABET)] + [ALPHABET.index(c) for c in name] + [0]
        return list(zip(ids[:-1], ids[1:]))

    def predict(self, name: str) -> int:
        a, b = np.array(self.pairs(name)).T
        return int(self.log_p[:, a, b].sum(axis=1).argmax())


def picture(bits: np.ndarray, floor: np.ndarray, confusion: np.ndarray, samples: dict[int, list[str]]):
    fig = plt.figure(figsize=(16, 5.2))
    grid = fig.add_gridspec(1, 3, width_ratios=[1.1, 1, 1])
    ax = fig.add_subplot(grid[0])
    x = np.arange(len(STYLES))
    right = np.diag(bits)
    wrong = np.array([np.delete(bits[s], s).mean() for s in range(len(STYLES))])
    ax.bar(x - 0.2, right, 0.4, color="tab:green", label="with its own style as the condition")
    ax.bar(x + 0.2, wrong, 0.4, color="tab:red", label="with another style (mean of the two)")
    ax.hlines(floor, x - 0.4, x, color="black", lw=2, label="the rule's own probabilities (the floor)")
    for i in range(len(STYLES)):
        ax.text(i - 0.2, right[i] + 0.05, f"{right[i]:.2f}", ha="center", fontsize=9)
        ax.text(i + 0.2, wrong[i] + 0.05, f"{wrong[i]:.2f}", ha="center", fontsize=9)
    ax.set_xticks(x, [f"{s}\nnames" for s in STYLES], fontsize=9)
    ax.set_ylabel("bits per character, held-out names")
    ax.set_ylim(0, wrong.max() * 1.25)
    ax.set_title("The same names, scored under each condition", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax = fig.add_subplot(grid[1])
    share = confusion / confusion.sum(axis=1, keepdims=True)
    ax.imshow(share, cmap="Greens", vmin=0, vmax=1)
    for i in range(len(STYLES)):
        for j in range(len(STYLES)):
            ax.text(j, i, f"{confusion[i, j]}", ha="center", va="center", fontsize=12,
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(x, [s.replace("-", "-\n") for s in STYLES], fontsize=9)
    ax.set_yticks(x, STYLES, fontsize=9)
    ax.set_xlabel("style the bigram classifier names")
    ax.set_ylabel("condition the names were generated under")
    ax.set_title(f"{SAMPLES} generated names per condition", fontsize=10)
    ax = fig.add_subplot(grid[2])
    ax.axis("off")
    lines = []
    for s, names in samples.items():
        marked = [n if pattern(STYLES[s]).match(n) else n + "*" for n in names[:12]]
        lines += [f"{STYLES[s]}:"] + ["  " + ", ".join(marked[i:i + 3]) for i in range(0, 12, 3)] + [""]
    lines.append("* breaks the rule of its style")
    ax.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=10, transform=ax.transAxes)
    ax.set_title("The first names sampled under each condition", fontsize=10)
    return fig


def main(argv=None) -> dict:
    args = parse_args("22_conditional_lm", __doc__, argv)
    steps = 250 if args.quick else 600
    rng = np.random.default_rng(0)
    train_names = {s: make_names(rng, style, TRAIN_PER_STYLE) for s, style in enumerate(STYLES)}
    seen = {name for names in train_names.values() for name in names}
    test_names = {s: make_names(rng, style, TEST_PER_STYLE, avoid=seen) for s, style in enumerate(STYLES)}
    data = [(name, s) for s, names in train_names.items() for name in names]
    print(f"{len(data)} training names in {len(STYLES)} styles, e.g. "
          + ", ".join(f"{names[0]} ({STYLES[s]})" for s, names in train_names.items()))
    print(f"A GRU LM (hidden {HIDDEN}) with h_0 = tanh(W c + b), c the style as one-hot; {steps} steps of "
          f"Adam, batches of {BATCH}.\n")
    model, losses = train(data, steps, seed=0)

    lengths = {s: sum(len(n) + 1 for n in names) for s, names in test_names.items()}
    logp = {s: np.stack([name_log_probs(model, names, c) for c in range(len(STYLES))])  # (C, B)
            for s, names in test_names.items()}
    bits = np.array([[-logp[s][c].sum() / lengths[s] / math.log(2) for c in range(len(STYLES))]
                     for s in range(len(STYLES))])  # bits[true style, condition]
    identified = np.mean(np.concatenate([logp[s].argmax(axis=0) == s for s in logp]))
    floor = np.array([-sum(math.log2(rule_probability(n, STYLES[s])) for n in names) / lengths[s]
                      for s, names in test_names.items()])  # the rule's own bits per character
    print("Bits per character of held-out names (rows: the names' style; columns: the condition given):")
    print(f"  {'':<16}" + "".join(f"{s:>16}" for s in STYLES) + f"{'the rule itself':>17}")
    for s in range(len(STYLES)):
        print(f"  {STYLES[s]:<16}" + "".join(f"{b:>16.2f}" for b in bits[s]) + f"{floor[s]:>17.2f}")
    right = float(np.mean(np.diag(bits)))
    wrong = float(np.mean(bits[~np.eye(len(STYLES), dtype=bool)]))
    print(f"  Mean: {right:.2f} bits with the right condition, {wrong:.2f} with a wrong one; the rules that "
          f"made the names\n  give them {floor.mean():.2f} bits (the probabilities they were drawn with). "
          f"Choosing the style that makes\n  a held-out name most likely names its style for "
          f"{identified:.1%} of them.\n")

    classifier = BigramClassifier(data)
    sample_rng = np.random.default_rng(1)
    confusion = np.zeros((len(STYLES), len(STYLES)), dtype=int)
    follows, novel, samples = 0, 0, {}
    for s, style in enumerate(STYLES):
        names = sample(model, s, SAMPLES, sample_rng)
        samples[s] = names
        for name in names:
            confusion[s, classifier.predict(name)] += 1
        follows += sum(bool(pattern(style).match(n)) for n in names)
        novel += sum(n not in seen for n in names)
        print(f"  generated under {style:<15} {', '.join(names[:8])}")
    total = SAMPLES * len(STYLES)
    generated_accuracy = float(np.trace(confusion) / total)
    held_out = classifier_accuracy(classifier, test_names)
    print(f"\n  The bigram classifier (trained on the training names, {held_out:.1%} right on held-out "
          f"ones)\n  names the condition of {generated_accuracy:.1%} of the {total} generated names; "
          f"{follows / total:.1%} follow their style's\n  rule exactly, and {novel / total:.1%} are not in "
          "the training names.")
    save(picture(bits, floor, confusion, samples), args.out, "conditional_lm.png")
    return {"bits_right": right, "bits_wrong": wrong, "bits": bits.tolist(), "identified": float(identified),
            "bits_rule": float(floor.mean()), "rule_bits": floor.tolist(),
            "generated_accuracy": generated_accuracy, "follows_rule": follows / total, "novel": novel / total,
            "confusion": confusion.tolist(), "classifier_accuracy": held_out,
            "final_loss": float(np.mean(losses[-20:]))}


def classifier_accuracy(classifier: BigramClassifier, names: dict[int, list[str]]) -> float:
    """The share of `names` (style -> names) whose style the classifier names."""
    return float(np.mean([classifier.predict(n) == s for s, group in names.items() for n in group]))


def readme_figures(r: dict) -> dict[str, str]:
    return {"right": f"{r['bits_right']:.2f} bits", "wrong": f"{r['bits_wrong']:.2f}",
            "rule": f"{r['bits_rule']:.2f}",
            "identified": f"{r['identified']:.1%}", "generated": f"{r['generated_accuracy']:.1%}",
            "follows": f"{r['follows_rule']:.1%}", "novel": f"{r['novel']:.1%}",
            "classifier": f"{r['classifier_accuracy']:.1%}"}


if __name__ == "__main__":
    main()
