"""Train on five of Jane Austen's novels, score on the sixth (Persuasion): the defaults next to count models.

    python benchmarks/austen_heldout.py                   # 5 CPU-minutes per model, two at a time
    python benchmarks/austen_heldout.py --cpu-minutes 1   # a quick look
    python benchmarks/austen_heldout.py --corpus austen-short   # two novels only: many passes in 5 minutes

The texts come from the Debian package r-cran-janeaustenr (public domain; see benchmarks/austen.py): the
models train on Emma, Mansfield Park, Northanger Abbey, Pride and Prejudice and Sense and Sensibility (their
last 10% kept for validation during training) and never see Persuasion, on which each is scored: every
character predicted once, in order, with the context it would have reading the book (`evaluate`).

The systems: `tinygrad-seq train` with each kind's defaults (the config dataclasses' per-kind values; the
Transformer's are the sizes and optimizer settings of a well-known CPU recipe for a character-level
Transformer: 4 layers, 4 heads, width 128, block 64, batch 12, learning rate 1e-3 after 100 warm-up
steps, gradient clip 1, tied embeddings), given the same budget of CPU time on one thread, and
interpolated Kneser-Ney count models of orders 3, 5 and 7 (the best order here) fit on the same training
characters. Each run is a row of benchmarks/results/austen_heldout.jsonl (re-running skips the rows
already there, and lists them all); the table is printed at the end.
"""

from __future__ import annotations

import argparse

from lm_sweep import HELD_OUT, corpus_text, recorded, run_all, spec, test_ids  # sets BLAS's threads first

# isort: split
from nn.lm.ngram import NGramLM
from nn.lm.text import Vocab
from nn.lm.training import TrainConfig, prepare_data

RESULTS_NAME = "austen_heldout.jsonl"


def count_baselines(corpus: str, orders: tuple[int, ...] = (3, 5, 7)) -> dict[int, float]:
    """Nats/char on Persuasion of Kneser-Ney models of each order, fit on the models' training split."""
    text = corpus_text(corpus)
    vocab, train_ids, _ = prepare_data(text, TrainConfig(corpus=corpus), vocab=Vocab.chars(text))
    ids, _ = test_ids(vocab, corpus_text(HELD_OUT))
    out = {}
    for order in orders:
        total, count = NGramLM(order, len(vocab)).fit(train_ids).nll(ids)
        out[order] = total / count
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-minutes", type=float, default=5.0, help="training budget of each model")
    parser.add_argument("--kind", action="append", choices=["rnn", "lstm", "gru", "transformer"],
                        help="kinds trained with their defaults [lstm, gru, transformer]")
    parser.add_argument("--corpus", choices=["austen", "austen-short"], default="austen",
                        help="the five novels, or the two shortest of them [austen]")
    parser.add_argument("--jobs", type=int, default=2, help="models trained at once")
    parser.add_argument("--tag", default="", help="a round of runs (the same settings again, as new rows)")
    args = parser.parse_args()
    from lm_sweep import RESULTS

    results = RESULTS.with_name(RESULTS_NAME)
    kinds = args.kind or ["lstm", "gru", "transformer"]
    specs = [spec(kind, args.corpus, args.cpu_minutes, {}, test=HELD_OUT, tag=args.tag) for kind in kinds]
    run_all(specs, args.jobs, results)
    rows = [r for r in recorded(results)
            if (r["budget"], r["corpus"], r.get("tag", "")) == (args.cpu_minutes, args.corpus, args.tag)]
    novels = "the other five novels" if args.corpus == "austen" else "two of the others"
    print(f"\nPersuasion ({rows[0]['test_tokens']:,} predictions), trained on {novels} for "
          f"{args.cpu_minutes:g} CPU-minutes each, one thread:\n")
    print("| system | nats/char on Persuasion | on the training novels' held-out 10% | steps |")
    print("|---|---|---|---|")
    for row in sorted(rows, key=lambda r: r["test_loss"]):
        m, t = row["model"], row["train"]
        name = (f"{row['kind']} {m['hidden']} x {m['layers']}, T {t['seq_len']}, B {t['batch_size']}, "
                f"lr {t['lr']:g}{', tied' if m['tie_weights'] else ''}")
        print(f"| {name} | {row['test_loss']:.3f} | {row['valid_loss']:.3f} | {row['steps']:,} |")
    for order, loss in count_baselines(args.corpus).items():
        print(f"| {order}-gram (Kneser-Ney) | {loss:.3f} | | |")


if __name__ == "__main__":
    main()
