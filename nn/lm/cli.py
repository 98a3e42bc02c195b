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

This module is the parser and `main` (errors to exit codes); the commands' bodies are in `cli_train`,
`cli_eval` (eval, sample, score, export) and `cli_graph` (graph, gradcheck), the arguments' types and
`train`'s options in `cli_options`, the help's layout and examples in `cli_help`.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import Any

from tinygrad_seq import __version__
from tinygrad_seq.deprecated import warn_renamed
from tinygrad_seq.extras import MissingExtra

from . import checks
from .checkpoint import CheckpointError
from .cli_eval import run_eval, run_export, run_sample, run_score
from .cli_graph import run_gradcheck, run_graph
from .cli_help import EXAMPLES, HelpFormatter, completion_script, epilog
from .cli_options import (
    EXIT_MISSING_DEPENDENCY,
    PROG,
    UsageError,
    add_config_options,
    layout_value,
    positive_float,
    positive_int,
    seed_value,
)
from .cli_train import run_train
from .export import ExportError
from .models import MODELS
from .progress import STOP_SIGNALS, Output, raise_terminated, stop_signal
from .rundir import RunDirError
from .text import CorpusError, UnknownCharacterError
from .threads import DEFAULT_THREADS, blas_threads
from .training import TrainingError

__all__ = ["EXIT_MISSING_DEPENDENCY", "UsageError", "build_parser", "main"]


def __getattr__(name: str) -> Any:
    """`gradcheck_layer` and `gradcheck_model`, which moved to `nn.lm.checks`: kept for one release."""
    if name in ("gradcheck_layer", "gradcheck_model"):
        warn_renamed(f"tinygrad_seq.nn.lm.cli.{name}", f"tinygrad_seq.nn.lm.checks.{name}")
        return getattr(checks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand: its options, help and examples, and the function that runs it."""
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
            p.add_argument("--threads", type=positive_int, default=DEFAULT_THREADS,
                           help="BLAS threads (one is fastest for these small matrices on a shared CPU)")
        return p

    t = command("train", "train a language model",
                "Train a char- or word-level RNN/LSTM/GRU/Transformer LM with truncated BPTT. Writes "
                "DIR/checkpoint.npz and DIR/loss_curve.png; Ctrl-C saves a checkpoint and stops.", run_train)
    add = t.add_argument
    add_config_options(t)
    stop = t.add_argument_group("when to stop [after 1000 steps]")
    stop.add_argument("--steps", type=positive_int, help="train until this step (a total, also on resume)")
    stop.add_argument("--minutes", type=positive_float, help="train for this long (this session)")
    stop.add_argument("--cpu-minutes", type=positive_float,
                      help="train for this many minutes of this process's CPU time (this session): the same "
                      "training on a busy machine as on an idle one")
    add("--out", required=True, metavar="DIR", help="where the checkpoint and loss curve go")
    add("--resume", action="store_true", help="continue the run saved in DIR exactly where it stopped")

    e = command("eval", "loss, bits/token, perplexity next to count baselines",
                "Evaluate a trained model on its validation split (or a whole file), next to uniform, "
                "unigram, bigram and trigram baselines fit on its training split.", run_eval)
    e.add_argument("dir", metavar="DIR", help=ckpt_help)
    e.add_argument("--corpus", metavar="PATH", help="evaluate on this whole file instead")
    e.add_argument("--batch-size", type=positive_int,
                   help="Transformer windows per forward pass (speed and memory only: the loss does not "
                        "depend on it) [as in training]")
    e.add_argument("--json", action="store_true", help="print one JSON object")

    s = command("sample", "generate text",
                "Sample text from a trained model (never <unk>; word level stops at <eos>).", run_sample)
    s.add_argument("dir", metavar="DIR", help=ckpt_help)
    s.add_argument("--prompt", default="", help="text to continue")
    s.add_argument("--length", type=positive_int, default=300, help="tokens to generate at most")
    s.add_argument("--temperature", type=float, default=0.8, help="0 = greedy; higher = more random")
    s.add_argument("--top-k", type=positive_int, default=None, help="sample among the k likeliest tokens")
    s.add_argument("--num", type=positive_int, default=1, help="how many samples")
    s.add_argument("--seed", type=seed_value, default=0, help="random seed")

    c = command("score", "log-probabilities of sentences, ranked",
                "Score sentences side by side: log P in nats, each read as the start of a line.", run_score)
    c.add_argument("dir", metavar="DIR", help=ckpt_help)
    c.add_argument("sentences", metavar="SENTENCE", nargs="*", help="sentences to score")
    c.add_argument("--file", metavar="PATH", help="also score the whole text of this file (any length)")
    c.add_argument("--per-token", action="store_true", help="also show each token's log-probability")

    g = command("graph", "draw a model's unrolled BPTT graph",
                "Render the computation graph of a model's loss over T steps, ops coloured by gradient "
                "norm: of a trained model (DIR) or of a fresh small one (--model).", run_graph)
    g.add_argument("dir", metavar="DIR", nargs="?", help=ckpt_help)
    g.add_argument("--model", choices=MODELS, help="draw an untrained model of this kind instead")
    g.add_argument("--hidden", type=positive_int, default=8, help="hidden size of the untrained model")
    g.add_argument("--steps", type=positive_int, default=6, help="time steps to unroll")
    g.add_argument("--max-steps", type=positive_int, default=None, help="elide the middle of longer unrolls")
    g.add_argument("--expand", action="store_true", help="draw every op, not one box per time step")
    g.add_argument("--width", type=positive_int, metavar="PX",
                   help="picture width in pixels (PNG: drawn that wide; SVG: shown that wide)")
    g.add_argument("--layout", type=layout_value, default="auto", metavar="auto|row|K",
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
                "(scope, time step, line of code). Exit code 1 if any fails.", run_gradcheck)
    k.add_argument("dir", metavar="DIR", nargs="?", help=ckpt_help + " [none: check the layers]")
    k.add_argument("--model", choices=MODELS, help="check an untrained language model of this kind")
    k.add_argument("--layer", choices=[*checks.LAYERS, "all"], default=None,
                   help="which layer, not with DIR or --model [all]")
    k.add_argument("--hidden", type=positive_int, default=8, help="hidden size of the untrained model")
    k.add_argument("--steps", type=positive_int, default=6, help="tokens of the model's loss")
    k.add_argument("--unfused", action="store_true",
                   help="run the model's fused layers as small ops (a recurrent layer: one scope per time "
                   "step; attention, LayerNorm, GELU: their composed ops)")
    k.add_argument("--localize", action="store_true",
                   help="when a check fails, check every node alone and name the first wrong ones")
    k.add_argument("--seed", type=seed_value, default=0,
                   help="random seed of the layers, inputs and projections")

    x = command("export", "write the weights for PyTorch (safetensors)",
                "Write a trained model's weights under torch.nn's names as a safetensors file (needs the "
                "lm extra), with its config and vocabulary in the metadata, to load into the equivalent "
                "torch modules.", run_export)
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
