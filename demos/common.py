"""What every lesson script shares: its command line, its output folder and how it saves a figure.

Each lesson is `demos/NN_name.py` with ``main(argv=None) -> dict``: it parses ``--quick`` (a few
seconds, for CI) and ``--out DIR`` (default ``out/demos/<name>``), prints what it shows in plain
words, writes its pictures, and returns the numbers behind its claim so that a test can check them.
A lesson also defines ``PICTURES`` (the files `make lessons` copies to docs/img/ as ``NN_<file>``) and
``readme_figures(result) -> dict[str, str]``: every number its page (docs/lessons/NN_name.md) quotes,
written exactly as the page writes it (demos/lessons.py stores them in docs/lessons.json; a test finds
each one on the page).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

import matplotlib

matplotlib.use("Agg")  # files only: the lessons run on machines without a screen

import matplotlib.pyplot as plt  # noqa: E402

from tinygrad_seq.nn.lm.threads import DEFAULT_THREADS, blas_threads  # noqa: E402


def parse_args(name: str, doc: str, argv: Sequence[str] | None = None,
               extra: Sequence[tuple[str, dict]] = ()) -> argparse.Namespace:
    """--quick, --out DIR (created) and --threads N, plus `extra` (flag, argparse keyword) pairs.

    BLAS runs on --threads threads for the rest of the lesson, one by default: the lessons multiply
    small matrices, and a second BLAS thread only fights the other for two shared cores (on a busy
    machine lesson 10 took 421 s with two threads and 91 s with one, printing the same numbers;
    nn/lm/threads.py has more).
    """
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)
    parser.add_argument("--quick", action="store_true", help="small and fast (seconds), for CI")
    parser.add_argument("--out", default=os.path.join("out", "demos", name), help="where the pictures go")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="BLAS threads [%(default)s]")
    for flag, options in extra:
        parser.add_argument(flag, **options)
    args = parser.parse_args(argv)
    blas_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    return args


def save(fig: plt.Figure, out: str, filename: str) -> str:
    """Write `fig` as out/filename (PNG at 120 dpi), close it, print and return the path."""
    path = os.path.join(out, filename)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"  wrote {path}")
    return path


def load_lesson(name: str) -> ModuleType:
    """Import demos/<name>.py (its name starts with a digit, so not with an import statement).

    One lesson builds on another's corpus this way, and `make lessons` (demos/lessons.py) runs them.
    """
    demos = os.path.dirname(os.path.abspath(__file__))
    if demos not in sys.path:
        sys.path.insert(0, demos)  # the lessons import this module as `common`
    spec = importlib.util.spec_from_file_location(f"lesson_{name}", os.path.join(demos, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
