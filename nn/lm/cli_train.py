"""`tinygrad-seq train`: a fresh run or a resumed one from the command's options, its summary printed."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from typing import Any

import numpy as np

from .checkpoint import CheckpointError, load_checkpoint, load_model
from .cli_eval import table, unk_report
from .cli_options import PROG, UsageError, option_fields
from .memory import check_fits
from .models import LMConfig, build_model
from .rundir import claim
from .sampling import prompted_samples, start_id
from .text import CORPORA, corpus_name, load_corpus
from .training import (
    CHECKPOINT,
    TrainConfig,
    Trainer,
    fingerprint,
    prepare_data,
)


def _given(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The options of `train` the user gave that set a field of `config` (LMConfig or TrainConfig).

    A corpus file is recorded by its resolved path, so the run can be evaluated or resumed from anywhere.
    """
    given = {k: getattr(args, k) for k in option_fields(config) if getattr(args, k) is not None}
    if "corpus" in given:
        given["corpus"] = corpus_name(given["corpus"])
    return given


def run_train(args: argparse.Namespace) -> int:
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
        say(table(result.evaluation, result.baselines, c.model))
        for line in unk_report(result.evaluation, trainer.vocab):
            say(line)
    # a text without line breaks has no token that starts a line: start from its first token instead
    vocab = trainer.vocab
    prompt = "" if start_id(vocab) is not None else vocab.itos[int(trainer.train_ids[0])]
    say("\nsamples (temperature 0.8" + (f", after the corpus's first token {prompt!r}):" if prompt else "):"))
    try:
        samples = prompted_samples(model, vocab, 3, 200, temperature=0.8, top_k=None, seed=0, prompt=prompt)
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
