"""Lesson 11: language models and perplexity. A word-level LSTM LM: <unk> and <eos>, perplexity as a die,
sampling temperature, and scoring "the apple and pear salad" against "the apple and pair salad".

    .venv/bin/python demos/11_language_model.py            # under a minute
    .venv/bin/python demos/11_language_model.py --quick    # a few seconds

The script writes a small corpus, one sentence a line, from a few sentence patterns: fruit ("the
apple and pear salad was sweet", "she ate a ripe pear") and clothes ("he bought a pair of socks").
Some lines name a visitor with a made-up name that occurs once; words seen fewer than twice become
<unk>, and every line ends with <eos>, so the model also learns where sentences stop.

1. Perplexity = e^(loss per word). A perplexity of P means the model is, on average, as unsure of the
   next word as if it were rolling a fair die with P faces. Guessing uniformly over the vocabulary is
   a die with as many faces as there are words; counting single words (unigram) or short contexts
   (bigram, trigram) does better; the LSTM reads the whole line.
2. Sampling divides the logits by a temperature T before the softmax. T < 1 sharpens the distribution
   (safe, repetitive text), T > 1 flattens it (varied text with more mistakes). We sample lines at
   T = 0.5, 1.0, 1.5 and measure how many follow one of the corpus's sentence patterns and how many
   differ from each other.
3. Scoring: log P(sentence) = sum of log P(word | words before it), from the start of a line to its
   <eos>. "pear" follows "apple and" in fruit salads; "pair" only comes before "of shoes". The model
   prefers the pear salad.

Pictures (in out/demos/11_language_model/): perplexity.png, temperature.png, scores.png, loss_curve.png.
"""

from __future__ import annotations

import io
import math
import re

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import no_grad
from tinygrad_seq.nn.lm.models import LMConfig, baselines, build_model, evaluate
from tinygrad_seq.nn.lm.sampling import generate, score
from tinygrad_seq.nn.lm.training import TrainConfig, Trainer, prepare_data

PICTURES = ("scores.png", "perplexity.png", "temperature.png")

# ------------------------------------------------------------------------------------------ the corpus

WORDS = {
    "fruit": ["apple", "pear", "plum", "peach", "banana", "cherry"],
    "taste": ["sweet", "fresh", "ripe", "juicy", "sour"],
    "clothes": ["shoes", "socks", "gloves", "boots", "jeans"],
    "look": ["new", "old", "warm", "cheap", "black", "clean"],
    "person": ["she", "he", "my sister", "the chef", "our neighbour", "the boy", "grandma"],
    "det": ["a", "the"],
}
PATTERNS = [
    "the {fruit} and {fruit} salad was {taste}",
    "{person} made {det} {fruit} and {fruit} salad",
    "{person} ate a {taste} {fruit}",
    "{det} {fruit} salad is {taste}",
    "{person} picked a {fruit} from the tree",
    "{person} bought a pair of {clothes}",
    "{person} wore a {look} pair of {clothes}",
    "the pair of {clothes} was {look}",
    "{person} lost a pair of {clothes} at the market",
    "a visitor called {name} came to the market",
]
SYLLABLES = ["ka", "lo", "mi", "ru", "ze", "to", "va", "ni", "po", "su", "re", "da"]


def make_corpus(lines: int, rng: np.random.Generator) -> str:
    """`lines` sentences, one a line, each from a random pattern with random words in its slots."""
    out = []
    for _ in range(lines):
        pattern = PATTERNS[rng.integers(len(PATTERNS))]

        def fill(match: re.Match) -> str:
            slot = match.group(1)
            if slot == "name":  # a made-up name: most occur once, so they become <unk>
                return "".join(rng.choice(SYLLABLES, size=3))
            return str(rng.choice(WORDS[slot]))

        out.append(re.sub(r"\{(\w+)\}", fill, pattern))
    return "\n".join(out) + "\n"


def pattern_regexes() -> list[re.Pattern]:
    """One regular expression per pattern, matching every sentence it can make (a name is any word)."""
    regexes = []
    for pattern in PATTERNS:
        parts = re.split(r"(\{\w+\})", pattern)
        body = "".join(
            r"\S+" if part == "{name}" else
            "(?:" + "|".join(map(re.escape, WORDS[part[1:-1]])) + ")" if part.startswith("{") else
            re.escape(part) for part in parts)
        regexes.append(re.compile(body))
    return regexes


def follows_a_pattern(line: str, regexes: list[re.Pattern]) -> bool:
    return any(r.fullmatch(line.strip()) for r in regexes)


# ---------------------------------------------------------------------------------------- the model


def next_word_probs(model, vocab, prompt: str, temperature: float) -> np.ndarray:
    """P(next word | start of a line, prompt) at `temperature`: (V,)."""
    ids = np.concatenate([[vocab.eos_id], vocab.encode(prompt)[:-1]])  # drop the <eos> encode adds
    model.eval()
    with no_grad():
        logits, _ = model(ids[:, None])  # (T, 1) -> (T, 1, V)
    z = logits.numpy()[-1, 0].astype(np.float64) / temperature
    p = np.exp(z - z.max())
    return p / p.sum()


# ------------------------------------------------------------------------------------------ pictures


def perplexity_picture(rows: list[tuple[str, float]], vocab_size: int):
    fig, ax = plt.subplots(figsize=(8, 3.6))
    names = [name for name, _ in rows]
    values = [p for _, p in rows]
    colours = ["lightgray", "silver", "darkgray", "gray", "tab:blue"][-len(rows):]
    ax.barh(names, values, color=colours)
    for i, p in enumerate(values):
        ax.text(p * 1.05, i, f"a die with {p:.1f} faces", va="center", fontsize=9)
    ax.set_xscale("log")
    ax.set_xlim(1, vocab_size * 6)
    ax.invert_yaxis()
    ax.set_xlabel("perplexity on held-out lines = e^(nats per word)   (log scale)")
    ax.set_title("How unsure is each model of the next word?", fontsize=10)
    ax.grid(axis="x", alpha=0.3, which="both")
    return fig


def temperature_picture(prompt: str, dists: dict[float, np.ndarray], vocab, stats: dict[float, dict]):
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1.4, 1]})
    base = dists[1.0]
    top = np.argsort(-base)[:10]
    x = np.arange(len(top))
    width = 0.8 / len(dists)
    for k, (T, p) in enumerate(dists.items()):
        left.bar(x + (k - (len(dists) - 1) / 2) * width, p[top], width=width, label=f"T = {T}")
    left.set_xticks(x)
    left.set_xticklabels([vocab.itos[i] for i in top], rotation=30, ha="right")
    left.set_yscale("log")
    left.set_ylim(1e-7, 1.5)
    left.set_ylabel("probability (log scale)")
    left.set_title(f"Next word after \"{prompt} ...\": low T sharpens, high T lifts the wrong words",
                   fontsize=10)
    left.legend()
    temps = list(stats)
    for key, label, marker in (("valid", "lines that follow a sentence pattern", "o"),
                               ("distinct", "lines different from each other", "s"),
                               ("novel", "valid lines not in the training text", "^")):
        right.plot(temps, [100 * stats[T][key] for T in temps], marker=marker, label=label)
    right.set_xticks(temps)
    right.set_xlabel("temperature T")
    right.set_ylabel("% of sampled lines")
    right.set_ylim(-3, 103)
    right.set_title("The trade-off: correct vs varied", fontsize=10)
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    return fig


def scores_picture(a, b):
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    words = [w for w, _ in a.tokens]
    x = np.arange(len(words))
    for k, (s, colour) in enumerate(((a, "tab:green"), (b, "tab:red"))):
        values = [v for _, v in s.tokens]
        ax.bar(x + (k - 0.5) * 0.4, values, width=0.4, color=colour, edgecolor=colour, linewidth=1.5,
               label=f"\"{s.text}\": log P = {s.total:.2f}")
        for xi, v in zip(x + (k - 0.5) * 0.4, values):  # a value near 0 has no visible bar: say it
            ax.text(xi, v - 0.15, f"{v:.2f}" if abs(v) >= 0.01 else f"{v:.1g}", ha="center", va="top",
                    fontsize=7.5, color=colour)
            if abs(v) < 0.05:  # too short to see: a marker at its value
                ax.plot([xi], [v], marker="_", ms=14, mew=2.5, color=colour)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{wa}\n{wb}" if wa != wb else wa for (wa, _), (wb, _) in zip(a.tokens, b.tokens)])
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylim(top=0.6)  # room above 0 for the markers of the near-zero bars
    ax.set_ylabel("log P(word | words before it)   (nats)")
    ax.set_title("Scoring two sentences word by word (each bar: how surprised the model is)", fontsize=10)
    ax.legend(loc="lower left", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return fig


# ---------------------------------------------------------------------------------------------- main


def main(argv=None) -> dict:
    args = parse_args("11_language_model", __doc__, argv)
    rng = np.random.default_rng(0)
    if args.quick:
        lines, hidden, steps, samples = 1500, 48, 200, 20
    else:
        lines, hidden, steps, samples = 5000, 64, 1500, 60
    text = make_corpus(lines, rng)
    config = TrainConfig(corpus="fruit and clothes", level="word", lower=True, min_freq=2, seq_len=32,
                         batch_size=16, lr=1e-2, warmup=20, eval_every=10**9, eval_tokens=None, seed=0)
    vocab, train_ids, valid_ids = prepare_data(text, config)
    unk_share = float(np.mean(valid_ids == vocab.unk_id))
    print(f"A corpus of {lines:,} lines, e.g.\n  " + "\n  ".join(text.splitlines()[:4]))
    print(f"Vocabulary: {len(vocab)} words, <unk> and <eos> included; words seen once became <unk> "
          f"({unk_share:.1%} of the held-out words).")

    model = build_model(LMConfig("lstm", vocab_size=len(vocab), hidden=hidden, dropout=0.0), rng=0)
    trainer = Trainer(model, vocab, train_ids, valid_ids, config, out_dir=args.out, stream=io.StringIO())
    trainer.run(steps=steps, sample_length=0, progress=False)
    ev = evaluate(model, valid_ids)
    base = baselines(train_ids, valid_ids, len(vocab))

    print(f"\n1. Perplexity on {ev.tokens:,} held-out words after {steps} training steps:")
    rows = [("uniform guess", base["uniform"].perplexity), ("unigram counts", base["unigram"].perplexity),
            ("bigram counts", base["bigram"].perplexity), ("trigram counts", base["trigram"].perplexity),
            ("LSTM", ev.perplexity)]
    print(f"   {'model':16} {'nats/word':>10} {'bits/word':>10} {'perplexity':>11}")
    for (name, p), e in zip(rows, (base["uniform"], base["unigram"], base["bigram"], base["trigram"], ev)):
        print(f"   {name:16} {e.loss:>10.3f} {e.bits_per_token:>10.3f} {p:>11.2f}")
    print(f"   Perplexity {ev.perplexity:.2f} means the LSTM is, on average, as unsure of the next word as "
          f"if it were rolling a\n   fair die with {ev.perplexity:.1f} faces; a uniform guess over the "
          f"{len(vocab)} words is a die with {len(vocab)} faces, the unigram\n   counts a die with "
          f"{base['unigram'].perplexity:.1f}.")
    save(perplexity_picture(rows, len(vocab)), args.out, "perplexity.png")

    print(f"\n2. Sampling {samples} lines at each temperature:")
    regexes = pattern_regexes()
    seen = set(text.splitlines())
    stats, shown = {}, {}
    for T in (0.5, 1.0, 1.5):
        drawn = [generate(model, vocab, length=20, temperature=T, seed=i) for i in range(samples)]
        valid = [line for line in drawn if follows_a_pattern(line, regexes)]
        stats[T] = {"valid": len(valid) / samples, "distinct": len(set(drawn)) / samples,
                    "novel": sum(line not in seen for line in valid) / samples}
        shown[T] = drawn[:3]
    for T, lines_ in shown.items():
        s = stats[T]
        print(f"   T = {T}: {s['valid']:.0%} follow a pattern, {s['distinct']:.0%} distinct, "
              f"{s['novel']:.0%} valid and new")
        for line in lines_:
            print(f"      {line}")
    prompt = "the apple and"
    dists = {T: next_word_probs(model, vocab, prompt, T) for T in (0.5, 1.0, 1.5)}
    save(temperature_picture(prompt, dists, vocab, stats), args.out, "temperature.png")

    a = score(model, vocab, "the apple and pear salad")
    b = score(model, vocab, "the apple and pair salad")
    print("\n3. Scoring, word by word (log P in nats, from the start of the line to its <eos>):")
    print(f"   {'word':>8} {'pear':>8} {'pair':>8}")
    for (wa, va), (wb, vb) in zip(a.tokens, b.tokens):
        print(f"   {wa if wa == wb else wa + '/' + wb:>9} {va:>8.2f} {vb:>8.2f}")
    print(f"   log P(\"{a.text}\") = {a.total:.2f}, log P(\"{b.text}\") = {b.total:.2f}:\n   the pear "
          f"salad is e^({a.total:.2f} - ({b.total:.2f})) = e^{a.total - b.total:.2f} = "
          f"{np.exp(a.total - b.total):.1e} times more likely.")
    save(scores_picture(a, b), args.out, "scores.png")
    return {"perplexity": ev.perplexity, "vocab_size": len(vocab),
            "unigram_perplexity": base["unigram"].perplexity,
            "trigram_perplexity": base["trigram"].perplexity, "unk_share": unk_share,
            "temperature_stats": stats, "logp_pear": a.total, "logp_pair": b.total}


def readme_figures(r: dict) -> dict[str, str]:
    t, gap = r["temperature_stats"], r["logp_pear"] - r["logp_pair"]
    return {"perplexity": f"{r['perplexity']:.2f}", "faces": f"{r['perplexity']:.1f} faces",
            "vocab": f"{r['vocab_size']} faces", "unigram": f"{r['unigram_perplexity']:.1f}",
            "trigram": f"{r['trigram_perplexity']:.1f}",
            "valid": f"{t[0.5]['valid']:.0%}, {t[1.0]['valid']:.0%} and {t[1.5]['valid']:.0%}",
            "distinct": f"{t[0.5]['distinct']:.0%}, {t[1.0]['distinct']:.0%} and {t[1.5]['distinct']:.0%}",
            "pear": f"{r['logp_pear']:.1f}", "pair": f"{r['logp_pair']:.1f}",
            "ratio": f"e^{gap:.2f} = {math.exp(gap):.1e}"}


if __name__ == "__main__":
    main()
