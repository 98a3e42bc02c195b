"""Lesson 23: beam search against greedy and exact search, on lesson 14's digits-to-words translation.

    .venv/bin/python demos/23_beam_search.py           # models after 40, 150 and 1000 training steps
    .venv/bin/python demos/23_beam_search.py --quick   # after 40 and 150 steps (CI)

A decoder gives P(word | the words before it, the input); the output it should write is the sequence
of highest probability, the product of those factors up to ``<eos>``. Greedy decoding takes the most
likely word at each step and never looks back. Beam search (exercise 10's ``beam_search``) keeps the
k most likely prefixes at each step, every one extended by every word, so a word that looked second
best can still win once the words after it are counted. Exact search finds the true optimum: it
walks the tree of prefixes depth first and drops a prefix as soon as its probability falls below that
of the best finished output found so far (starting from the widest beam's answer); a probability only
falls as words are added, so what it drops can never win. Without that pruning it would have to score
every output of up to 5 tokens over the 30 words (about 24 million); with it, a few dozen prefixes per
number. The vocabulary and length are lesson 14's own, not restricted.

The models are lesson 14's RNN encoder-decoder (imported from demos/14_seq2seq.py and trained by its
``train``), early in training, when the decoder is unsure, and later. For the 150
held-out numbers, each search reports: the mean log-probability of the outputs it finds, how often
it finds the exact optimum, how often its output is the right translation (exact match), and BLEU
against the reference (the usual clipped n-gram precision, here up to bigrams, times a brevity
penalty; a small function below).

Pictures: ``beam_search.png``: per search and model, the share of numbers where it finds the optimum
and the share translated exactly; and one number's search tree, the beam's prefixes with their
probabilities.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

import numpy as np
from common import load_lesson, parse_args, plt, save

from tinygrad_seq import no_grad
from tinygrad_seq.exercises.solutions.beam_search import beam_search
from tinygrad_seq.functional import log_softmax

seq2seq = load_lesson("14_seq2seq")
PICTURES = ("beam_search.png",)
MAX_LEN = 5  # the longest translation, "nine hundred ninety nine", is 4 words + <eos>
WIDTHS = (2, 4, 8)

LogProbs = Callable[[tuple], np.ndarray]


def scorer(model, n: int) -> tuple[LogProbs, dict]:
    """log_probs(tokens) -> (V,) log P(next word | tokens, n) for the number n, one decoder step per new
    prefix: each prefix's LSTM state is kept, so every search below shares one cache of model calls."""
    src = np.array(seq2seq.digits(n))[:, None]  # (S, 1)
    with no_grad():
        enc, state = model.encode(src)
    cache: dict[tuple, tuple[np.ndarray, object]] = {}

    def log_probs(tokens: tuple) -> np.ndarray:
        for k in range(len(tokens) + 1):  # fill in any missing ancestor first (iteratively)
            prefix = tokens[:k]
            if prefix in cache:
                continue
            parent = cache[prefix[:-1]][1] if prefix else state
            word = prefix[-1] if prefix else seq2seq.START
            with no_grad():
                dec, after = model.decoder(model.tgt_embed(np.array([[word]])), parent)  # (1, 1, H)
                logits, _ = model.read_out(dec, enc)
            cache[prefix] = (log_softmax(logits, axis=-1).numpy()[0, 0].astype(np.float64), after)
        return cache[tokens][0]

    return log_probs, cache


def greedy(log_probs: LogProbs, max_len: int, eos: int) -> tuple[tuple, float]:
    """The most likely word at every step, until <eos> or max_len words: (tokens, log-probability)."""
    tokens, score = (), 0.0
    while len(tokens) < max_len and not (tokens and tokens[-1] == eos):
        lp = log_probs(tokens)
        word = int(np.argmax(lp))
        tokens, score = tokens + (word,), score + float(lp[word])
    return tokens, score


def exact_search(log_probs: LogProbs, vocab: int, max_len: int, eos: int, start: tuple[tuple, float]
                 ) -> tuple[tuple, float, int]:
    """The most likely finished output (ends in <eos> or has max_len words), exactly: depth first over
    prefixes, dropping any prefix no more likely than the best output found so far (`start` to begin).
    Returns (tokens, log-probability, prefixes expanded)."""
    best, best_score = start
    stack, expanded = [((), 0.0)], 0
    while stack:
        tokens, score = stack.pop()
        if tokens and (tokens[-1] == eos or len(tokens) == max_len):
            if score > best_score:
                best, best_score = tokens, score
            continue
        lp = log_probs(tokens)
        expanded += 1
        for word in np.argsort(lp):  # the most likely word last, so it is popped first
            if score + lp[word] > best_score:
                stack.append((tokens + (int(word),), score + float(lp[word])))
    return best, best_score, expanded


def bleu(candidate: list[int], reference: list[int], max_n: int = 2) -> float:
    """exp(min(0, 1 - len(ref)/len(cand))) * prod_n p_n^(1/max_n'), p_n the clipped n-gram precision,
    n = 1..max_n' with max_n' = min(max_n, len(cand)); 0 for an empty candidate."""
    if not candidate:
        return 0.0
    orders = min(max_n, len(candidate))
    score = math.exp(min(0.0, 1 - len(reference) / len(candidate)))
    for n in range(1, orders + 1):
        cand = collections.Counter(tuple(candidate[i:i + n]) for i in range(len(candidate) - n + 1))
        ref = collections.Counter(tuple(reference[i:i + n]) for i in range(len(reference) - n + 1))
        score *= (sum(min(c, ref[g]) for g, c in cand.items()) / sum(cand.values())) ** (1 / orders)
    return score


def words_of(tokens: tuple, eos: int) -> list[int]:
    return list(tokens[:-1]) if tokens and tokens[-1] == eos else list(tokens)


def compare(model, numbers: np.ndarray) -> dict:
    """For each search: mean log-probability found, share at the exact optimum, exact match, BLEU."""
    V, eos = len(seq2seq.WORDS), seq2seq.EOS
    names = ["greedy"] + [f"beam {k}" for k in WIDTHS] + ["exact"]
    found: dict[str, list] = {name: [] for name in names}
    expanded, calls, seconds = [], 0, dict.fromkeys(names, 0.0)
    for n in numbers:
        log_probs, cache = scorer(model, int(n))
        clock = time.perf_counter()
        found["greedy"].append(greedy(log_probs, MAX_LEN, eos))
        seconds["greedy"] += time.perf_counter() - clock
        for k in WIDTHS:
            clock = time.perf_counter()
            found[f"beam {k}"].append(beam_search(log_probs, V, k, MAX_LEN, eos)[0])
            seconds[f"beam {k}"] += time.perf_counter() - clock
        clock = time.perf_counter()
        *best, count = exact_search(log_probs, V, MAX_LEN, eos, found[f"beam {WIDTHS[-1]}"][-1])
        seconds["exact"] += time.perf_counter() - clock
        found["exact"].append(tuple(best))
        expanded.append(count)
        calls += len(cache)
    optimum = np.array([s for _, s in found["exact"]])
    references = [[seq2seq.W[w] for w in seq2seq.in_words(int(n))] for n in numbers]
    table = {}
    for name, outs in found.items():
        scores = np.array([s for _, s in outs])
        cands = [words_of(t, eos) for t, _ in outs]
        table[name] = {"log_prob": float(scores.mean()),
                       "optimal": float(np.mean(scores >= optimum - 1e-9)),
                       "exact_match": float(np.mean([c == r and t[-1] == eos for c, r, (t, _) in
                                                     zip(cands, references, outs)])),
                       "bleu": float(np.mean([bleu(c, r) for c, r in zip(cands, references)])),
                       "words": float(np.mean([len(c) for c in cands])),
                       "seconds": seconds[name]}
    better = [i for i, ((g, _), (e, _)) in enumerate(zip(found["greedy"], found["exact"])) if g != e]
    return {"table": table, "expanded": float(np.mean(expanded)), "max_expanded": int(max(expanded)),
            "calls": calls / len(numbers), "greedy_not_optimal": [int(numbers[i]) for i in better],
            "found": found}


def beam_tree(model, n: int, width: int) -> list[list[tuple[tuple, float]]]:
    """The beam after each step for the number n: [[(tokens, log-probability), ...] per step]."""
    log_probs, _ = scorer(model, n)
    return [beam_search(log_probs, len(seq2seq.WORDS), width, steps, seq2seq.EOS)
            for steps in range(1, MAX_LEN + 1)]


def pick_example(result: dict, numbers: np.ndarray) -> int:
    """The number where greedy falls furthest below the optimum, preferring those the optimum translates
    right."""
    def at(n: int) -> int:
        return int(np.flatnonzero(numbers == n)[0])

    found = result["found"]
    missed = result["greedy_not_optimal"] or [int(numbers[0])]
    right = [n for n in missed if words_of(found["exact"][at(n)][0], seq2seq.EOS) ==
             [seq2seq.W[w] for w in seq2seq.in_words(n)]]
    return max(right or missed, key=lambda n: found["exact"][at(n)][1] - found["greedy"][at(n)][1])


def text(tokens: tuple) -> str:
    return " ".join(seq2seq.WORDS[t] for t in tokens)


def picture(results: dict, tree: list, n: int, width: int, which: str):
    fig, axes = plt.subplots(1, 3, figsize=(17, 5), gridspec_kw={"width_ratios": [1, 1, 1.7]})
    for ax, key, title in ((axes[0], "optimal", "finds the most likely output (exact search's)"),
                           (axes[1], "exact_match", "output is the right translation")):
        names = list(next(iter(results.values()))["table"])
        x = np.arange(len(names))
        bar = 0.8 / len(results)
        colours = ("tab:orange", "tab:green", "tab:blue")
        for k, ((label, r), colour) in enumerate(zip(results.items(), colours)):
            values = [r["table"][name][key] for name in names]
            bars = ax.bar(x + (k - (len(results) - 1) / 2) * bar, values, bar, color=colour, label=label)
            ax.bar_label(bars, [f"{v:.0%}" for v in values], fontsize=7, padding=1)
        ax.set_xticks(x, names)
        ax.set_ylim(0, 1.25)
        ax.set_title(f"Held-out numbers where the search's\n{title}", fontsize=10)
        ax.legend(loc="upper left", fontsize=8, ncol=len(results))
        ax.grid(axis="y", alpha=0.3)
    ax = axes[2]
    for step, beam in enumerate(tree):
        for rank, (tokens, score) in enumerate(beam):
            last = tokens[-1] == seq2seq.EOS or len(tokens) < step + 1
            words = text(tokens).split()
            lines = [" ".join(words[:2]), " ".join(words[2:]), f"P = {math.exp(score):.3f}"]
            ax.text(step, -rank, "\n".join(lines),
                    ha="center", va="center", fontsize=7,
                    bbox={"boxstyle": "round", "fc": "#dde8f5" if not last else "#eeeeee", "ec": "none"})
    ax.set_xlim(-0.6, len(tree) - 0.4)
    ax.set_ylim(-width + 0.4, 0.6)
    ax.set_xticks(range(len(tree)), [f"step {s + 1}" for s in range(len(tree))])
    ax.set_yticks(range(0, -width, -1), [f"#{r + 1}" for r in range(width)])
    ax.set_title(f"Beam {width} for {n} ({which}): the kept prefixes and their probabilities;"
                 "\ngrey: finished (ended by <eos>), kept as they are", fontsize=10)
    return fig


def main(argv=None) -> dict:
    args = parse_args("23_beam_search", __doc__, argv)
    stages = (40, 150) if args.quick else (40, 150, 1000)
    numbers = np.random.default_rng(0).permutation(np.arange(1, 1000))  # lesson 14's split
    test_set, train_set = np.sort(numbers[:150]), numbers[150:]
    print(f"Lesson 14's task: {len(test_set)} held-out numbers, digits -> words. Searches over outputs of up "
          f"to {MAX_LEN} tokens from {len(seq2seq.WORDS)} words.")
    results, models = {}, {}
    for steps in stages:
        label = f"after {steps} steps"
        models[label], _ = seq2seq.train(False, steps, train_set, test_set)
        results[label] = r = compare(models[label], test_set)
        print(f"\n  Encoder-decoder {label}: exact search expands {r['expanded']:.1f} prefixes per number "
              f"(at most {r['max_expanded']}); {r['calls']:.1f} decoder steps per number for all searches")
        print(f"    {'search':8} {'mean log P':>10} {'finds optimum':>14} {'exact match':>12} {'BLEU':>6} "
              f"{'words':>6}")
        for name, row in r["table"].items():
            print(f"    {name:8} {row['log_prob']:>10.3f} {row['optimal']:>14.1%} "
                  f"{row['exact_match']:>12.1%} {row['bleu']:>6.3f} {row['words']:>6.2f}")
    early, trained = results[f"after {stages[0]} steps"], results[f"after {stages[-1]} steps"]
    shown = pick_example(early, test_set)
    idx = int(np.flatnonzero(test_set == shown)[0])
    g, e = early["found"]["greedy"][idx], early["found"]["exact"][idx]
    print(f"\n  After {stages[0]} steps, {shown}: greedy writes '{text(g[0])}' (P = {math.exp(g[1]):.4f}), "
          f"exact search finds '{text(e[0])}' (P = {math.exp(e[1]):.4f}).")
    width = 4
    save(picture(results, beam_tree(models[f"after {stages[0]} steps"], shown, width), shown, width,
                 f"after {stages[0]} steps"), args.out, "beam_search.png")
    tables = {label: r["table"] for label, r in results.items()}
    return {"stages": list(stages), "tables": tables,
            "early": early["table"], "trained": trained["table"],
            "early_expanded": early["expanded"], "trained_expanded": trained["expanded"],
            "early_greedy_not_optimal": len(early["greedy_not_optimal"]),
            "trained_greedy_not_optimal": len(trained["greedy_not_optimal"]),
            "shown": shown, "shown_greedy": [text(g[0]), math.exp(g[1])],
            "shown_exact": [text(e[0]), math.exp(e[1])],
            "test_size": len(test_set),
            "reference_words": float(np.mean([len(seq2seq.in_words(int(n))) for n in test_set]))}


def readme_figures(r: dict) -> dict[str, str]:
    e, t = r["early"], r["trained"]
    return {"early_optimal": f"greedy {e['greedy']['optimal']:.0%}, beam 2 {e['beam 2']['optimal']:.0%}, "
                             f"beam 4 {e['beam 4']['optimal']:.0%}, beam 8 {e['beam 8']['optimal']:.0%}",
            "early_match": f"greedy {e['greedy']['exact_match']:.1%}, "
                           f"beam 8 {e['beam 8']['exact_match']:.1%}, exact {e['exact']['exact_match']:.1%}",
            "early_logp": f"{e['greedy']['log_prob']:.3f} (greedy) to {e['exact']['log_prob']:.3f} (exact)",
            "early_words": f"{e['greedy']['words']:.2f} words (greedy) against "
                           f"{e['exact']['words']:.2f} (exact); the right translations have "
                           f"{r['reference_words']:.2f}",
            "trained_optimal": f"greedy {t['greedy']['optimal']:.0%}, beam 2 {t['beam 2']['optimal']:.0%}",
            "trained_match": f"{t['greedy']['exact_match']:.1%}",
            "expanded": f"{r['early_expanded']:.1f} prefixes",
            "shown": f"{r['shown']}: greedy writes \"{r['shown_greedy'][0]}\" "
                     f"(P = {r['shown_greedy'][1]:.4f})",
            "shown_exact": f"\"{r['shown_exact'][0]}\" (P = {r['shown_exact'][1]:.4f})"}


if __name__ == "__main__":
    main()
