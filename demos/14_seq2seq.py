"""Lesson 14: sequence to sequence when the lengths differ: an encoder-decoder, then with attention.

    .venv/bin/python demos/14_seq2seq.py           # 1000 training steps per model
    .venv/bin/python demos/14_seq2seq.py --quick   # 300 steps (CI)

A toy translation: a number written in digits becomes the same number in English words,
"307" -> "three hundred seven", "42" -> "forty two", "13" -> "thirteen". The output's length differs
from the input's and depends on the digits (1 to 3 digits in, 1 to 4 words out), so the decoder has
to decide when it is done: every target ends with ``<eos>``, and at test time the decoder writes
greedily, feeding each word back, until it writes ``<eos>``. 15% of the numbers 1-999 are held out.

1. RNN encoder-decoder: an LSTM reads the digits; its final (h, c) is everything the decoder LSTM
   gets. The decoder starts from that state and the start token ``<s>``, and is trained with teacher
   forcing (fed the true previous word).
2. A decoder with (Luong, dot-product) attention and nothing else: it starts from the zero state and
   reads the digits only through attention. The memory it reads is each digit's embedding plus an
   embedding of its place (ones, tens, hundreds). At every output step the decoder's hidden state
   scores each digit, the softmax of the scores weights them into a context vector, and the word is
   read from [context; decoder state]. The weights are an alignment: which digits each word was read
   from ("three" and "hundred" from the hundreds digit, "forty" from the tens, a teen word from the
   last two). (Attending over an LSTM encoder's outputs instead, the weights need not align: the last
   output already summarises every digit.)

Pictures: ``seq2seq.png``: held-out accuracy during training for both models; each unrolled test
example as text; the attention model's alignment map for a few held-out numbers.
"""

from __future__ import annotations

import numpy as np
from common import parse_args, plt, save

import tinygrad_seq as ts
from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq.functional import cross_entropy, softmax

PICTURES = ("seq2seq.png",)
ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
WORDS = ["<s>", "<eos>", "hundred"] + ONES[1:] + TEENS + TENS[2:]
W = {w: i for i, w in enumerate(WORDS)}
START, EOS, IGNORE = W["<s>"], W["<eos>"], -100
HIDDEN, EMBED, BATCH, LR = 64, 16, 32, 0.01


def in_words(n: int) -> list[str]:
    """1 <= n <= 999 in English words: 307 -> ['three', 'hundred', 'seven']."""
    hundreds, rest = divmod(n, 100)
    words = [ONES[hundreds], "hundred"] if hundreds else []
    if 10 <= rest < 20:
        words.append(TEENS[rest - 10])
    else:
        tens, ones = divmod(rest, 10)
        words += [TENS[tens]] if tens else []
        words += [ONES[ones]] if ones else []
    return words


class Translator(nn.Module):
    """Digits -> encoder LSTM -> (h, c) -> decoder LSTM -> words; optionally attention over the digits."""

    def __init__(self, attention: bool, rng: np.random.Generator) -> None:
        super().__init__()
        self.attention = attention
        self.src_embed = nn.Embedding(10, EMBED, rng=rng)
        self.tgt_embed = nn.Embedding(len(WORDS), EMBED, rng=rng)
        self.encoder = nn.LSTM(EMBED, HIDDEN, forget_bias=1.0, rng=rng, fused=True)
        self.decoder = nn.LSTM(EMBED, HIDDEN, forget_bias=1.0, rng=rng, fused=True)
        self.place = nn.Embedding(3, EMBED, rng=rng) if attention else None  # ones, tens, hundreds
        self.memory = nn.Linear(EMBED, HIDDEN, rng=rng) if attention else None
        self.combine = nn.Linear(2 * HIDDEN, HIDDEN, rng=rng) if attention else None
        self.head = nn.Linear(HIDDEN, len(WORDS), rng=rng)

    def encode(self, src: np.ndarray):
        """(what attention reads (S, B, H), the decoder's first state): the encoder's final (h, c)
        without attention; with it, each digit's embedding plus its place's, and the zero state."""
        if not self.attention:
            return self.encoder(self.src_embed(src))  # (S, B) -> outputs (S, B, H), final (h, c)
        places = np.arange(src.shape[0])[::-1, None] * np.ones_like(src)  # (S, B): 0 for the last digit
        return self.memory(self.src_embed(src) + self.place(places)), None  # (S, B, E) -> (S, B, H)

    def read_out(self, dec: Tensor, enc: Tensor) -> tuple[Tensor, Tensor | None]:
        """Logits (T, B, V) from decoder states (T, B, H), and the attention weights (B, T, S) if any."""
        if not self.attention:
            return self.head(dec), None
        scores = dec.transpose(1, 0, 2) @ enc.transpose(1, 2, 0)  # (B, T, H) @ (B, H, S) -> (B, T, S)
        weights = softmax(scores, axis=-1)
        context = (weights @ enc.transpose(1, 0, 2)).transpose(1, 0, 2)  # (B, T, S) @ (B, S, H) -> (T, B, H)
        mixed = self.combine(ts.concatenate([context, dec], axis=-1)).tanh()  # (T, B, 2H) -> (T, B, H)
        return self.head(mixed), weights

    def forward(self, src: np.ndarray, dec_in: np.ndarray) -> Tensor:
        enc, state = self.encode(src)
        dec, _ = self.decoder(self.tgt_embed(dec_in), state)  # teacher forcing: (T, B) -> (T, B, H)
        return self.read_out(dec, enc)[0]

    def translate(self, src: np.ndarray, max_words: int = 8) -> tuple[list[list[int]], np.ndarray]:
        """Greedy decoding until <eos> for a batch of same-length inputs (S, B): the words of each, and
        the attention weights (B, steps, S) (zeros without attention)."""
        with no_grad():
            enc, state = self.encode(src)
            prev = np.full((1, src.shape[1]), START)
            words, weights = [], []
            for _ in range(max_words):
                dec, state = self.decoder(self.tgt_embed(prev), state)  # one step: (1, B, H)
                logits, w = self.read_out(dec, enc)
                prev = logits.numpy().argmax(-1)  # (1, B)
                words.append(prev[0])
                weights.append(w.numpy()[:, 0] if w is not None else np.zeros((src.shape[1], src.shape[0])))
        words, weights = np.array(words).T, np.stack(weights, axis=1)  # (B, steps), (B, steps, S)
        out = []
        for row in words:
            ends = np.flatnonzero(row == EOS)
            out.append(row[: ends[0]].tolist() if ends.size else row.tolist() + [-1])  # -1: never ended
        return out, weights


def digits(n: int) -> list[int]:
    return [int(c) for c in str(n)]


def make_batch(numbers: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A batch of numbers with the same digit count: src (S, B), decoder input and target (T, B)."""
    length = rng.choice([1, 2, 3], p=[9 / 999, 90 / 999, 900 / 999])
    pool = numbers[(numbers >= 10 ** (length - 1)) & (numbers < 10**length)]
    chosen = rng.choice(pool, size=BATCH)
    src = np.array([digits(n) for n in chosen]).T  # (S, B)
    targets = [[W[w] for w in in_words(n)] + [EOS] for n in chosen]
    T = max(map(len, targets))
    dec_in, tgt = np.full((T, BATCH), EOS), np.full((T, BATCH), IGNORE)
    for b, t in enumerate(targets):
        dec_in[: len(t), b] = [START] + t[:-1]
        tgt[: len(t), b] = t
    return src, dec_in, tgt


def accuracy(model: Translator, numbers: np.ndarray) -> float:
    """The share of `numbers` translated exactly (every word, then <eos>)."""
    right = 0
    for length in (1, 2, 3):
        group = numbers[(numbers >= 10 ** (length - 1)) & (numbers < 10**length)]
        if group.size:
            out, _ = model.translate(np.array([digits(n) for n in group]).T)
            right += sum(o == [W[w] for w in in_words(n)] for o, n in zip(out, group))
    return right / len(numbers)


def train(attention: bool, steps: int, train_set: np.ndarray, test_set: np.ndarray, seed: int = 0):
    rng = np.random.default_rng(seed)
    model = Translator(attention, rng)
    opt = nn.optim.Adam(model.parameters(), lr=LR)
    curve, every = [], max(1, steps // 15)
    for step in range(1, steps + 1):
        src, dec_in, tgt = make_batch(train_set, rng)
        logits = model(src, dec_in)  # (T, B, V)
        loss = cross_entropy(logits.reshape(-1, len(WORDS)), tgt.reshape(-1))  # padding ignored
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % every == 0 or step == steps:
            curve.append((step, accuracy(model, test_set)))
    return model, curve


def first_step(curve: list[tuple[int, float]], level: float) -> int | None:
    """The first measured step whose accuracy reached `level` (None if none did)."""
    return next((step for step, acc in curve if acc >= level), None)


def named_digits(n: int) -> list[list[int]]:
    """For each word of n in words, the input positions of the digit(s) it names: 307 -> [[0], [0], [2]]
    (three, hundred, seven); 813 -> [[0], [0], [1, 2]] (a teen word names the last two)."""
    s, out = str(n), []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        out += [[0], [0]]
    if 10 <= rest < 20:
        out.append([len(s) - 2, len(s) - 1])
    else:
        out += [[len(s) - 2]] if rest >= 20 else []
        out += [[len(s) - 1]] if rest % 10 else []
    return out


def named_digit_weight(model: Translator, numbers: np.ndarray) -> tuple[float, int]:
    """Mean attention weight on the digit(s) each word names, over the words of correct translations."""
    weights_on = []
    for length in (1, 2, 3):
        group = numbers[(numbers >= 10 ** (length - 1)) & (numbers < 10**length)]
        out, weights = model.translate(np.array([digits(n) for n in group]).T)
        for n, o, w in zip(group, out, weights):
            if o == [W[x] for x in in_words(n)]:
                weights_on += [w[t, cols].sum() for t, cols in enumerate(named_digits(n))]
    return float(np.mean(weights_on)), len(weights_on)


def picture(curves: dict, model: Translator, shown: list[int]):
    fig = plt.figure(figsize=(11 + 3 * len(shown) / 2, 4.8))
    grid = fig.add_gridspec(1, 1 + len(shown), width_ratios=[2.2] + [1] * len(shown))
    ax = fig.add_subplot(grid[0])
    for (name, curve), colour in zip(curves.items(), ("tab:gray", "tab:blue")):
        steps, accs = zip(*curve)
        ax.plot(steps, accs, "o-", ms=3, color=colour, lw=2, label=f"{name}: {accs[-1]:.0%}")
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out numbers translated exactly")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title("Digits -> words, greedy decoding until <eos>", fontsize=10)
    for k, n in enumerate(shown):
        out, weights = model.translate(np.array(digits(n))[:, None])
        words = [WORDS[i] for i in out[0] if i >= 0] + ["<eos>"]
        truth = in_words(n) + ["<eos>"]
        right = words == truth
        a = fig.add_subplot(grid[k + 1])
        a.imshow(weights[0, : len(words)], cmap="Blues", vmin=0, vmax=1, aspect="auto")
        a.set_xticks(range(len(str(n))), list(str(n)))
        a.set_yticks(range(len(words)), words, fontsize=9)
        for t, label in enumerate(a.get_yticklabels()):  # a wrong word in red
            if t >= len(truth) or words[t] != truth[t]:
                label.set_color("tab:red")
                label.set_fontweight("bold")
        for (i, j), v in np.ndenumerate(weights[0, : len(words)]):
            a.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                   color="white" if v > 0.6 else "black")
        title = f"{n}: attention" if right else f"{n}: wrong (in red)\nshould be: {' '.join(in_words(n))}"
        a.set_title(title, fontsize=10 if right else 9, color="black" if right else "tab:red")
        a.set_xlabel("input digit")
    return fig


def main(argv=None) -> dict:
    args = parse_args("14_seq2seq", __doc__, argv)
    steps = 300 if args.quick else 1000
    numbers = np.random.default_rng(0).permutation(np.arange(1, 1000))
    test_set, train_set = np.sort(numbers[:150]), numbers[150:]
    print(f"Numbers 1-999 in digits -> in words; {len(train_set)} to train on, {len(test_set)} held out. "
          f"{steps} steps of Adam, batch {BATCH}.")
    curves, models = {}, {}
    for name, attention in (("encoder-decoder", False), ("with attention", True)):
        models[name], curves[name] = train(attention, steps, train_set, test_set)
        reached = first_step(curves[name], 0.9)
        print(f"  {name:16} held-out numbers translated exactly: {curves[name][-1][1]:.1%} "
              f"(90% first reached at step {reached})")
    model = models["with attention"]
    kinds = (lambda n: n >= 100 and n % 100 >= 20 and n % 10, lambda n: n >= 100 and 10 <= n % 100 < 20,
             lambda n: 20 < n < 100 and n % 10)  # three digits, a teen after hundreds, two digits
    wrong = [int(n) for n in test_set if model.translate(np.array(digits(n))[:, None])[0][0] !=
             [W[w] for w in in_words(n)]]
    shown = [int(next(n for n in test_set if kind(n))) for kind in kinds]
    shown += [n for n in wrong[:1] if n not in shown]  # a wrong translation is drawn too, if there is one
    print("\n  held-out examples (greedy until <eos>):")
    for n in shown:
        outs = {name: m.translate(np.array(digits(n))[:, None])[0][0] for name, m in models.items()}
        said = {name: " ".join(WORDS[i] if i >= 0 else "..." for i in o) for name, o in outs.items()}
        print(f"    {n:>4} -> " + "   |   ".join(f"{name}: {text}" for name, text in said.items()))
    teens = sum(10 <= n % 100 < 20 for n in wrong)
    print(f"\n  The attention model's {len(wrong)} wrong translations include {teens} teens:"
          f" a teen word needs two digits,\n  and its attention has settled on one of them.")
    on_named, count = named_digit_weight(model, test_set)
    print(f"\n  Writing a word, the attention model puts {on_named:.0%} of its weight on the digit(s) that "
          f"word names\n  (mean over the {count} words of the held-out translations it got right).")
    save(picture(curves, model, shown), args.out, "seq2seq.png")
    return {"plain_accuracy": curves["encoder-decoder"][-1][1],
            "attention_accuracy": curves["with attention"][-1][1],
            "weight_on_named_digit": on_named, "shown": shown, "steps": steps,
            "attention_wrong": len(wrong), "attention_wrong_teens": teens,
            "plain_steps_to_90": first_step(curves["encoder-decoder"], 0.9),
            "attention_steps_to_90": first_step(curves["with attention"], 0.9),
            "test_size": len(test_set)}


def readme_figures(r: dict) -> dict[str, str]:
    return {"plain": f"{r['plain_accuracy']:.1%}", "attention": f"{r['attention_accuracy']:.1%}",
            "named": f"{r['weight_on_named_digit']:.0%}",
            "wrong": f"{r['attention_wrong']} wrong translations include {r['attention_wrong_teens']} teens",
            "reached": f"step {r['attention_steps_to_90']} against {r['plain_steps_to_90']}"}


if __name__ == "__main__":
    main()
