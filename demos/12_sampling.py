"""Lesson 12: sampling from a language model, step by step, and samples improving as it trains.

    .venv/bin/python demos/12_sampling.py           # word LSTM 600 steps; char LSTM sampled at 5 points
    .venv/bin/python demos/12_sampling.py --quick   # shorter training (CI)

Generation runs the network one token at a time: it starts from the start token (``<eos>``: a line has
just ended) and the zero state, turns the logits into probabilities with softmax, draws one token from
them, feeds that token back as the next input, and stops when it draws ``<eos>``. The script prints
every draw of one line with its probability and the most likely alternatives.

``<unk>`` stands for every word the vocabulary left out (here: made-up names seen once). A sampler that
must not print it redraws whenever it comes up, which is the same as setting its probability to 0 and
renormalising (what ``nn.lm.sampling.generate`` does). The script samples many lines, counts how often
``<unk>`` was drawn and redrawn, and compares the count with what the model's probabilities predict.

Then a character-level LSTM learns the same corpus, and lines sampled at several points of its
training go from noise to corpus-like text: the share of
sampled words that are real corpus words and of lines that follow a corpus sentence pattern rise.

Pictures: ``sampling_steps.png``: one sampled line, each step's most likely words as bars, the drawn one
coloured, a redrawn ``<unk>`` crossed out; ``training_samples.png``: sampled lines at each point of the
char LSTM's training and the two shares against training step.
"""

from __future__ import annotations

import io
import os

import numpy as np
from common import load_lesson, parse_args, plt, save

from tinygrad_seq import no_grad
from tinygrad_seq.nn.lm.models import LMConfig, build_model
from tinygrad_seq.nn.lm.sampling import generate
from tinygrad_seq.nn.lm.training import TrainConfig, Trainer, prepare_data

PICTURES = ("sampling_steps.png", "training_samples.png")
corpus = load_lesson("11_language_model")  # the fruit-and-clothes sentences and their patterns


def softmax(z: np.ndarray) -> np.ndarray:
    p = np.exp(z - z.max())
    return p / p.sum()


def sample_line(model, vocab, rng: np.random.Generator, max_words: int = 30) -> dict:
    """One line, drawn word by word from the start token and the zero state; each step recorded.

    A step is (word drawn, its probability, the top alternatives as (word, p), P(<unk>), redraws):
    <unk> is redrawn from the same distribution until another word comes up.
    """
    token, state, steps = vocab.eos_id, None, []
    model.eval()
    with no_grad():
        for _ in range(max_words):
            logits, state = model(np.array([[token]]), state)  # (1, 1) -> (1, 1, V), state carried
            p = softmax(logits.numpy()[0, 0].astype(np.float64))
            draw, redraws = int(rng.choice(len(p), p=p)), 0
            while draw == vocab.unk_id:
                redraws += 1
                draw = int(rng.choice(len(p), p=p))
            top = [(vocab.itos[i], float(p[i])) for i in np.argsort(-p)[:5]]
            steps.append({"word": vocab.itos[draw], "p": float(p[draw]), "top": top,
                          "p_unk": float(p[vocab.unk_id]), "redraws": redraws})
            if draw == vocab.eos_id:
                break
            token = draw
    return {"steps": steps, "text": " ".join(s["word"] for s in steps if s["word"] != "<eos>")}


def train_word_lm(text: str, steps: int, out: str):
    config = TrainConfig(corpus="fruit and clothes", level="word", lower=True, min_freq=2, seq_len=32,
                         batch_size=16, lr=1e-2, warmup=20, eval_every=10**9, eval_tokens=None, seed=0)
    vocab, train_ids, valid_ids = prepare_data(text, config)
    model = build_model(LMConfig("lstm", vocab_size=len(vocab), hidden=48, dropout=0.0), rng=0)
    Trainer(model, vocab, train_ids, valid_ids, config, out_dir=os.path.join(out, "word_lm"),
            stream=io.StringIO()).run(
        steps=steps, sample_length=0, progress=False)
    return model, vocab


def char_progression(text: str, checkpoints: list[int], samples: int, out: str) -> tuple[list[dict], int]:
    """Train a char LSTM, and at each checkpoint sample `samples` lines and measure them; also the number
    of steps its loss curve (char_lm/loss_curve.png) draws."""
    config = TrainConfig(corpus="fruit and clothes", level="char", seq_len=48, batch_size=16, lr=1e-2,
                         warmup=0, schedule="constant", eval_every=10**9, eval_tokens=4000, seed=0)
    vocab, train_ids, valid_ids = prepare_data(text, config)
    model = build_model(LMConfig("lstm", vocab_size=len(vocab), hidden=64, dropout=0.0), rng=0)
    trainer = Trainer(model, vocab, train_ids, valid_ids, config, out_dir=os.path.join(out, "char_lm"),
                      stream=io.StringIO())
    regexes, words = corpus.pattern_regexes(), set(text.split())
    rows = []
    for step in checkpoints:
        if step > trainer.step and trainer.step == 0:  # plans the (constant) schedule, then steps
            trainer.run(steps=step, sample_length=0, progress=False)
        while trainer.step < step:
            trainer.train_step()
        evaluation = trainer.validate(config.eval_tokens)
        bits = evaluation.bits_per_token
        if step > 0:  # the held-out loss at each checkpoint, drawn on the loss curve
            trainer.history["val_step"].append(step)
            trainer.history["val_loss"].append(evaluation.loss)
        lines = [generate(model, vocab, "", 80, temperature=0.8, seed=i).split("\n")[0]
                 for i in range(samples)]
        drawn = [w for line in lines for w in line.split()]
        rows.append({"step": step, "bits_per_char": bits, "lines": lines,
                     "real_words": sum(w in words for w in drawn) / max(len(drawn), 1),
                     "patterns": sum(corpus.follows_a_pattern(line, regexes) for line in lines) / samples})
    curve = trainer.plot()  # every step's loss (the first run() drew only its own steps)
    print(f"   wrote {curve}")
    return rows, len(trainer.history["step"])


def steps_picture(line: dict):
    steps = line["steps"]
    fig, axes = plt.subplots(1, len(steps), figsize=(1.55 * len(steps) + 0.6, 3.6), sharex=True)
    for t, (ax, s) in enumerate(zip(np.atleast_1d(axes), steps)):
        top = s["top"] if any(w == s["word"] for w, _ in s["top"]) else s["top"] + [(s["word"], s["p"])]
        words, probs = zip(*top)  # the drawn word is added below the top 5 when it is not among them
        colours = ["tab:orange" if w == s["word"] else "#b0b0b0" if w == "<unk>" else "tab:blue"
                   for w in words]
        y = 5 - np.arange(len(words))  # the top 5 at the same heights in every panel, the drawn word below
        ax.barh(y, probs, color=colours)
        ax.set_ylim(-0.6, 5.6)
        if len(words) > 5:
            ax.axhline(0.5, color="gray", lw=0.8, ls=":")
        for yy, w, p in zip(y, words, probs):
            label = f"{w} {p:.2f}" if p >= 0.01 else f"{w} {p:.1g}"
            ax.text(0.02, yy, label, va="center", fontsize=7.5, color="black",
                    fontweight="bold" if w == s["word"] else "normal")
            if w == "<unk>" and s["redraws"]:
                ax.plot([0, p], [yy, yy], color="red", lw=1.5)
        ax.set_xlim(0, 1)
        ax.set_yticks([])
        ax.set_xticks([0, 1])
        ax.tick_params(labelsize=7)
        title = f"step {t}\n\u2192 {s['word']}"
        if s["redraws"]:
            title += f"\n(<unk> drawn, redrawn x{s['redraws']})"
        ax.set_title(title, fontsize=8, color="red" if s["redraws"] else "black")
    fig.suptitle(f'Sampling "{line["text"]}" one word at a time from <eos> and the zero state:\n'
                 "the 5 most likely words at each step; the drawn one (orange) is the next input",
                 fontsize=10)
    return fig


def progression_picture(rows: list[dict]):
    fig, (ax_text, ax_curve) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1.5, 1]})
    ax_text.axis("off")
    y = 1.0
    for r in rows:
        ax_text.text(0, y, f"step {r['step']} ({r['bits_per_char']:.2f} bits/char)", fontsize=9,
                     fontweight="bold", va="top", transform=ax_text.transAxes)
        y -= 0.06
        for line in r["lines"][:2]:
            ax_text.text(0.02, y, line[:75] or "(empty line)", fontsize=8.5, family="monospace", va="top",
                         transform=ax_text.transAxes)
            y -= 0.055
        y -= 0.02
    ax_text.set_title("Lines sampled from a char LSTM as it trains (temperature 0.8)", fontsize=10)
    steps = [r["step"] for r in rows]
    ax_curve.plot(steps, [100 * r["real_words"] for r in rows], "o-",
                  label="sampled words that are corpus words")
    ax_curve.plot(steps, [100 * r["patterns"] for r in rows], "s-",
                  label="sampled lines that follow a pattern")
    ax_curve.set_xlabel("training step")
    ax_curve.set_ylabel("%")
    ax_curve.set_ylim(-3, 103)
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(fontsize=8, loc="upper left")
    ax_curve.set_title("From noise to the corpus", fontsize=10)
    return fig


def main(argv=None) -> dict:
    args = parse_args("12_sampling", __doc__, argv)
    if args.quick:
        lines, word_steps, checkpoints, samples, drawn_lines = 1000, 150, [0, 40, 150], 10, 100
    else:
        lines, word_steps, checkpoints, samples, drawn_lines = 3000, 600, [0, 30, 100, 250, 600], 20, 300
    text = corpus.make_corpus(lines, np.random.default_rng(0))
    model, vocab = train_word_lm(text, word_steps, args.out)
    print(f"1. A word LSTM trained {word_steps} steps on {lines:,} lines of the fruit-and-clothes corpus "
          f"(lesson 11).\n   Sampling one line from <eos> and the zero state, temperature 1:\n")
    rng = np.random.default_rng(0)
    drawn = [sample_line(model, vocab, rng) for _ in range(drawn_lines)]
    shown = next((d for d in drawn if any(s["redraws"] for s in d["steps"]) and len(d["steps"]) <= 10),
                 drawn[0])
    print(f"   {'step':>4}  {'drawn':>12} {'p':>6}   alternatives")
    for t, s in enumerate(shown["steps"]):
        alts = ", ".join(f"{w} {p:.2f}" for w, p in s["top"] if w != s["word"])[:60]
        note = f"   (<unk> drawn and redrawn {s['redraws']}x)" if s["redraws"] else ""
        print(f"   {t:>4}  {s['word']:>12} {s['p']:>6.3f}   {alts}{note}")
    steps = [s for d in drawn for s in d["steps"]]
    redraws = sum(s["redraws"] for s in steps)
    hit = sum(s["redraws"] > 0 for s in steps)  # draws whose first pick was <unk>
    expected = sum(s["p_unk"] for s in steps)  # ... expected: the sum of P(<unk>) over the draws
    called = ["a", "visitor", "called"]  # the name's place: the draw right after these three words
    after_called = sum(s["redraws"] > 0 for d in drawn for t, s in enumerate(d["steps"])
                       if [w["word"] for w in d["steps"][max(t - 3, 0):t]] == called)
    print(f"\n   Over {drawn_lines} sampled lines ({len(steps)} draws), <unk> came up first at {hit} draws "
          f"(the model's\n   probabilities predict {expected:.1f}: the sum of P(<unk>) over the draws) and "
          f"was redrawn {redraws} times in all;\n   {after_called} of those {hit} draws were the made-up "
          "name after \"a visitor called\". Redrawing leaves\n   a word the model found unlikely there: "
          f"\"{shown['text']}\".")
    save(steps_picture(shown), args.out, "sampling_steps.png")

    print(f"\n2. A char LSTM (64 units) on the same corpus, {samples} lines sampled at each checkpoint:")
    rows, curve_steps = char_progression(text, checkpoints, samples, args.out)
    for r in rows:
        print(f"   step {r['step']:>4}: {r['bits_per_char']:.2f} bits/char, {r['real_words']:.0%} corpus "
              f"words, {r['patterns']:.0%} lines follow a pattern;  \"{r['lines'][0][:50]}\"")
    save(progression_picture(rows), args.out, "training_samples.png")
    return {"redraws": redraws, "unk_draws": hit, "expected_unk_draws": expected, "draws": len(steps),
            "lines_drawn": drawn_lines, "after_called": after_called, "shown_line": shown["text"],
            "shown_steps": [(s["word"], s["p"]) for s in shown["steps"]],
            "checkpoints": checkpoints, "curve_steps": curve_steps,
            "real_words": [r["real_words"] for r in rows],
            "patterns": [r["patterns"] for r in rows], "bits_per_char": [r["bits_per_char"] for r in rows]}


def readme_figures(r: dict) -> dict[str, str]:
    return {"redraws": f"{r['redraws']} times", "unk_draws": f"{r['unk_draws']} draws",
            "expected": f"{r['expected_unk_draws']:.1f}", "after_called": f"{r['after_called']} of those",
            "draws": f"{r['draws']:,} draws", "lines": f"{r['lines_drawn']} sampled lines",
            "words_first": f"{r['real_words'][0]:.0%}", "words_last": f"{r['real_words'][-1]:.0%}",
            "patterns_last": f"{r['patterns'][-1]:.0%}",
            "bits": f"{r['bits_per_char'][0]:.2f} to {r['bits_per_char'][-1]:.2f} bits per character"}


if __name__ == "__main__":
    main()
