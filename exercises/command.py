"""`tinygrad-seq exercises list|start|check|hint`: the exercise track on the command line.

The `tinygrad-seq` command (nn/lm/cli.py) registers this subcommand with `add_arguments` and runs `run`.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

from . import EXERCISES, Exercise, check_file, find, solution_text, stub_text

__all__ = ["add_arguments", "run"]

PROG = "tinygrad-seq exercises"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The actions of `tinygrad-seq exercises` and their arguments."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = actions.add_parser("list", help="every exercise: its lesson, what you write, your status in DIR")
    ls.add_argument("dir", metavar="DIR", nargs="?", help="your exercise folder (shows each one's status)")
    st = actions.add_parser("start", help="write one stub file per exercise, DIR/NAME.py (never overwrites)")
    st.add_argument("dir", metavar="DIR", help="the folder to write the stubs into (made if missing)")
    st.add_argument("names", metavar="NAME", nargs="*", help="only these exercises (default: all)")
    st.add_argument("--solutions", action="store_true", help="write the reference solutions instead "
                                                             "(teachers)")
    ck = actions.add_parser("check", help="check what is written; exit 0 when all named pass, 1 otherwise")
    ck.add_argument("dir", metavar="DIR", help="your exercise folder")
    ck.add_argument("names", metavar="NAME", nargs="*",
                    help="exercises to check in full (default: all of them, as a table)")
    ck.add_argument("--no-pictures", action="store_true",
                    help="do not draw the unrolled graph of a wrong backward (default: "
                         "DIR/pictures/NAME.svg)")
    hn = actions.add_parser("hint", help="hint N of an exercise, from gentle (1) to explicit")
    hn.add_argument("name", metavar="NAME", help="the exercise (name or number)")
    hn.add_argument("n", metavar="N", nargs="?", type=int, default=1, help="which hint")


def _status(exercise: Exercise, directory: str | None) -> str:
    if directory is None:
        return ""
    if not os.path.exists(os.path.join(directory, f"{exercise.name}.py")):
        return "no file"
    return check_file(exercise.name, directory).status


def _list(directory: str | None) -> int:
    for e in EXERCISES:
        status = _status(e, directory)
        print(f"{e.number:2d}. {e.name:<20} {e.title}" + (f"  [{status}]" if status else ""))
        print(f"    lesson {e.lesson}  ({e.link})")
        print(f"    you write: {', '.join(e.writes)}")
    return 0


def _start(directory: str, names: list[str], solutions: bool) -> int:
    os.makedirs(directory, exist_ok=True)
    chosen = [find(n) for n in names] if names else list(EXERCISES)
    for e in chosen:
        path = os.path.join(directory, f"{e.name}.py")
        if os.path.exists(path):
            print(f"kept     {path} (it exists; delete it to start again)")
            continue
        with open(path, "x", encoding="utf-8") as f:
            f.write(solution_text(e.name) if solutions else stub_text(e.name))
        print(f"wrote    {path}")
    what = "solutions" if solutions else "stubs"
    print(f"\n{len(chosen)} {what} in {directory}. Next: `{PROG} check {directory} NAME` after each one; "
          f"`{PROG} hint NAME` when stuck.")
    return 0


def _check(directory: str, names: list[str], pictures: bool) -> int:
    if not os.path.isdir(directory):
        print(f"{PROG} check: error: {directory} is not a folder (make one with `{PROG} start {directory}`)",
              file=sys.stderr)
        return 2
    chosen = [find(n) for n in names] if names else list(EXERCISES)
    folder = os.path.join(directory, "pictures") if pictures else None
    reports = [check_file(e.name, directory, folder) for e in chosen]
    if names:
        print("\n\n".join(str(r) for r in reports))
    else:
        width = max(len(e.name) for e in chosen)
        for e, r in zip(chosen, reports):
            why = "" if r.passed else textwrap.shorten(r.why, 100, placeholder=" ...")
            print(f"{e.number:2d}. {e.name:<{width}}  {r.status:<11}  {why}".rstrip())
        done = sum(r.passed for r in reports)
        print(f"\n{done} of {len(reports)} passed. `{PROG} check {directory} NAME` shows the full report of "
              "one.")
    return 0 if all(r.passed for r in reports) else 1


def _hint(name: str, n: int) -> int:
    e = find(name)
    if not 1 <= n <= len(e.hints):
        print(f"{PROG} hint: error: {e.name} has hints 1 to {len(e.hints)}", file=sys.stderr)
        return 2
    print(f"{e.name}, hint {n} of {len(e.hints)}:")
    print(textwrap.fill(e.hints[n - 1], 100, initial_indent="  ", subsequent_indent="  "))
    if n < len(e.hints):
        print(f"(more explicit: `{PROG} hint {e.name} {n + 1}`)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run one action; the exit code: 0 done (check: all passed), 1 a check failed, 2 bad input."""
    try:
        if args.action == "list":
            return _list(args.dir)
        if args.action == "start":
            return _start(args.dir, args.names, args.solutions)
        if args.action == "check":
            return _check(args.dir, args.names, not args.no_pictures)
        return _hint(args.name, args.n)
    except KeyError as error:  # an unknown exercise name
        print(f"{PROG} {args.action}: error: {error.args[0]}", file=sys.stderr)
        return 2
