"""The `tinygrad-seq` command (also `python -m tinygrad_seq`): train, eval, sample, score, graph, gradcheck,
export.

    tinygrad-seq train --corpus pydoc --model lstm --minutes 5 --out runs/lstm
    tinygrad-seq eval runs/lstm --json
    tinygrad-seq sample runs/lstm --prompt "The " --temperature 0.8
    tinygrad-seq score runs/lstm "the apple and pear salad" "the apple and pair salad"
    tinygrad-seq graph runs/lstm --steps 6 -o lstm.svg
    tinygrad-seq graph runs/lstm --steps 40 --html -o lstm.html
    tinygrad-seq gradcheck --layer all
    tinygrad-seq gradcheck runs/lstm --localize
    tinygrad-seq export runs/lstm -o model.safetensors
    eval "$(tinygrad-seq completion bash)"

Bad input (a missing file, an empty corpus, a checkpoint from another model, a prompt with unknown
characters, sizes that cannot fit in memory) gets one line on stderr and exit code 2, never a traceback;
a missing optional dependency (an extra, or Graphviz's `dot` for pictures) gets one line and exit code 3.
Ctrl-C, SIGTERM or SIGHUP (a closed terminal) during training saves a checkpoint and exits with code 130,
143 or 129; a closed stdout (``train ... | head``) only stops the printing: training goes on to its end
and saves. Text the terminal's encoding cannot show is printed as escapes. Only one training run at a
time may use an --out directory; a NaN or infinite loss stops training, naming the step.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_seq import __version__
from tinygrad_seq.deprecated import warn_renamed
from tinygrad_seq.extras import MissingExtra

from . import checks
from .checkpoint import CheckpointError, load_checkpoint, load_model
from .cli_help import EXAMPLES, HelpFormatter, completion_script, epilog
from .export import ExportError
from .memory import MemoryBudgetError, check_fits, describe
from .models import MODELS, Evaluation, LMConfig, baselines, build_model, chunk_loss, evaluate, unfused
from .progress import STOP_SIGNALS, Output, raise_terminated, stop_signal, work_bar
from .rundir import LOCK, RunDirError, claim
from .sampling import generate, score, start_id
from .text import CORPORA, CorpusError, UnknownCharacterError, Vocab, corpus_name, load_corpus
from .threads import DEFAULT_THREADS, blas_threads
from .training import (
    CHECKPOINT,
    CURVE,
    TrainConfig,
    Trainer,
    TrainingError,
    fingerprint,
    prepare_data,
    split_text,
)

__all__ = ["EXIT_MISSING_DEPENDENCY", "UsageError", "build_parser", "main"]

PROG = "tinygrad-seq"
EXIT_MISSING_DEPENDENCY = 3  # an optional package (an extra) or Graphviz's `dot` is not installed


def __getattr__(name: str) -> Any:
    """`gradcheck_layer` and `gradcheck_model`, which moved to `nn.lm.checks`: kept for one release."""
    if name in ("gradcheck_layer", "gradcheck_model"):
        warn_renamed(f"tinygrad_seq.nn.lm.cli.{name}", f"tinygrad_seq.nn.lm.checks.{name}")
        return getattr(checks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class UsageError(Exception):
    """Input the command cannot work with; the message is printed as one line, exit code 2."""


def _checkpoint_path(directory: str) -> str:
    """DIR/checkpoint.npz (or the .npz file itself); a clear error if there is none."""
    if os.path.isfile(directory) and not directory.endswith(".npz"):
        raise UsageError(f"{directory!r} is a file, not a training directory: give the directory that holds "
                         f"{CHECKPOINT} (or the checkpoint .npz itself)")
    path = directory if directory.endswith(".npz") else os.path.join(directory, CHECKPOINT)
    if not os.path.exists(path):
        exists = os.path.isdir(directory)
        where = f"{directory!r} has no {CHECKPOINT}" if exists else f"{directory!r} does not exist"
        raise UsageError(f"{where}; train a model first: {PROG} train --out {directory}")
    return path


# -------------------------------------------------------------------------------------------- train


def _given(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The options of `train` the user gave that set a field of `config` (LMConfig or TrainConfig).

    A corpus file is recorded by its resolved path, so the run can be evaluated or resumed from anywhere.
    """
    given = {k: getattr(args, k) for k in _option_fields(config) if getattr(args, k) is not None}
    if "corpus" in given:
        given["corpus"] = corpus_name(given["corpus"])
    return given


def _train(args: argparse.Namespace) -> int:
    with claim(args.out):  # before anything else: a second run into the same --out is told at once
        return _train_claimed(args)


def _train_claimed(args: argparse.Namespace) -> int:
    given_model, given_train = _given(args, LMConfig), _given(args, TrainConfig)
    path = os.path.join(args.out, CHECKPOINT)
    if args.resume:
        trainer = _resume(args, path, given_model, given_train)
    else:
        if os.path.exists(path):
            raise UsageError(f"{args.out!r} already holds a checkpoint (step {load_checkpoint(path).step}); "
                             "pass --resume to continue it, or choose another --out")
        trainer = _fresh(args, given_model, given_train)
    model, cfg = trainer.model, trainer.config
    c = model.config
    say = lambda text="": print(text, flush=True)
    say(f"{c.model} language model: {c.hidden} hidden x {c.layers} layer(s), {model.num_parameters():,} "
        f"parameters; {cfg.level} level, vocabulary {len(trainer.vocab)}")
    say(f"corpus {cfg.corpus!r}: {len(trainer.train_ids):,} training / {len(trainer.valid_ids):,} validation "
        f"tokens; batches of {cfg.batch_size} streams x {cfg.seq_len} steps")
    if trainer.step:
        say(f"resuming at step {trainer.step} (epoch {trainer.epoch})")
    n = min(cfg.eval_tokens or len(trainer.valid_ids), len(trainer.valid_ids))
    trigram = trainer.trigram()
    where = (f"where the trigram baseline scores {trigram:.3f} nats/token" if math.isfinite(trigram) else
             f"with no trigram baseline (a vocabulary of {len(trainer.vocab):,} is too large to count them)")
    say(f"validation every {cfg.eval_every} steps on {n:,} tokens, {where}\n")
    if args.minutes is not None and args.cpu_minutes is not None:
        raise UsageError("give --minutes (wall-clock time) or --cpu-minutes (CPU time), not both")
    cpu = args.cpu_minutes is not None
    result = trainer.run(steps=args.steps, minutes=args.cpu_minutes if cpu else args.minutes, sample_length=0,
                         threads=args.threads, cpu_time=cpu)
    if result.interrupted:
        how = "interrupted" if result.signal in (0, signal.SIGINT) else \
            f"stopped by {signal.Signals(result.signal).name}"
        print(f"{how} at step {result.step}: checkpoint saved to {result.checkpoint}\n"
              f"continue with: {PROG} train --out {args.out} --resume", file=sys.stderr, flush=True)
        return 128 + (result.signal or signal.SIGINT)
    if result.evaluation is not None:
        unit = "CPU minutes" if cpu else "minutes"
        say(f"\nafter {result.step} steps ({trainer.seconds / 60:.1f} {unit} of training, "
            f"{trainer.tokens / max(trainer.seconds, 1e-9):,.0f} tokens/s):")
        say(_table(result.evaluation, result.baselines, c.model))
        for line in unk_report(result.evaluation, trainer.vocab):
            say(line)
    # a text without line breaks has no token that starts a line: start from its first token instead
    vocab = trainer.vocab
    prompt = "" if start_id(vocab) is not None else vocab.itos[int(trainer.train_ids[0])]
    say("\nsamples (temperature 0.8" + (f", after the corpus's first token {prompt!r}):" if prompt else "):"))
    try:
        samples = _samples(model, vocab, 3, 200, temperature=0.8, top_k=None, seed=0, prompt=prompt)
    except ValueError as error:  # outputs that overflowed: the run is saved, the summary still ends
        samples = [f"(none: {error})"]
    for text in samples:
        say("  " + text.replace("\n", "\n  "))
        say("  ---")
    say(f"\ncheckpoint: {result.checkpoint}\nloss curve: {result.curve or 'not drawn (see above)'}")
    return 0


LARGE_CORPUS = 1 << 24  # characters: encoding takes seconds from here on, so say how far it is


def _preparing(characters: int) -> Any:
    """A progress callback for `prepare_data` that prints a line every few seconds, for a large corpus."""
    if characters < LARGE_CORPUS:
        return None
    last = [-math.inf]

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 2.0 or done == total:
            last[0] = now
            print(f"preparing the corpus: {done / total:.0%} of {total:,} characters encoded", flush=True)

    return report


def _fresh(args: argparse.Namespace, given_model: dict, given_train: dict) -> Trainer:
    kind = given_model.get("model", LMConfig.model)
    train_cfg = TrainConfig(**(TrainConfig.defaults(kind) | given_train))
    text = load_corpus(train_cfg.corpus)
    vocab, train_ids, valid_ids = prepare_data(text, train_cfg, progress=_preparing(len(text)))
    try:
        config = LMConfig(vocab_size=len(vocab), context=train_cfg.seq_len,
                          **(LMConfig.defaults(kind) | given_model))
        check_fits(config, train_cfg.seq_len, train_cfg.batch_size, "one training step")
    except ValueError as error:  # including MemoryBudgetError: refused before anything is allocated
        raise UsageError(str(error)) from None
    model = build_model(config, rng=np.random.default_rng(train_cfg.seed))
    return Trainer(model, vocab, train_ids, valid_ids, train_cfg, args.out,
                   corpus_fingerprint=fingerprint(text))


def _resume(args: argparse.Namespace, path: str, given_model: dict, given_train: dict) -> Trainer:
    if not os.path.exists(path):
        raise UsageError(
            f"--resume: {args.out!r} has no {CHECKPOINT} to resume; drop --resume to start a new run")
    model, vocab, ckpt = load_model(path, resume=True)
    saved_model = ckpt.config.to_dict()
    saved_train = ckpt.meta.get("train", {})
    if not isinstance(saved_train, dict):
        raise CheckpointError(f"{path!r} has unreadable training settings")
    saved_train = dict(saved_train)
    if isinstance(saved_train.get("corpus"), str):  # older runs stored the path as typed
        saved_train["corpus"] = corpus_name(saved_train["corpus"])
    moved = given_train.get("corpus")
    if moved is not None and moved != saved_train.get("corpus"):  # the same text under a new path is fine
        if fingerprint(load_corpus(moved)) == ckpt.meta.get("corpus_fingerprint"):
            saved_train["corpus"] = moved
            ckpt.meta["train"] = saved_train  # the run records the new path from now on
    elif moved is None and isinstance(saved_train.get("corpus"), str) and \
            saved_train["corpus"] not in CORPORA and not os.path.exists(saved_train["corpus"]):
        raise UsageError(f"the corpus this run was trained on, {saved_train['corpus']!r}, does not exist any "
                         "more; if it moved, pass its new path with --corpus (its contents are checked)")
    clashes = [f"--{k.replace('_', '-')} {v} (the checkpoint has {saved_model[k]})"
               for k, v in given_model.items() if saved_model.get(k) != v]
    clashes += [f"--{k.replace('_', '-')} {v} (the checkpoint has {saved_train.get(k)})"
                for k, v in given_train.items() if saved_train.get(k) != v]
    if clashes:
        raise UsageError(f"--resume continues the run saved in {args.out!r} with its own settings; these "
                         "differ: " + "; ".join(clashes) + ". Drop them, or train anew in another --out")
    train_cfg = TrainConfig.from_dict(saved_train)
    text = load_corpus(train_cfg.corpus)
    vocab_now, train_ids, valid_ids = prepare_data(text, train_cfg, progress=_preparing(len(text)))
    if vocab_now != vocab:
        raise UsageError(f"the corpus {train_cfg.corpus!r} no longer gives the checkpoint's vocabulary; "
                         "it changed since training began")
    model.train()
    return Trainer.resume(ckpt, model, train_ids, valid_ids, args.out, corpus_fingerprint=fingerprint(text))


# ---------------------------------------------------------------------------------- eval, sample, score


def _table(model_eval: Evaluation, base: dict[str, Evaluation], name: str) -> str:
    rows = [(f"model ({name})", model_eval)] + [(f"{k} baseline" if k == "uniform" else
                                                  f"{k} (Kneser-Ney)" if k in ("bigram", "trigram") else k, e)
                                                 for k, e in base.items()]
    lines = [f"  {'':<24}{'nats/token':>11}{'bits/token':>12}{'perplexity':>12}"]
    lines += [f"  {label:<24}{_number(e.loss, 3):>11}{_number(e.bits_per_token, 3):>12}"
              f"{_number(e.perplexity):>12}" for label, e in rows]
    lines.append(f"  ({model_eval.tokens:,} tokens predicted)")
    return "\n".join(lines)


def _number(x: float, decimals: int = 2) -> str:
    """A number for a table: fixed decimals, or three significant digits when it is huge (1e+304)."""
    return f"{x:.{decimals}f}" if abs(x) < 1e6 or not math.isfinite(x) else f"{x:.3g}"


def _json_safe(value: Any) -> Any:
    """`value` with every NaN or infinity made null, so that the output is JSON (which has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _training_split(ckpt: Any, vocab: Vocab, train_cfg: TrainConfig) -> tuple[Any, Any, str, str]:
    """(train ids, valid ids, validation text, "") of the corpus the model was trained on, read with the
    checkpoint's own vocabulary; (None, None, "", why) if that corpus cannot be loaded or is no longer the
    text trained on."""
    try:
        text = load_corpus(train_cfg.corpus)
    except CorpusError as error:
        return None, None, "", f"the training corpus could not be loaded ({error})"
    saved = ckpt.meta.get("corpus_fingerprint")
    now = fingerprint(text)
    try:
        if saved and now != saved or not saved and prepare_data(text, train_cfg)[0] != vocab:
            return None, None, "", (f"the corpus {train_cfg.corpus!r} changed since this model was trained "
                                    f"(fingerprint {now}, the checkpoint's {saved or 'not recorded'})")
        _, train_ids, valid_ids = prepare_data(text, train_cfg, vocab=vocab)
    except TrainingError as error:
        return None, None, "", str(error)
    return train_ids, valid_ids, split_text(text, train_cfg.valid_fraction)[1], ""


UNK_WARNING = 0.05  # above this share of <unk> among the predicted tokens, a loss says little: warn


def unk_report(result: Evaluation, vocab: Vocab, text: str | None = None) -> list[str]:
    """Lines that go next to a loss: the share of <unk> among its predicted tokens and the words behind
    them, a warning above `UNK_WARNING`; nothing for a vocabulary without <unk>."""
    if vocab.unk_id is None:
        return []
    unknown = vocab.unknown(text) if text else None
    kind = "words" if vocab.level == "word" else "characters"
    line = f"  <unk>: {100 * result.unk_share:.1f}% of the predicted tokens ({result.unk:,})"
    if unknown:
        shown = ", ".join(repr(w) for w, _ in unknown.most_common(5))
        line += f"; {len(unknown):,} distinct {kind} not in the vocabulary, e.g. {shown}"
    lines = [line]
    if result.unk_share > UNK_WARNING:
        lines.append(f"  warning: {100 * result.unk_share:.0f}% of the tokens are <unk>, so the loss mostly "
                     f"says how well <unk> is predicted; compare models on text with fewer unknown {kind} "
                     "(or a larger vocabulary: --max-vocab, --min-freq)")
    return lines


def _eval(args: argparse.Namespace) -> int:
    model, vocab, ckpt = load_model(_checkpoint_path(args.dir))
    train_cfg = TrainConfig.from_dict(ckpt.meta.get("train", {}))
    train_ids, valid_ids, text, why = _training_split(ckpt, vocab, train_cfg)
    if args.corpus is not None:
        text = load_corpus(args.corpus)
        valid_ids, split = vocab.encode(text), args.corpus
    elif why or valid_ids is None:
        raise UsageError(f"{why}: its validation split is not the text the model was measured on; evaluate "
                         "on a file instead with --corpus PATH (read with the checkpoint's vocabulary)")
    else:
        split = "validation split"
    batch = args.batch_size or train_cfg.eval_batch
    try:
        with work_bar(sys.stderr, len(valid_ids), "eval") as advance:
            result = evaluate(model, valid_ids, batch_size=batch, unk_id=vocab.unk_id, advance=advance)
    except ValueError as error:  # fewer than 2 tokens
        raise UsageError(str(error)) from None
    base = baselines(train_ids, valid_ids, len(vocab)) if train_ids is not None else {}
    notes = unk_report(result, vocab, text)
    if args.json:
        unknown = vocab.unknown(text) if vocab.unk_id is not None else {}
        out = result.to_dict() | {"baselines": {k: e.to_dict() for k, e in base.items()}, "split": split,
                                  "step": ckpt.step, "model": ckpt.config.to_dict(),
                                  "unknown_types": len(unknown),
                                  "unk_warning": result.unk_share > UNK_WARNING}
        print(json.dumps(_json_safe(out), allow_nan=False))
        return 0
    print(f"{ckpt.config.model} model at step {ckpt.step}, on the {split} of {train_cfg.corpus!r}"
          if split == "validation split" else f"{ckpt.config.model} model at step {ckpt.step}, on {split}")
    print(_table(result, base, ckpt.config.model))
    for line in notes:
        print(line)
    if not base:
        print(f"  (no baselines: {why})")
    return 0


def _samples(model: Any, vocab: Any, n: int, length: int, temperature: float, top_k: int | None, seed: int,
             prompt: str) -> list[str]:
    texts = [generate(model, vocab, prompt, length, temperature, top_k, seed + i) for i in range(n)]
    space = " " if vocab.level == "word" and prompt and not prompt.endswith((" ", "\n")) else ""
    return [prompt + (space if text else "") + text for text in texts]


SAMPLED_TOKENS = 1_000_000  # the most tokens `sample` generates in one call (--num x --length)


def _sample(args: argparse.Namespace) -> int:
    if args.num * args.length > SAMPLED_TOKENS:
        raise UsageError(f"--num {args.num} x --length {args.length} tokens is more than the "
                         f"{SAMPLED_TOKENS:,} one call generates")
    model, vocab, _ = load_model(_checkpoint_path(args.dir))
    try:
        texts = _samples(model, vocab, args.num, args.length, args.temperature, args.top_k, args.seed,
                         args.prompt)
    except ValueError as error:  # an unknown character in the prompt, a negative temperature
        raise UsageError(str(error)) from None
    print("\n---\n".join(texts))
    unknown = vocab.unknown(args.prompt) if vocab.unk_id is not None else {}
    if unknown and vocab.unk_id is not None:
        kind = "word" if vocab.level == "word" else "character"
        print(f"note: the prompt's {kind}{'s' if len(unknown) > 1 else ''} " + ", ".join(map(repr, unknown))
              + f" {'are' if len(unknown) > 1 else 'is'} not in the vocabulary: the model read "
              f"{vocab.itos[vocab.unk_id]} instead", file=sys.stderr)
    return 0


def _score(args: argparse.Namespace) -> int:
    if not args.sentences and args.file is None:
        raise UsageError("give sentences to score, or --file PATH")
    model, vocab, _ = load_model(_checkpoint_path(args.dir))
    texts = list(args.sentences) + ([load_corpus(args.file)] if args.file is not None else [])
    try:
        scored = []
        for text in texts:
            with work_bar(sys.stderr, len(vocab.encode(text)), "score") as advance:
                scored.append(score(model, vocab, text, advance=advance))
        scores = sorted(scored, key=lambda s: -s.total)
    except ValueError as error:  # an unknown character, nothing to score
        raise UsageError(str(error)) from None
    print(f"{'rank':<6}{'log P (nats)':>13}{'per token':>11}{'tokens':>8}  sentence")
    for rank, s in enumerate(scores, 1):
        shown = s.text if len(s.text) <= 200 else f"{s.text[:60]!r}... ({len(s.text):,} characters)"
        print(f"{rank:<6}{s.total:>13.3f}{s.per_token:>11.3f}{len(s.logp):>8}  {shown}")
    unknown = sorted({t for s in texts for t in vocab.unknown(s)})
    if unknown and vocab.unk_id is not None:
        kind = "word" if vocab.level == "word" else "character"
        print(f"\nnote: {len(unknown)} {kind}{' is' if len(unknown) == 1 else 's are'} not in the "
              f"vocabulary and scored as {vocab.itos[vocab.unk_id]}: " + ", ".join(map(repr, unknown[:10]))
              + (", ..." if len(unknown) > 10 else ""))
    if len(scores) > 1:
        gap = scores[0].total - scores[1].total
        print(f"\nthe first is e^{gap:.2f} = {np.exp(min(gap, 700)):.3g} times as likely as the second")
    if args.per_token:
        for s in scores:
            print(f"\n{s.text}")
            print("  " + "  ".join(f"{tok!r} {lp:.2f}" for tok, lp in s.tokens))
    return 0


# ----------------------------------------------------------------------------------- graph, gradcheck


GRAPH_NODES = 25_000  # the most nodes a graph may have: about 1,500 steps of an LSTM op by op (seconds)
DRAWN_STEPS = 20  # a longer unroll is drawn as its first and last 10 steps (dot: 0.2 s; 40 steps: 16 s)
DRAWN_NODES = 250  # the most nodes --expand hands to dot (200 nodes, 12 LSTM steps: 6 s; it grows fast)


def _check_unroll(steps: int, config: LMConfig) -> None:
    """A UsageError, before anything is allocated, if `steps` unrolled cannot fit or has too many nodes."""
    try:
        check_fits(config, steps, 1, f"the graph of {steps:,} steps")
    except MemoryBudgetError as error:
        raise UsageError(str(error)) from None
    size = checks.unroll_nodes(config)
    nodes = size.at(steps)
    if nodes > GRAPH_NODES:
        most = size.most_steps(GRAPH_NODES)
        raise UsageError(f"--steps {steps}: the unrolled graph would have about {nodes:,} nodes, more than "
                         f"the {GRAPH_NODES:,} this command builds; use at most {most:,} steps (a picture "
                         "of a long unroll shows its first and last steps anyway)")


def _model_chunk(args: argparse.Namespace) -> tuple[Any, Any, np.ndarray, np.ndarray, str]:
    """(model in eval mode, vocab, inputs, targets (T, 1), what it is) for --steps tokens: the trained model
    in args.dir on its corpus, or a fresh small one of kind args.model on a fixed sentence."""
    if args.dir is not None:
        model, vocab, ckpt = load_model(_checkpoint_path(args.dir))
        if model.context is not None and args.steps > model.context:
            raise UsageError(f"--steps {args.steps} is longer than the Transformer's context "
                             f"({model.context})")
        _check_unroll(args.steps, model.config)
        train_cfg = TrainConfig.from_dict(ckpt.meta.get("train", {}))
        try:
            text = load_corpus(train_cfg.corpus)
            ids = vocab.encode(text[: 4 * args.steps + 200])
        except (CorpusError, UnknownCharacterError):
            ids = np.random.default_rng(0).integers(0, len(vocab), 4 * args.steps + 2)
        what = f"the trained {ckpt.config.model} model in {args.dir}"
    else:
        kind = args.model or "lstm"
        text = "the quick brown fox jumps over the lazy dog\n"
        vocab = Vocab.chars(text)
        try:
            config = LMConfig(kind, len(vocab), hidden=args.hidden, context=args.steps)
        except ValueError as error:
            raise UsageError(str(error)) from None
        _check_unroll(args.steps, config)
        model = build_model(config, rng=0)
        ids = vocab.encode(text * (1 + args.steps // len(text)))
        what = f"an untrained {kind} model (hidden {args.hidden})"
    if len(ids) < args.steps + 1:
        raise UsageError(f"--steps {args.steps}: the text is too short for that many steps")
    x, y = ids[: args.steps, None], ids[1 : args.steps + 1, None]  # (T, 1)
    model.eval()
    return model, vocab, x, y, what


def _drawn_steps(args: argparse.Namespace, config: LMConfig) -> tuple[int | None, str]:
    """(max_steps to draw with, a note saying so): dot gets at most what it lays out in seconds."""
    max_steps, note = args.max_steps, ""
    if max_steps is None and args.steps > DRAWN_STEPS:
        max_steps = DRAWN_STEPS
        note = f"; drawn as its first and last {DRAWN_STEPS // 2} steps (--max-steps {args.steps} draws all)"
    drawn = min(args.steps, max_steps or args.steps)
    if not args.expand and drawn > 3 * DRAWN_STEPS:
        raise UsageError(f"--max-steps {drawn}: {drawn} time steps side by side take dot many minutes to lay "
                         f"out; pass --max-steps {3 * DRAWN_STEPS} or fewer")
    per_step = checks.unroll_nodes(config).per_step if args.expand else 0
    if args.expand and drawn * per_step > DRAWN_NODES:
        raise UsageError(f"--expand draws every op: {drawn:,} steps are about {drawn * per_step:,} nodes, "
                         f"more than dot lays out in reasonable time ({DRAWN_NODES:,}); pass --max-steps "
                         f"{max(2, DRAWN_NODES // per_step)} or fewer, or drop --expand")
    return max_steps, note


def _layout(text: str) -> str | int:
    """--layout: "auto", "row" or a positive number of steps per row."""
    if text in ("auto", "row"):
        return text
    return _positive_int(text)


def _graph(args: argparse.Namespace) -> int:
    from tinygrad_seq import graph

    model, vocab, x, y, what = _model_chunk(args)
    if args.html:
        return _explore(args, model, vocab, x, y, what)
    max_steps, note = _drawn_steps(args, model.config)
    with unfused(model):  # the same weights, run as small ops: one cluster per time step
        loss, _ = chunk_loss(model, x, y)
    collapse = None if args.expand else ["*.t=*"]
    try:
        written = graph.render(loss, path=args.output, collapse=collapse, max_steps=max_steps, params=model,
                               width=args.width, layout=args.layout)
    except graph.GraphvizNotFound as error:
        print(f"{PROG} graph: {error}", file=sys.stderr)
        return EXIT_MISSING_DEPENDENCY
    except graph.GraphvizFailed as error:  # `dot` is there but failed: not a missing dependency
        print(f"{PROG} graph: {error}", file=sys.stderr)
        return 1
    except ValueError as error:  # a picture format it cannot write (-o x.jpg)
        raise UsageError(f"-o {args.output}: {error}") from None
    print(f"wrote {written}: {what}, unrolled over {args.steps} steps{note}, loss {loss.item():.3f}, "
          "ops coloured by gradient norm")
    return 0


EXPLORED_STEPS = 200  # the explorer draws every step: a longer page would be slow to open
# Measured building the page of an untrained LSTM (peak RSS, 10 and 40 steps): 1.3 MB more per step at
# hidden 128, 4.6 MB at 256, so about 75 bytes x hidden^2 per step and layer (3.8 GB for 200 steps at 512)
EXPLORE_BYTES_PER_UNIT2 = 75
EXPLORE_BYTES = 2**30  # the most memory a page may take to build (and about 10x what a browser opens fast)


def _explore(args: argparse.Namespace, model, vocab, x: np.ndarray, y: np.ndarray, what: str) -> int:
    """`graph --html`: the BPTT explorer page of the model's loss over the first --steps tokens."""
    from tinygrad_seq import graph

    if model.context is not None:
        raise UsageError("--html: the BPTT explorer steps through a recurrent model's time steps, and a "
                         "Transformer has none (draw its graph without --html)")
    if args.steps > EXPLORED_STEPS:
        raise UsageError(f"--html: at most {EXPLORED_STEPS} steps (the page draws every one), "
                         f"got {args.steps}")
    c = model.config
    per_step = EXPLORE_BYTES_PER_UNIT2 * c.hidden * c.hidden * c.layers
    if args.steps * per_step > EXPLORE_BYTES:
        most = max(1, EXPLORE_BYTES // per_step)
        raise UsageError(f"--html: {args.steps} steps of {c.layers} x {c.hidden} units need about "
                         f"{describe(args.steps * per_step)} to build the page (it draws every unit at every "
                         f"step), more than the {describe(EXPLORE_BYTES)} allowed; use --steps {most} or "
                         "fewer, or a smaller model")
    with unfused(model):  # the same weights, run as small ops: one cluster per time step
        loss, _ = chunk_loss(model, x, y)
    tokens = [vocab.itos[i] for i in x[:, 0]]
    written = graph.explore(loss, params=model, path=args.output, name=what, tokens=tokens, vocab=vocab.itos,
                            targets=y[:, 0])
    print(f"wrote {written}: the BPTT explorer of {what} over {args.steps} steps, loss {loss.item():.3f} "
          "(open it in a browser)")
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    if args.dir is not None or args.model is not None:
        model, _, x, y, what = _model_chunk(args)
        with unfused(model) if args.unfused else contextlib.nullcontext():  # small ops: one scope per step
            report = checks.gradcheck_model(model, x, y, localize=args.localize, seed=args.seed)
        report.title = f"{what}: gradcheck of the loss on {args.steps} tokens with respect to every parameter"
        print(report)
        return 0 if report else 1
    kinds = list(checks.LAYERS) if args.layer in (None, "all") else [args.layer]
    rng = np.random.default_rng(args.seed)
    reports = [checks.gradcheck_layer(kind, rng, localize=args.localize) for kind in kinds]
    for report in reports:
        print(str(report) + "\n")
    failed = [k for k, r in zip(kinds, reports) if not r]
    print("all gradients match finite differences" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


def _export(args: argparse.Namespace) -> int:
    from .export import export_safetensors

    path = _checkpoint_path(args.dir)
    run_dir = os.path.dirname(os.path.abspath(path))
    own = {os.path.realpath(os.path.join(run_dir, name)) for name in (CHECKPOINT, CURVE, LOCK)}
    if os.path.realpath(args.output) in own | {os.path.realpath(path)}:
        raise UsageError(f"-o {args.output}: that is a file of the run itself; write the export elsewhere")
    model, vocab, ckpt = load_model(path)
    try:  # a missing safetensors (MissingExtra) goes up to main: exit code 3
        arrays = export_safetensors(model, vocab, args.output, step=ckpt.step, overwrite=args.force)
    except FileExistsError:
        raise UsageError(f"-o {args.output} already exists; pass --force to replace it") from None
    said = sys.stdout if os.path.isfile(args.output) else sys.stderr  # -o /dev/stdout: keep it the file
    print(f"wrote {args.output}: {len(arrays)} tensors ({model.num_parameters():,} parameters) of the "
          f"{ckpt.config.model} model at step {ckpt.step}, under torch.nn's names; the metadata holds its "
          "config, vocabulary and SHA-256 (docs/pytorch.md: Weights out to PyTorch)", file=said)
    return 0


# ------------------------------------------------------------------------------------------ parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be >= 0 (NumPy's generators take no negative seed), "
                                         f"got {text}")
    return value


# The options of `train` that set a field of LMConfig or TrainConfig, in the order `--help` lists them:
# how to read each and what it means. Defaults are the dataclasses' own, shown as [value]; None given
# means "not given", so a resumed run can tell a clash from a default.
CONFIG_OPTIONS: dict[str, dict[str, Any]] = {
    "corpus": dict(help="pydoc (built in), tinyshakespeare (downloaded once) or a file"),
    "level": dict(choices=["char", "word"], help="tokens"),
    "model": dict(choices=MODELS, help="architecture"),
    "hidden": dict(type=_positive_int, help="hidden size (d_model of the transformer)"),
    "layers": dict(type=_positive_int, help="stacked layers"),
    "embed": dict(type=_positive_int, help="embedding size [= hidden]"),
    "tie_weights": dict(action=argparse.BooleanOptionalAction, help="share embedding and output weights"),
    "heads": dict(type=_positive_int, help="attention heads (transformer)"),
    "dropout": dict(type=float, help="dropout probability"),
    "seq_len": dict(type=_positive_int, help="BPTT length T (transformer: context)"),
    "batch_size": dict(type=_positive_int, help="parallel streams B"),
    "lr": dict(type=_positive_float, help="peak learning rate of Adam"),
    "clip": dict(type=_positive_float, help="max global gradient norm"),
    "warmup": dict(type=int, help="warm-up steps (at most a tenth of the run)"),
    "schedule": dict(choices=["cosine", "constant"], help="lr after warm-up"),
    "eval_every": dict(type=_positive_int, help="validate, checkpoint every N steps"),
    "valid_fraction": dict(type=float, help="held-out share of the corpus"),
    "min_freq": dict(type=_positive_int, help="word level: rarer words become <unk>"),
    "max_vocab": dict(type=_positive_int, help="word level: keep at most this many tokens"),
    "lower": dict(action="store_true", help="word level: lower-case the text"),
    "seed": dict(type=_seed, help="seed for the weights and dropout"),
}


def _option_fields(config: type) -> dict[str, dataclasses.Field]:
    """The fields of `config` (LMConfig or TrainConfig) that `train` has an option for, by name."""
    return {f.name: f for f in dataclasses.fields(config) if f.name in CONFIG_OPTIONS}


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per entry of CONFIG_OPTIONS, its default read from the field it sets (never repeated)."""
    fields = _option_fields(LMConfig) | _option_fields(TrainConfig)
    for name, spec in CONFIG_OPTIONS.items():
        spec, default = dict(spec), fields[name].default
        shown = (default is not None and default is not False) or _per_kind(name)  # 0 is a default
        if shown and "[" not in spec["help"]:
            spec["help"] += f" [{default}{_per_kind(name)}]"
        parser.add_argument("--" + name.replace("_", "-"), default=None, **spec)


def _per_kind(name: str) -> str:
    """'; transformer: 128' for a field that some kinds of model default differently, else ''."""
    table = LMConfig.PER_KIND if name in LMConfig.__dataclass_fields__ else TrainConfig.PER_KIND
    values: dict[Any, list[str]] = {}
    for kind, own in table.items():
        if name in own:
            values.setdefault(own[name], []).append(kind)
    return "".join(f"; {', '.join(kinds)}: {value:g}" if isinstance(value, float) else
                   f"; {', '.join(kinds)}: {value}" for value, kinds in values.items())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Train toy language models from scratch, look at their graphs, and check "
        "their gradients (tinygrad_seq).", formatter_class=HelpFormatter,
        epilog="examples:\n" + "".join(f"  {lines[0]}\n" for lines in EXAMPLES.values())
        + f"\n'{PROG} COMMAND --help' shows a command's options and more examples.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ckpt_help = "a training directory (or a checkpoint .npz)"

    def command(name: str, summary: str, description: str, run: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=summary, description=description, epilog=epilog(name),
                           formatter_class=HelpFormatter)
        p.set_defaults(run=run)
        if name != "completion":
            p.add_argument("--threads", type=_positive_int, default=DEFAULT_THREADS,
                           help="BLAS threads (one is fastest for these small matrices on a shared CPU)")
        return p

    t = command("train", "train a language model",
                "Train a char- or word-level RNN/LSTM/GRU/Transformer LM with truncated BPTT. Writes "
                "DIR/checkpoint.npz and DIR/loss_curve.png; Ctrl-C saves a checkpoint and stops.", _train)
    add = t.add_argument
    _add_config_options(t)
    stop = t.add_argument_group("when to stop [after 1000 steps]")
    stop.add_argument("--steps", type=_positive_int, help="train until this step (a total, also on resume)")
    stop.add_argument("--minutes", type=_positive_float, help="train for this long (this session)")
    stop.add_argument("--cpu-minutes", type=_positive_float,
                      help="train for this many minutes of this process's CPU time (this session): the same "
                      "training on a busy machine as on an idle one")
    add("--out", required=True, metavar="DIR", help="where the checkpoint and loss curve go")
    add("--resume", action="store_true", help="continue the run saved in DIR exactly where it stopped")

    e = command("eval", "loss, bits/token, perplexity next to count baselines",
                "Evaluate a trained model on its validation split (or a whole file), next to uniform, "
                "unigram, bigram and trigram baselines fit on its training split.", _eval)
    e.add_argument("dir", metavar="DIR", help=ckpt_help)
    e.add_argument("--corpus", metavar="PATH", help="evaluate on this whole file instead")
    e.add_argument("--batch-size", type=_positive_int,
                   help="Transformer windows per forward pass (speed and memory only: the loss does not "
                        "depend on it) [as in training]")
    e.add_argument("--json", action="store_true", help="print one JSON object")

    s = command("sample", "generate text",
                "Sample text from a trained model (never <unk>; word level stops at <eos>).", _sample)
    s.add_argument("dir", metavar="DIR", help=ckpt_help)
    s.add_argument("--prompt", default="", help="text to continue")
    s.add_argument("--length", type=_positive_int, default=300, help="tokens to generate at most")
    s.add_argument("--temperature", type=float, default=0.8, help="0 = greedy; higher = more random")
    s.add_argument("--top-k", type=_positive_int, default=None, help="sample among the k likeliest tokens")
    s.add_argument("--num", type=_positive_int, default=1, help="how many samples")
    s.add_argument("--seed", type=_seed, default=0, help="random seed")

    c = command("score", "log-probabilities of sentences, ranked",
                "Score sentences side by side: log P in nats, each read as the start of a line.", _score)
    c.add_argument("dir", metavar="DIR", help=ckpt_help)
    c.add_argument("sentences", metavar="SENTENCE", nargs="*", help="sentences to score")
    c.add_argument("--file", metavar="PATH", help="also score the whole text of this file (any length)")
    c.add_argument("--per-token", action="store_true", help="also show each token's log-probability")

    g = command("graph", "draw a model's unrolled BPTT graph",
                "Render the computation graph of a model's loss over T steps, ops coloured by gradient "
                "norm: of a trained model (DIR) or of a fresh small one (--model).", _graph)
    g.add_argument("dir", metavar="DIR", nargs="?", help=ckpt_help)
    g.add_argument("--model", choices=MODELS, help="draw an untrained model of this kind instead")
    g.add_argument("--hidden", type=_positive_int, default=8, help="hidden size of the untrained model")
    g.add_argument("--steps", type=_positive_int, default=6, help="time steps to unroll")
    g.add_argument("--max-steps", type=_positive_int, default=None, help="elide the middle of longer unrolls")
    g.add_argument("--expand", action="store_true", help="draw every op, not one box per time step")
    g.add_argument("--width", type=_positive_int, metavar="PX",
                   help="picture width in pixels (PNG: drawn that wide; SVG: shown that wide)")
    g.add_argument("--layout", type=_layout, default="auto", metavar="auto|row|K",
                   help="auto: one row if it fits a page, else time runs downwards; row: one long row; "
                        "K: rows of K steps")
    g.add_argument("--html", action="store_true",
                   help="write the interactive BPTT explorer (a self-contained HTML page), not a picture")
    g.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="picture: .svg, .png, .pdf or .dot; with --html, the page (.html)")

    k = command("gradcheck", "check layer or model gradients against finite differences",
                "Gradcheck small float64 layers (input and every parameter), or a language model's loss "
                "(a trained one in DIR or a fresh --model) with respect to every parameter, and print the "
                "reports; with --localize a failing check also names the op whose backward is wrong "
                "(scope, time step, line of code). Exit code 1 if any fails.", _gradcheck)
    k.add_argument("dir", metavar="DIR", nargs="?", help=ckpt_help + " [none: check the layers]")
    k.add_argument("--model", choices=MODELS, help="check an untrained language model of this kind")
    k.add_argument("--layer", choices=[*checks.LAYERS, "all"], default=None,
                   help="which layer, not with DIR or --model [all]")
    k.add_argument("--hidden", type=_positive_int, default=8, help="hidden size of the untrained model")
    k.add_argument("--steps", type=_positive_int, default=6, help="tokens of the model's loss")
    k.add_argument("--unfused", action="store_true",
                   help="run the model's fused layers as small ops (a recurrent layer: one scope per time "
                   "step; attention, LayerNorm, GELU: their composed ops)")
    k.add_argument("--localize", action="store_true",
                   help="when a check fails, check every node alone and name the first wrong ones")
    k.add_argument("--seed", type=_seed, default=0, help="random seed of the layers, inputs and projections")

    x = command("export", "write the weights for PyTorch (safetensors)",
                "Write a trained model's weights under torch.nn's names as a safetensors file (needs the "
                "lm extra), with its config and vocabulary in the metadata, to load into the equivalent "
                "torch modules.", _export)
    x.add_argument("dir", metavar="DIR", help=ckpt_help)
    x.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the .safetensors file to write (or a device or pipe, written directly)")
    x.add_argument("--force", action="store_true", help="replace -o if it exists (never the run's own files)")

    from tinygrad_seq.exercises import command as exercises  # noqa: PLC0415  (the one command above nn)
    e = command("exercises", "the exercise track: write the maths, the engine checks it",
                "Stubs to fill in (start), checks that say which gradient, gate and time step are wrong "
                "(check), and hints (hint), one exercise per lesson (docs/exercises.md).", exercises.run)
    exercises.add_arguments(e)

    w = command("completion", "print a shell completion script (bash or zsh)",
                "Print a completion script for bash or zsh, generated from this command's options.",
                lambda args: print(completion_script(parser, args.shell), end="") or 0)
    w.add_argument("shell", choices=["bash", "zsh"], help="the shell to complete in")
    w.set_defaults(threads=None)  # no BLAS work: leave its threads alone
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code: 0 ok, 1 a check failed, 2 bad input, 3 a missing optional
    dependency, 128 + the signal after Ctrl-C (130), SIGTERM (143) or SIGHUP (129)."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Output(stdout), Output(stderr)  # escapes, and a closed pipe ends nothing
    main_thread = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, raise_terminated) for s in STOP_SIGNALS[1:]} if main_thread else {}
    shown = warnings.showwarning
    warnings.showwarning = lambda message, *_, **__: print(f"{PROG}: warning: {message}", file=sys.stderr)
    try:
        return _main(argv)
    finally:
        warnings.showwarning = shown
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.stdout.flush()
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("graph", "gradcheck") and args.dir is not None and args.model is not None:
        parser.error("give a training directory or --model, not both")
    if args.command == "gradcheck" and args.layer is not None and (args.dir or args.model) is not None:
        parser.error("--layer checks the built-in layers: not with a training directory or --model")
    try:  # a training run sets its threads itself (Trainer.run); every other command here
        with contextlib.nullcontext() if args.command == "train" else blas_threads(args.threads):
            return args.run(args)
    except (UsageError, CorpusError, CheckpointError, TrainingError, UnknownCharacterError,
            RunDirError, ExportError) as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2
    except MissingExtra as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return EXIT_MISSING_DEPENDENCY
    except OSError as error:
        print(f"{PROG} {args.command}: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{PROG} {args.command}: error: out of memory; choose smaller sizes", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        signum = stop_signal(stop)
        how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        print(f"\n{PROG} {args.command}: {how}", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
