"""Lesson 7: the four shapes of a recurrent network, each on a toy task it learns.

    .venv/bin/python demos/07_rnn_shapes.py           # the four tasks, trained properly
    .venv/bin/python demos/07_rnn_shapes.py --quick   # shorter training, smaller tasks (CI)

The same LSTM loop over time serves four kinds of problem; only what goes in and what is read out change:

1. one-to-many (generation): from one start digit d, write d+1, d+2, ..., 9 and then "." (stop).
   The model's own output is fed back as its next input (teacher forcing while training: the true
   previous symbol is fed instead), so it decides when to stop.
2. many-to-one (classification): read 9 numbers from {-3, -1, +1, +3} and say whether their sum is
   positive or negative; only the last hidden state is read out.
3. many-to-many, aligned (tagging): under each digit write "^" if it is greater than the digit before
   it, "-" if not; one read-out per position.
4. many-to-many, encoder-decoder (sequence to sequence): reverse a string of digits. An encoder LSTM
   reads the string; its final state (h, c) is the whole message passed on; a decoder LSTM starts from
   it and writes the reversed string, fed the true previous digit while training (teacher forcing)
   and its own greedy choice at test time.

Pictures: one per shape, ``1_one_to_many.png`` ... ``4_encoder_decoder.png``: the training curve and one
test example drawn as the unrolled network (inputs at the bottom, LSTM steps in the middle,
predictions on top: green when right, red when wrong), with a few more examples as text; and
``0_all_shapes.png``, the four unrolled examples side by side.
"""

from __future__ import annotations

import numpy as np
from common import parse_args, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq.functional import cross_entropy

PICTURES = ("0_all_shapes.png",)
STOP = 10  # "." ends a generated count
START = 10  # the decoder's first input in the encoder-decoder task
DIGITS = "0123456789"


def digit(i: int) -> str:
    return DIGITS[i] if i < 10 else "."


class Seq(nn.Module):
    """Embedding -> LSTM -> Linear: the body shared by the first three shapes."""

    def __init__(self, vocab: int, classes: int, hidden: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8, rng=rng)
        self.lstm = nn.LSTM(8, hidden, forget_bias=1.0, rng=rng, fused=True)
        self.head = nn.Linear(hidden, classes, rng=rng)

    def forward(self, ids: np.ndarray, state=None):
        out, state = self.lstm(self.embed(ids), state)  # (T, B) ids -> (T, B, E) -> (T, B, H)
        return self.head(out), state  # (T, B, classes)


class Seq2Seq(nn.Module):
    """An encoder LSTM whose final (h, c) starts a decoder LSTM; a read-out of the decoder's states."""

    def __init__(self, hidden: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.embed = nn.Embedding(11, 8, rng=rng)  # digits and START
        self.encoder = nn.LSTM(8, hidden, forget_bias=1.0, rng=rng, fused=True)
        self.decoder = nn.LSTM(8, hidden, forget_bias=1.0, rng=rng, fused=True)
        self.head = nn.Linear(hidden, 10, rng=rng)

    def encode(self, src: np.ndarray):
        _, state = self.encoder(self.embed(src))  # (T, B) -> final (h, c), each (1, B, H)
        return state

    def forward(self, src: np.ndarray, dec_in: np.ndarray) -> Tensor:
        out, _ = self.decoder(self.embed(dec_in), self.encode(src))  # (T, B, H)
        return self.head(out)  # (T, B, 10)

    def greedy(self, src: np.ndarray) -> np.ndarray:
        """Decode len(src) digits, each step fed the previous step's most likely digit."""
        with no_grad():
            state = self.encode(src)
            prev = np.full((1, src.shape[1]), START)
            outs = []
            for _ in range(src.shape[0]):
                out, state = self.decoder(self.embed(prev), state)
                prev = self.head(out).numpy().argmax(-1)  # (1, B)
                outs.append(prev[0])
        return np.stack(outs)  # (T, B)


# ---------------------------------------------------------------------------------------------
# the four tasks: each has make (a batch), train_step inputs, and a test that returns examples
# ---------------------------------------------------------------------------------------------


def count_targets(d: int) -> list[int]:
    return list(range(d + 1, 10)) + [STOP]


class OneToMany:
    title = "one-to-many: count up from a digit, then stop"
    use = "as image captioning: one input, a sequence out"
    shown = 4  # the example drawn: start at 4
    measure = "counts generated exactly (all 10 starts)"
    tested_on = "all 10 starts, each also trained on"  # there are only ten inputs: none is held out

    def __init__(self, quick: bool, rng: np.random.Generator) -> None:
        self.model = Seq(vocab=11, classes=11, hidden=16 if quick else 24, rng=rng)
        self.lr = 0.03

    def loss(self, rng: np.random.Generator, batch: int) -> Tensor:
        # teacher forcing: inputs d, d+1, ..., 9 (the true previous outputs); targets d+1, ..., 9, "."
        starts = rng.integers(0, 10, batch)
        T = 10 - starts.min()
        inputs, targets = np.zeros((T, batch), dtype=int), np.full((T, batch), -100)
        for b, d in enumerate(starts):
            seq = [d] + count_targets(d)
            inputs[: len(seq) - 1, b], targets[: len(seq) - 1, b] = seq[:-1], seq[1:]
        logits, _ = self.model(inputs)
        return cross_entropy(logits.reshape(-1, 11), targets.reshape(-1))  # padding ignored (-100)

    def generate(self, d: int) -> list[int]:
        with no_grad():
            state, prev, out = None, d, []
            while len(out) < 12 and (not out or out[-1] != STOP):
                logits, state = self.model(np.array([[prev]]), state)
                prev = int(logits.numpy().argmax())
                out.append(prev)
        return out

    def test(self) -> tuple[float, list[dict]]:
        examples = []
        for d in range(10):
            pred, truth = self.generate(d), count_targets(d)
            truth += [None] * (len(pred) - len(truth))  # a count that runs on past its "." is wrong there
            examples.append({"inputs": [digit(d)] + [None] * (len(pred) - 1),
                             "pred": [digit(p) for p in pred],
                             "truth": [digit(t) if t is not None else "" for t in truth], "ok": pred == truth,
                             "fed": [None] + [digit(p) for p in pred[:-1]]})
        return float(np.mean([e["ok"] for e in examples])), examples


class ManyToOne:
    title = "many-to-one: is the sum positive or negative?"
    use = "as sentiment classification: a sequence in, one label out"
    shown = 0
    measure = "signs right (held-out sequences)"
    tested_on = "held-out"
    length = 9
    values = np.array([-3, -1, 1, 3])

    def __init__(self, quick: bool, rng: np.random.Generator) -> None:
        self.model = Seq(vocab=4, classes=2, hidden=16, rng=rng)
        self.lr = 0.03
        self.test_set = self.make(np.random.default_rng(101), 1000)

    def make(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        ids = rng.integers(0, 4, (self.length, n))  # an odd count of odd numbers never sums to 0
        return ids, (self.values[ids].sum(0) > 0).astype(int)

    def loss(self, rng: np.random.Generator, batch: int) -> Tensor:
        ids, labels = self.make(rng, batch)
        logits, _ = self.model(ids)
        return cross_entropy(logits[-1], labels)  # the last step only

    def test(self) -> tuple[float, list[dict]]:
        ids, labels = self.test_set
        with no_grad():
            pred = self.model(ids)[0][-1].numpy().argmax(-1)
        sign = "-+"
        examples = [{"inputs": [f"{v:+d}" for v in self.values[ids[:, b]]],
                     "pred": [None] * (self.length - 1) + [sign[pred[b]]],
                     "truth": [None] * (self.length - 1) + [sign[labels[b]]],
                     "ok": pred[b] == labels[b], "note": f"sum {self.values[ids[:, b]].sum():+d}"}
                    for b in range(8)]
        return float((pred == labels).mean()), examples


class Aligned:
    title = "many-to-many, aligned: tag each digit ^ if it beats the one before"
    use = "as part-of-speech tagging: one label per input"
    shown = 0
    measure = "tags right (held-out sequences)"
    tested_on = "held-out"
    length = 8

    def __init__(self, quick: bool, rng: np.random.Generator) -> None:
        self.model = Seq(vocab=10, classes=2, hidden=16, rng=rng)
        self.lr = 0.03
        self.test_set = self.make(np.random.default_rng(102), 500)

    def make(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        ids = rng.integers(0, 10, (self.length, n))
        tags = np.full(ids.shape, -100)  # the first digit has no predecessor: no tag
        tags[1:] = ids[1:] > ids[:-1]
        return ids, tags

    def loss(self, rng: np.random.Generator, batch: int) -> Tensor:
        ids, tags = self.make(rng, batch)
        logits, _ = self.model(ids)
        return cross_entropy(logits.reshape(-1, 2), tags.reshape(-1))

    def test(self) -> tuple[float, list[dict]]:
        ids, tags = self.test_set
        with no_grad():
            pred = self.model(ids)[0].numpy().argmax(-1)
        mark = "-^"
        examples = [{"inputs": [digit(i) for i in ids[:, b]],
                     "pred": [None] + [mark[p] for p in pred[1:, b]],
                     "truth": [None] + [mark[t] for t in tags[1:, b]],
                     "ok": bool((pred[1:, b] == tags[1:, b]).all())} for b in range(8)]
        return float((pred[1:] == tags[1:]).mean()), examples


class EncoderDecoder:
    title = "many-to-many, encoder-decoder: reverse the digits"
    use = "as translation: read it all, then write"
    shown = 0
    measure = "strings reversed exactly (held out)"
    tested_on = "held-out"

    def __init__(self, quick: bool, rng: np.random.Generator) -> None:
        self.length = 4 if quick else 5
        self.model = Seq2Seq(hidden=48 if quick else 64, rng=rng)
        self.lr = 0.01
        self.test_set = np.random.default_rng(103).integers(0, 10, (self.length, 500))

    def loss(self, rng: np.random.Generator, batch: int) -> Tensor:
        src = rng.integers(0, 10, (self.length, batch))
        tgt = src[::-1]
        dec_in = np.concatenate([np.full((1, batch), START), tgt[:-1]])  # teacher forcing
        logits = self.model(src, dec_in)
        return cross_entropy(logits.reshape(-1, 10), tgt.reshape(-1))

    def test(self) -> tuple[float, list[dict]]:
        src = self.test_set
        pred, tgt = self.model.greedy(src), src[::-1]
        n = self.length
        wrong = np.flatnonzero(~(pred == tgt).all(axis=0))  # a wrong one is drawn, if there is any
        shown = list(range(8)) + [int(b) for b in wrong[:1] if b >= 8]
        examples = [{"inputs": [digit(i) for i in src[:, b]] + [None] * n,
                     "pred": [None] * n + [digit(p) for p in pred[:, b]],
                     "truth": [None] * n + [digit(t) for t in tgt[:, b]],
                     "ok": bool((pred[:, b] == tgt[:, b]).all()), "split": n,
                     "fed": [None] * n + ["go"] + [digit(p) for p in pred[:-1, b]]}
                    for b in shown]
        self.token_accuracy = float((pred == tgt).mean())
        return float((pred == tgt).all(axis=0).mean()), examples


# ---------------------------------------------------------------------------------------------
# training and pictures
# ---------------------------------------------------------------------------------------------


def train(task, steps: int, rng: np.random.Generator, batch: int = 32) -> list[tuple[int, float]]:
    opt = nn.optim.Adam(task.model.parameters(), lr=task.lr)
    curve, every = [], max(1, steps // 20)
    for step in range(1, steps + 1):
        loss = task.loss(rng, batch)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(task.model.parameters(), 5.0)
        opt.step()
        if step % every == 0 or step == steps:
            curve.append((step, task.test()[0]))
    return curve


def draw_unrolled(ax, example: dict) -> None:
    """One example as the unrolled network: input boxes, LSTM steps, output boxes coloured by correctness."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    inputs, pred, truth = example["inputs"], example["pred"], example["truth"]
    n, split = len(inputs), example.get("split")

    def box(x, y, text, face, edge="black"):
        ax.add_patch(FancyBboxPatch((x - 0.35, y - 0.3), 0.7, 0.6, boxstyle="round,pad=0.02", fc=face,
                                    ec=edge))
        ax.text(x, y, text, ha="center", va="center", fontsize=12, family="monospace")

    def arrow(x0, y0, x1, y1, **kw):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=10, lw=1, **kw))

    fed = example.get("fed", [None] * n)
    for t in range(n):
        decoding = split is not None and t >= split
        cell = "#c7e9c0" if split is None or decoding else "#c6dbef"
        box(t, 1, "dec" if decoding else ("enc" if split is not None else "LSTM"), cell)
        if t + 1 < n:
            arrow(t + 0.35, 1, t + 0.65, 1, color="black")
        if inputs[t] is not None or fed[t] is not None:
            if inputs[t] is not None:
                box(t, 0, inputs[t], "#fdd0a2")
            else:  # fed back: the previous output (or the start symbol)
                box(t, 0, fed[t], "#eeeeee", edge="gray")
            arrow(t, 0.3, t, 0.7, color="black")
        if pred[t] is not None:
            right = pred[t] == truth[t]
            box(t, 2, pred[t], "#a1d99b" if right else "#fc9272")
            arrow(t, 1.3, t, 1.7, color="black")
            if not right:
                ax.text(t, 2.45, f"want {truth[t]}", ha="center", fontsize=8, color="tab:red")
            if t + 1 < n and fed[t + 1] is not None:  # the output becomes the next input
                arrow(t + 0.35, 2, t + 0.75, 0.3, color="gray", ls="--", connectionstyle="arc3,rad=-0.3")
    if split is not None:
        ax.text(split - 0.5, 1.45, "(h, c)", ha="center", fontsize=9, color="tab:blue")
    if "note" in example:
        ax.text(n - 1.5, 2, example["note"], ha="right", va="center", fontsize=10)
    ax.text(-0.6, 0, "input", ha="right", va="center", fontsize=9)
    ax.text(-0.6, 1, "state", ha="right", va="center", fontsize=9)
    ax.text(-0.6, 2, "output", ha="right", va="center", fontsize=9)
    ax.set_xlim(-1.6, max(n, 6) - 0.4)
    ax.set_ylim(-0.5, 2.8)
    ax.set_aspect("equal")
    ax.axis("off")


def example_text(e: dict) -> str:
    ins = " ".join(s for s in e["inputs"] if s is not None)
    out = " ".join(s for s in e["pred"] if s is not None)
    note = f"  ({e['note']})" if "note" in e else ""
    return f"{'ok ' if e['ok'] else 'NO '} {ins}  ->  {out}{note}"


def shown_example(task, examples: list[dict]) -> dict:
    """The example to draw: the first one the model gets wrong, if any (a picture should not flatter)."""
    wrong = [e for e in examples if not e["ok"]]
    return wrong[0] if wrong else examples[task.shown]


def plot_overview(drawn: list[tuple[object, float, dict]], out: str) -> str:
    """The four shapes side by side, each as one unrolled test example."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 6.4))
    for ax, (task, accuracy, example) in zip(axes.flat, drawn):
        draw_unrolled(ax, example)
        ax.set_xlim(-1.6, 9.6)
        ax.set_title(f"{task.title}\n{task.use}\n(accuracy {accuracy:.1%}, {task.tested_on})", fontsize=9.5)
    fig.suptitle("Four shapes of a recurrent network "
                 "(orange: inputs; grey: fed back; green/red: right/wrong)")
    return save(fig, out, "0_all_shapes.png")


def plot(task, curve: list, accuracy: float, examples: list[dict], out: str, filename: str) -> str:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(11, 4.2))
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 2.2], height_ratios=[2.2, 1])
    ax_curve = fig.add_subplot(grid[:, 0])
    steps, accs = zip(*curve)
    ax_curve.plot(steps, accs, "o-", color="tab:blue", ms=3)
    ax_curve.set_ylim(0, 1.05)
    ax_curve.set_xlabel("training step")
    ax_curve.set_ylabel(f"accuracy: {task.measure}")
    ax_curve.set_title(f"final accuracy {accuracy:.1%}", fontsize=11)
    ax_curve.grid(True, alpha=0.3)
    shown = shown_example(task, examples)
    draw_unrolled(fig.add_subplot(grid[0, 1]), shown)
    ax_text = fig.add_subplot(grid[1, 1])
    ax_text.axis("off")
    lines = [example_text(e) for e in examples if e is not shown][:4]
    ax_text.text(0, 1, f"more {task.tested_on.split(',')[0]} examples:\n" + "\n".join(lines), va="top",
                 family="monospace", fontsize=9)
    fig.suptitle(f"{task.title} ({task.use})")
    return save(fig, out, filename)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args("07_rnn_shapes", __doc__, argv)
    quick = args.quick
    plan = [("1_one_to_many", OneToMany, 60 if quick else 300),
            ("2_many_to_one", ManyToOne, 60 if quick else 400),
            ("3_aligned", Aligned, 80 if quick else 300),
            ("4_encoder_decoder", EncoderDecoder, 200 if quick else 1200)]
    results, drawn = {}, []
    for i, (name, kind, steps) in enumerate(plan):
        rng = np.random.default_rng(i)
        task = kind(quick, rng)
        print(f"{i + 1}. {task.title} ({steps} training steps)")
        curve = train(task, steps, rng)
        accuracy, examples = task.test()
        for e in examples[:4]:
            print("     " + example_text(e))
        extra = ""
        if isinstance(task, EncoderDecoder):
            extra = f" (whole strings; {task.token_accuracy:.1%} of digits)"
            results["encoder_decoder_token_accuracy"] = task.token_accuracy
        print(f"   accuracy ({task.tested_on}): {accuracy:.1%}{extra}")
        plot(task, curve, accuracy, examples, args.out, f"{name}.png")
        results[name[2:] + "_accuracy"] = accuracy
        results[name[2:] + "_shown"] = example_text(shown_example(task, examples))
        drawn.append((task, accuracy, shown_example(task, examples)))
    plot_overview(drawn, args.out)
    print("\nOne loop over time, four shapes: what changes is only where inputs enter and which hidden")
    print("states are read out (one, the last, every one, or a second network's).")
    return results


def readme_figures(r: dict) -> dict[str, str]:
    return {"one_to_many": f"{r['one_to_many_accuracy']:.0%} of the 10 counts",
            "many_to_one": f"{r['many_to_one_accuracy']:.1%}", "aligned": f"{r['aligned_accuracy']:.1%}",
            "encoder_decoder": f"{r['encoder_decoder_accuracy']:.1%}",
            "tokens": f"{r['encoder_decoder_token_accuracy']:.1%}"}


if __name__ == "__main__":
    main()
