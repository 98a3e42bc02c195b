"""The main job (`make demo`): verify gradients, train a character-level LSTM, look at what it learned.

    python demos/main.py            # about two minutes on a 2-core laptop
    python demos/main.py --quick    # a smaller model for a few seconds (CI)

1. A tanh RNN written with core ops, its loss summed over time steps, checked against finite
   differences in float64: the report lists each weight's worst element.
2. A Hessian-vector product (the gradient of <grad L, v>) compared with finite differences of the
   gradient: second-order autograd at work.
3. The library's RNN, LSTM, GRU (two layers each) and multi-head attention, gradchecked with respect to
   their input and every parameter.
4. A character-level LSTM trained on the built-in corpus (CPython's reference documentation) with
   truncated BPTT, Adam, gradient clipping and a warm-up + cosine schedule, under a progress bar.
5. Its validation loss next to the count baselines (uniform, unigram, bigram, trigram), samples, and
   two sentences ranked by their log-probability.
6. The trained model's graph unrolled over a few steps, time steps as boxes, coloured by gradient norm.

Everything is written under out/main/ (checkpoint, loss curve, graph pictures; out/main-quick/ with --quick,
so a quick run never replaces the full one); the last lines say where.
Continue training the same model with `tinygrad-seq train --out out/main --resume --steps N` (the last line
prints the command with the path of `tinygrad-seq` when the venv is not activated).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

import numpy as np

import tinygrad_seq as ts
from tinygrad_seq import Tensor, gradcheck, graph
from tinygrad_seq.functional import cross_entropy
from tinygrad_seq.nn.lm.checks import LAYERS, gradcheck_layer
from tinygrad_seq.nn.lm.models import LMConfig, build_model, chunk_loss, unfused
from tinygrad_seq.nn.lm.sampling import generate, score
from tinygrad_seq.nn.lm.text import load_corpus
from tinygrad_seq.nn.lm.threads import DEFAULT_THREADS, blas_threads
from tinygrad_seq.nn.lm.training import TrainConfig, Trainer, fingerprint, prepare_data


def rnn_loss(x: Tensor, targets: np.ndarray, w_xh: Tensor, w_hh: Tensor, b: Tensor, w_hy: Tensor) -> Tensor:
    """Sum over time steps of the cross-entropy of a tanh RNN's predictions."""
    h = ts.zeros(x.shape[1], w_hh.shape[0], dtype=x.dtype)
    loss = 0.0
    for t in range(x.shape[0]):
        with ts.scope(f"t={t}"):
            h = ts.tag((x[t] @ w_xh + h @ w_hh + b).tanh(), "h")  # (B, H), named for pictures
            loss = loss + cross_entropy(h @ w_hy, targets[t], reduction="sum")
    return loss


def indent(text: str) -> str:
    return "   " + str(text).replace("\n", "\n   ")


def check_core_rnn(quick: bool, rng: np.random.Generator) -> None:
    T, B, D, H, V = (4, 2, 3, 5, 4) if quick else (8, 3, 5, 8, 6)
    print(f"1. Gradient check: tanh RNN from core ops, T={T} steps, batch {B}, input {D}, hidden {H}, "
          f"{V} classes")
    x = Tensor(rng.standard_normal((T, B, D)))
    targets = rng.integers(0, V, (T, B))
    weights = {
        "W_xh": Tensor(rng.standard_normal((D, H)) * 0.5, requires_grad=True),
        "W_hh": Tensor(rng.standard_normal((H, H)) * 0.5, requires_grad=True),
        "b": Tensor(np.zeros(H), requires_grad=True),
        "W_hy": Tensor(rng.standard_normal((H, V)) * 0.5, requires_grad=True),
    }
    report = gradcheck(lambda *w: rnn_loss(x, targets, *w), list(weights.values()), raise_exception=False)
    print("   inputs, in order:", ", ".join(weights))
    print(indent(report))
    if not report:
        raise SystemExit("gradient check failed")

    print("\n2. Hessian-vector product of the same loss with respect to W_hh")
    w_hh = weights["W_hh"]
    v = Tensor(rng.standard_normal(w_hh.shape))

    def gradient(w: Tensor, create_graph: bool = False) -> Tensor:
        loss = rnn_loss(x, targets, weights["W_xh"], w, weights["b"], weights["W_hy"])
        return ts.grad(loss, [w], create_graph=create_graph)[0]

    (hvp,) = ts.grad((gradient(w_hh, create_graph=True) * v).sum(), [w_hh])
    eps = 1e-5
    plus = gradient(Tensor(w_hh.numpy() + eps * v.numpy(), requires_grad=True)).numpy()
    minus = gradient(Tensor(w_hh.numpy() - eps * v.numpy(), requires_grad=True)).numpy()
    numeric = (plus - minus) / (2 * eps)
    error = np.abs(hvp.numpy() - numeric).max()
    print(f"   |Hv| = {np.linalg.norm(hvp.numpy()):.6f}; "
          f"largest difference from finite differences {error:.2e}")
    if error > 1e-6:
        raise SystemExit("Hessian-vector product disagrees with finite differences")


def check_layers(rng: np.random.Generator) -> None:
    print("\n3. Gradient check of the library's layers (float64, input and every parameter)")
    failed = []
    for kind in LAYERS:
        report = gradcheck_layer(kind, rng)
        worst = max(max(c.max_abs_err for c in report.checks), 0.0)
        print(f"   {kind:<5} {len(report.checks):>2} inputs   largest abs error {worst:.1e}   "
              + ("passed" if report else "FAILED"))
        if not report:
            print(indent(report))
            failed.append(kind)
    if failed:
        raise SystemExit(f"gradient check failed for {', '.join(failed)}")
    print("   (the full tables: tinygrad-seq gradcheck --layer all)")


def train_lm(quick: bool, out: str) -> Trainer:
    cfg = TrainConfig(seq_len=32, batch_size=16 if quick else 64, lr=8e-3, eval_every=20 if quick else 100,
                      eval_tokens=3_000 if quick else 20_000, warmup=50)
    text = load_corpus("pydoc")
    if quick:
        text = text[:60_000]
    vocab, train_ids, valid_ids = prepare_data(text, cfg)
    hidden = 48 if quick else 256
    model = build_model(LMConfig("lstm", len(vocab), hidden=hidden, context=cfg.seq_len),
                        rng=np.random.default_rng(cfg.seed))
    print(f"\n4. Training a character-level LSTM ({hidden} hidden, {model.num_parameters():,} parameters) on "
          f"{len(text) / 1000:.0f} KB of CPython's reference documentation")
    print(f"   {len(train_ids):,} training / {len(valid_ids):,} validation characters, vocabulary "
          f"{len(vocab)}; batches of {cfg.batch_size} streams x {cfg.seq_len} steps")
    trainer = Trainer(model, vocab, train_ids, valid_ids, cfg, out, corpus_fingerprint=fingerprint(text))
    return trainer


def report_lm(trainer: Trainer, result, quick: bool) -> None:
    print(f"\n5. After {result.step} steps ({trainer.seconds:.0f} s, "
          f"{trainer.tokens / max(trainer.seconds, 1e-9):,.0f} characters/s): validation loss per character")
    rows = [("LSTM", result.evaluation)] + [(name, e) for name, e in result.baselines.items()]
    print(f"   {'':<10}{'nats':>8}{'bits':>8}{'perplexity':>12}")
    for name, e in rows:
        print(f"   {name:<10}{e.loss:>8.3f}{e.bits_per_token:>8.3f}{e.perplexity:>12.2f}")
    gap = result.baselines["trigram"].loss - result.evaluation.loss
    verdict = "beats the trigram by" if gap > 0 else "is still behind the trigram by"
    print(f"   the LSTM {verdict} {abs(gap):.3f} nats per character")
    print("\n   samples (temperature 0.8):")
    for seed, prompt in enumerate(["The ", "A class ", "If the "]):
        sample = prompt + generate(trainer.model, trainer.vocab, prompt, 60 if quick else 120, 0.8, seed=seed)
        print("   | " + sample.replace("\n", "\n   | "))
    sentences = ["The return statement leaves the current function call.",
                 "statement function The current call leaves the return."]
    print("\n   log-probability (nats) of a sentence and of the same words scrambled:")
    for s in sorted((score(trainer.model, trainer.vocab, s) for s in sentences), key=lambda s: -s.total):
        print(f"   {s.total:9.1f}  {s.text}")


def draw_graph(trainer: Trainer, out: str, steps: int) -> list[str]:
    print(f"\n6. The trained LSTM unrolled over {steps} characters, each time step one box, coloured by the "
          "gradient norm of the loss")
    ids = trainer.valid_ids[: steps + 1]
    trainer.model.eval()
    with unfused(trainer.model):  # trained fused; the same weights as small ops draw every time step
        loss, _ = chunk_loss(trainer.model, ids[:-1, None], ids[1:, None])
    written = []
    for fmt in ("svg", "png"):
        try:
            written.append(graph.render(loss, path=os.path.join(out, f"lstm_graph.{fmt}"), collapse=["*.t=*"],
                                        params=trainer.model))
        except graph.GraphvizNotFound as error:
            print(indent(error))
            break
    for path in written:
        print(f"   wrote {path}")
    return written


def default_out(quick: bool) -> str:
    """out/main, or out/main-quick: a quick run never replaces the full one (nor its resume hint)."""
    return os.path.join("out", "main-quick" if quick else "main")


def command_name() -> str:
    """`tinygrad-seq` if the shell finds it (an activated venv), else its path beside this Python."""
    beside = os.path.join(os.path.dirname(sys.executable), "tinygrad-seq")
    if shutil.which("tinygrad-seq") == beside or not os.path.exists(beside):
        return "tinygrad-seq"
    return os.path.relpath(beside) if not os.path.relpath(beside).startswith("..") else beside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for CI")
    parser.add_argument("--minutes", type=float, default=1.25, help="training time (without --quick)")
    parser.add_argument("--out", help="where to write [out/main; out/main-quick with --quick]")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="BLAS threads [%(default)s]")
    args = parser.parse_args()
    blas_threads(args.threads)  # one by default: nn/lm/threads.py says why
    args.out = args.out or default_out(args.quick)
    rng = np.random.default_rng(0)

    check_core_rnn(args.quick, rng)
    check_layers(rng)
    trainer = train_lm(args.quick, args.out)
    result = trainer.run(steps=60 if args.quick else None, minutes=None if args.quick else args.minutes,
                         sample_length=0, threads=args.threads)
    if result.interrupted:
        print(f"\ninterrupted: checkpoint saved to {result.checkpoint}")
        return
    report_lm(trainer, result, args.quick)
    pictures = draw_graph(trainer, args.out, steps=6 if args.quick else 10)

    print(f"\nWritten under {args.out}/:")
    for path in [result.checkpoint, result.curve, *pictures]:
        print(f"   {path}")
    command = command_name()
    print(f"Continue training: {command} train --out {args.out} --resume --minutes 5")
    if command != "tinygrad-seq":
        print(f"   (or `source {os.path.dirname(command)}/activate` once: then `tinygrad-seq` works as is)")
    print("\nAll checks passed.")


if __name__ == "__main__":
    main()
