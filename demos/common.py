"""What every lesson script shares: its command line, its output folder and how it saves a figure.

Each lesson is `demos/NN_name.py` with ``main(argv=None) -> dict``: it parses ``--quick`` (a few
seconds, for CI) and ``--out DIR`` (default ``out/demos/<name>``), prints what it shows in plain
words, writes its pictures, and returns the numbers behind its claim so that a test can check them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: the lessons run on machines without a screen

import matplotlib.pyplot as plt  # noqa: E402


def parse_args(name: str, doc: str, argv: Sequence[str] | None = None,
               extra: Sequence[tuple[str, dict]] = ()) -> argparse.Namespace:
    """--quick and --out DIR (created), plus `extra` (flag, argparse keyword) pairs."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)
    parser.add_argument("--quick", action="store_true", help="small and fast (seconds), for CI")
    parser.add_argument("--out", default=os.path.join("out", "demos", name), help="where the pictures go")
    for flag, options in extra:
        parser.add_argument(flag, **options)
    args = parser.parse_args(argv)
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
