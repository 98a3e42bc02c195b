"""`tinygrad-seq graph` and `gradcheck`: a model's loss unrolled over a few steps, drawn or checked."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

import numpy as np

from . import checks
from .checkpoint import load_model
from .cli_options import EXIT_MISSING_DEPENDENCY, PROG, UsageError, checkpoint_path
from .memory import MemoryBudgetError, check_fits, describe
from .models import LMConfig, build_model, chunk_loss, unfused
from .text import CorpusError, UnknownCharacterError, Vocab, load_corpus
from .training import TrainConfig

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
        model, vocab, ckpt = load_model(checkpoint_path(args.dir))
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




def run_graph(args: argparse.Namespace) -> int:
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


def run_gradcheck(args: argparse.Namespace) -> int:
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
