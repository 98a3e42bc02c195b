"""Lesson 13: character level against word level, on the same corpus, next to the exact perplexity floor.

    .venv/bin/python demos/13_char_vs_word.py           # 3000 lines, 500 steps each
    .venv/bin/python demos/13_char_vs_word.py --quick   # 1200 lines, 150 steps each (CI)

The corpus is lesson 11's: sentences drawn from ten patterns with random words in their slots, and a
made-up name of three syllables in one pattern ("a visitor called kalomi came to the market"). The
same text is modelled two ways:

* character level: a small vocabulary (every character), long sequences, nothing unknown;
* word level: a vocabulary of words seen at least twice (``<unk>`` for the rest, ``<eos>`` per line),
  sequences about five times shorter, but each rare word is one ``<unk>``.

To compare losses, both are converted to bits per character: total nats over the held-out text,
divided by its number of characters (newlines included) and by ln 2. The word model's number leaves
out the names it calls ``<unk>`` (it never says which name), so the script also adds what spelling each
of them would cost: log2(12^3) = 10.75 bits, a uniform choice of three syllables.

Because the script writes the corpus, the best any model can do is known exactly: every possible line
and its probability can be listed (3,034 lines; two ways of making the same line are added
together), so the held-out text's information content under the true distribution, -log2 P(text),
is computed exactly. That is the floor; the models' bits per character sit above it.

Pictures: ``char_vs_word.png``: vocabulary size, tokens per line, ``<unk>`` rate and training time of
both models; their held-out bits per character next to the floor and the count baselines.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import time

import numpy as np
from common import load_lesson, parse_args, plt, save

from tinygrad_seq.nn.lm.models import LMConfig, baselines, build_model, evaluate
from tinygrad_seq.nn.lm.training import TrainConfig, Trainer, prepare_data

PICTURES = ("char_vs_word.png",)
corpus = load_lesson("11_language_model")  # the sentence patterns and the corpus generator


def line_distribution() -> dict[str, float]:
    """Every line the corpus generator can write, with its exact probability (P summed over the ways
    of making it): a pattern uniformly, then each slot's word uniformly, a name as 3 syllables."""
    probs: dict[str, float] = {}
    for pattern in corpus.PATTERNS:
        slots = re.findall(r"\{(\w+)\}", pattern)
        choices = [["".join(s) for s in itertools.product(corpus.SYLLABLES, repeat=3)] if slot == "name"
                   else corpus.WORDS[slot] for slot in slots]
        p = 1 / len(corpus.PATTERNS) / math.prod(len(c) for c in choices)
        template = re.sub(r"\{\w+\}", "{}", pattern)
        for fill in itertools.product(*choices):
            line = template.format(*fill)
            probs[line] = probs.get(line, 0.0) + p
    return probs


def exact_bits(text: str, probs: dict[str, float]) -> float:
    """-log2 P(text) under the true distribution: the sum over its lines (each with its newline)."""
    return -sum(math.log2(probs[line]) for line in text.splitlines())


def train(level: str, text: str, steps: int, seq_len: int, out: str) -> dict:
    config = TrainConfig(corpus="fruit and clothes", level=level, lower=True, min_freq=2, seq_len=seq_len,
                         batch_size=16, lr=1e-2, warmup=20, eval_every=10**9, eval_tokens=None, seed=0)
    vocab, train_ids, valid_ids = prepare_data(text, config)
    model = build_model(LMConfig("lstm", vocab_size=len(vocab), hidden=64, dropout=0.0), rng=0)
    trainer = Trainer(model, vocab, train_ids, valid_ids, config, out_dir=f"{out}/{level}",
                      stream=io.StringIO())
    start = time.process_time()  # CPU time: comparable on a machine shared with other jobs
    trainer.run(steps=steps, sample_length=0, progress=False)
    seconds = time.process_time() - start
    ev = evaluate(model, valid_ids)
    base = baselines(train_ids, valid_ids, len(vocab))
    return {"vocab": len(vocab), "valid_tokens": len(valid_ids), "seconds": seconds,
            "unk": int(np.sum(valid_ids == vocab.unk_id)) if vocab.unk_id is not None else 0,
            "nats": ev.loss * ev.tokens, "tokens": ev.tokens,
            "trigram_nats": base["trigram"].loss * ev.tokens,
            "unigram_nats": base["unigram"].loss * ev.tokens}


def picture(rows: dict, floor: float, spelled: float):
    fig, (ax_stats, ax_bits) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1, 1.25]})
    ax_stats.axis("off")
    labels = ["vocabulary", "tokens per line", "<unk> in held-out text", "training CPU seconds",
              "seconds per 1000 characters"]
    table = [[f"{r['vocab']}", f"{r['per_line']:.1f}", f"{r['unk_rate']:.1%}", f"{r['seconds']:.1f}",
              f"{r['per_kchar']:.3f}"] for r in rows.values()]
    cells = ax_stats.table(cellText=list(zip(*table)), rowLabels=labels, colLabels=list(rows), loc="center",
                           cellLoc="center")
    cells.scale(1, 1.9)
    cells.set_fontsize(10)
    ax_stats.set_title("The same text, two tokenisations", fontsize=10)
    bars = [("trigram counts (char)", rows["characters"]["trigram_bpc"], "darkgray"),
            ("trigram counts (word, <unk> free)", rows["words"]["trigram_bpc"], "silver"),
            ("word LSTM, <unk> free", rows["words"]["bpc"], "tab:orange"),
            ("word LSTM, names spelled", spelled, "tab:red"),
            ("char LSTM", rows["characters"]["bpc"], "tab:blue"),
            ("the exact floor", floor, "black")]
    names, values, colours = zip(*bars)
    ax_bits.barh(names, values, color=colours)
    for i, v in enumerate(values):
        ax_bits.text(v + 0.02, i, f"{v:.3f}", va="center", fontsize=9)
    ax_bits.axvline(floor, color="black", ls=":", lw=1)
    ax_bits.invert_yaxis()
    ax_bits.set_xlim(0, max(values) * 1.15)
    ax_bits.set_xlabel("held-out bits per character (floor: -log2 P(text) / characters)")
    ax_bits.set_title("One unit for both: bits per character", fontsize=10)
    ax_bits.grid(axis="x", alpha=0.3)
    return fig


def main(argv=None) -> dict:
    args = parse_args("13_char_vs_word", __doc__, argv)
    lines, steps = (1200, 150) if args.quick else (3000, 500)
    text = corpus.make_corpus(lines, np.random.default_rng(0))
    words_per_char = len(text.split()) / len(text)
    char_seq = 64
    word_seq = max(4, round(char_seq * words_per_char))  # about the same text per step
    print(f"A corpus of {lines:,} generated lines ({len(text):,} characters), e.g. "
          f"\"{text.splitlines()[0]}\".")
    print(f"Each model trains {steps} steps of 16 sequences: {char_seq} characters or {word_seq} words "
          "each.\n")
    rows = {"characters": train("char", text, steps, char_seq, args.out),
            "words": train("word", text, steps, word_seq, args.out)}
    cut = len(text) - len(text) // 10  # prepare_data holds out the last tenth, cut at a line break
    valid_text = text[text.rfind("\n", 0, cut) + 1:]
    chars = len(valid_text)
    probs = line_distribution()
    floor = exact_bits(valid_text, probs) / chars
    name_bits = 3 * math.log2(len(corpus.SYLLABLES))
    n_lines = valid_text.count("\n")
    for r in rows.values():
        r["bpc"] = r["nats"] / math.log(2) / chars
        r["trigram_bpc"] = r["trigram_nats"] / math.log(2) / chars
        r["unigram_bpc"] = r["unigram_nats"] / math.log(2) / chars
        r["per_line"] = r["tokens"] / n_lines
        r["unk_rate"] = r["unk"] / r["tokens"]
        r["per_kchar"] = r["seconds"] / (steps * 16 * char_seq / 1000)
    w = rows["words"]
    spelled = (w["nats"] / math.log(2) + w["unk"] * name_bits) / chars
    print(f"{'':26} {'characters':>12} {'words':>12}")
    for label, key, fmt in (("vocabulary", "vocab", "{}"), ("tokens per line", "per_line", "{:.1f}"),
                            ("<unk> share, held out", "unk_rate", "{:.1%}"),
                            ("training CPU seconds", "seconds", "{:.1f}"),
                            ("bits per character", "bpc", "{:.3f}"),
                            ("trigram counts", "trigram_bpc", "{:.3f}")):
        print(f"{label:26} " + " ".join(f"{fmt.format(r[key]):>12}" for r in rows.values()))
    print(f"\nThe word model's {w['bpc']:.3f} bits per character leave out which name each <unk> was; "
          f"spelling the {w['unk']} names\nout at {name_bits:.2f} bits each brings it to {spelled:.3f}.")
    print(f"The exact floor: the {n_lines} held-out lines have probability "
          f"2^-{exact_bits(valid_text, probs):,.0f} under the generator\n({len(probs):,} possible lines), "
          f"{floor:.3f} bits per character. The char LSTM is {rows['characters']['bpc'] - floor:.3f} and the "
          f"word LSTM (names spelled)\n{spelled - floor:.3f} bits per character above it.")
    save(picture(rows, floor, spelled), args.out, "char_vs_word.png")
    return {"floor_bpc": floor, "char_bpc": rows["characters"]["bpc"], "word_bpc": w["bpc"],
            "word_spelled_bpc": spelled, "char_vocab": rows["characters"]["vocab"], "word_vocab": w["vocab"],
            "char_per_line": rows["characters"]["per_line"], "word_per_line": w["per_line"],
            "word_unk_rate": w["unk_rate"], "char_seconds": rows["characters"]["seconds"],
            "word_seconds": w["seconds"], "possible_lines": len(probs), "steps": steps,
            "char_trigram_bpc": rows["characters"]["trigram_bpc"], "word_trigram_bpc": w["trigram_bpc"]}


def readme_figures(r: dict) -> dict[str, str]:
    return {"floor": f"{r['floor_bpc']:.3f}", "char": f"{r['char_bpc']:.3f}", "word": f"{r['word_bpc']:.3f}",
            "spelled": f"{r['word_spelled_bpc']:.3f}", "char_vocab": f"{r['char_vocab']} characters",
            "word_vocab": f"{r['word_vocab']} words", "unk": f"{r['word_unk_rate']:.1%}",
            "per_line": f"{r['char_per_line']:.1f} against {r['word_per_line']:.1f}",
            "lines": f"{r['possible_lines']:,} possible lines"}


if __name__ == "__main__":
    main()
