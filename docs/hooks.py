"""MkDocs hooks of the documentation site (mkdocs.yml: ``hooks:``): the pages written from the code.

- ``cli.md`` is generated from the ``tinygrad-seq`` argument parser (``nn/lm/cli.py``'s ``build_parser``):
  every subcommand's ``--help``, as the command prints it, so the reference cannot drift from the code.
- ``changelog.md`` is ``CHANGELOG.md`` from the repository root (its links to ``docs/X`` become ``X``).
- The API reference reads the source as installed: ``nn/`` sits at the repository root but installs as
  ``tinygrad_seq.nn`` (pyproject.toml's package-dir), a mapping that static analysis cannot follow, so the
  build lays the package out as installed in a temporary folder and points mkdocstrings there.
- Each lesson page (``lessons/NN_name.md``) gets, from ``docs/lessons.json`` and ``docs/explorers/``,
  the HTML pages its lesson writes embedded live (the BPTT explorer, ...) and a table of what
  ``make lessons`` measured; the lessons' index gets the run time of each lesson.
- In the API reference, a docstring's "Example::" (reStructuredText: a literal block follows) is shown as
  "Example:", the way reStructuredText prints it.

A lesson page without an entry in ``docs/lessons.json`` fails the build.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
LESSON_PAGE = re.compile(r"^lessons/(\d\d_\w+)\.md$")
# where each folder of the source installs (pyproject.toml: packages and [tool.setuptools.package-dir])
INSTALLED_AS = {"tinygrad_seq": "tinygrad_seq", "nn": "tinygrad_seq/nn",
                "exercises": "tinygrad_seq/exercises"}
HELP_WIDTH = "100"  # argparse wraps --help to $COLUMNS: fixed, so the page is the same on every machine


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line summary, parser) of each subcommand, in the order the parser lists them."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    found = []
    for action in actions:
        summaries = {choice.dest: choice.help or "" for choice in action._choices_actions}
        found += [(name, summaries.get(name, ""), sub) for name, sub in action.choices.items()]
    return found


def _all_subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """Every subcommand at every depth as ("exercises check", summary, parser), each after its parent."""
    found: list[tuple[str, str, argparse.ArgumentParser]] = []
    stack = [(name, summary, sub) for name, summary, sub in reversed(_subcommands(parser))]
    while stack:
        name, summary, sub = stack.pop()
        found.append((name, summary, sub))
        stack += [(f"{name} {n}", s, p) for n, s, p in reversed(_subcommands(sub))]
    return found


def cli_reference() -> str:
    """The command-line reference page: the parser's own --help for the command and each subcommand."""
    from tinygrad_seq.nn.lm.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        parser = build_parser()
        commands = _subcommands(parser)
        parts = [
            "# Command line: `tinygrad-seq`\n",
            "Generated from the argument parser (`nn/lm/cli.py`) when the site is built: each block is what "
            "`--help` prints. `python -m tinygrad_seq` is the same command.\n",
            "| command | what it does |", "| --- | --- |",
            *[f"| [`{name}`](#{name}) | {summary} |" for name, summary, _ in commands],
            "", "```text", parser.format_help().rstrip(), "```", "",
        ]
        for name, summary, sub in _all_subcommands(parser):
            sentence = summary[:1].upper() + summary[1:] + "." if summary else ""
            level = "#" * min(2 + name.count(" "), 4)  # a subcommand's own subcommands nest under it
            parts += [f"{level} `tinygrad-seq {name}` {{#{name.replace(' ', '-')}}}", "", sentence, "",
                      "```text", sub.format_help().rstrip(), "```", ""]
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join(parts)


def _results() -> dict[str, Any]:
    """docs/lessons.json: {"lessons": {name: entry}, "cpus": the machine's core count}."""
    return json.loads((DOCS / "lessons.json").read_text(encoding="utf-8"))


def _lessons() -> dict[str, Any]:
    return _results()["lessons"]


def lesson_extras(name: str) -> str:
    """What a lesson page gets appended: its pages embedded live, then the numbers it measured."""
    lessons = _lessons()
    if name not in lessons:
        raise PluginError(f"docs/lessons/{name}.md has no entry in docs/lessons.json: run `make lessons "
                          f"LESSONS={name[:2]}` (or rename the page after its demos/ script)")
    entry, parts = lessons[name], []
    pages = sorted((DOCS / "explorers").glob(f"{name[:2]}_*.html"))
    if pages:
        parts += ["## Explore it live", "",
                  "The page" + (" the lesson writes" if len(pages) == 1 else "s the lesson writes")
                  + ", live: it runs in this page (no server); open it on its own for a full window.", ""]
        for page in pages:
            link = f"../explorers/{page.name}"
            title = page.stem[3:].replace("_", " ")
            frame = f'<iframe class="lesson-page" src="{link}" title="{title}" loading="lazy"></iframe>'
            parts += [frame, "", f"[Open `{page.stem[3:]}.html` on its own]({link})", ""]
    parts += ["## What `make lessons` measured", "",
              "Every figure quoted above comes from `docs/lessons.json`, which `make lessons` writes from "
              "the lesson's own return values (`tests/test_lesson_pages.py` checks that this page quotes "
              "each one).", ""]
    if entry["figures"]:
        parts += ["| figure | as quoted |", "| --- | --- |",
                  *[f"| `{key}` | {value} |" for key, value in entry["figures"].items()], ""]
    cpus = _results().get("cpus", "?")
    parts += [f"Run time: {_times(entry)}; load average {entry['load_average']} on {cpus} cores.", ""]
    return "\n".join(parts)


def _times(entry: dict[str, Any]) -> str:
    return (f"{entry['seconds']} s in full ({entry['cpu_seconds']} s CPU), {entry['quick_seconds']} s with "
            f"`--quick` ({entry['quick_cpu_seconds']} s CPU)")


def lessons_table() -> str:
    """The lessons' index: each lesson, linked, with the run times docs/lessons.json records."""
    rows = ["| lesson | full run | `--quick` |", "| --- | --- | --- |"]
    for name, entry in _lessons().items():
        page = DOCS / "lessons" / f"{name}.md"
        if not page.is_file():
            raise PluginError(f"docs/lessons.json has lesson {name} but docs/lessons/{name}.md is missing")
        title = page.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        rows.append(f"| [{title}]({name}.md) | {entry['seconds']} s | {entry['quick_seconds']} s |")
    cores = _results().get("cpus", "?")
    intro = f"Wall time of each lesson as `make lessons` last ran it ({cores} shared cores):"
    return "\n".join(["", "## Run times", "", intro, "", *rows, ""])


def installed_tree() -> Path:
    """A temporary folder holding the package laid out as installed (tinygrad_seq/nn/ from nn/)."""
    tree = Path(tempfile.mkdtemp(prefix="tinygrad-seq-docs-"))
    for source, target in INSTALLED_AS.items():
        shutil.copytree(ROOT / source, tree / target, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


# ---------------------------------------------------------------------- MkDocs events

_tree: Path | None = None


@event_priority(100)  # before mkdocstrings reads its handlers' configuration
def on_config(config: Any) -> Any:
    global _tree
    _tree = installed_tree()
    python = config.plugins["mkdocstrings"].config.handlers.setdefault("python", {})
    python["paths"] = [str(_tree)]
    return config


def on_shutdown() -> None:
    if _tree is not None:
        shutil.rmtree(_tree, ignore_errors=True)



def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, "cli.md", content=cli_reference()))
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")  # its links start at the repository root
    changelog = re.sub(r"\]\(docs/", "](", changelog)
    files.append(File.generated(config, "changelog.md", content=changelog))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    path = page.file.src_uri
    match = LESSON_PAGE.match(path)
    if match:
        if list((DOCS / "explorers").glob(f"{match.group(1)[:2]}_*.html")):
            page.meta.setdefault("hide", ["toc"])  # the embedded page gets the width of the table of contents
        return markdown.rstrip("\n") + "\n\n" + lesson_extras(match.group(1))
    if path == "lessons/index.md":
        return markdown.rstrip("\n") + "\n" + lessons_table()
    return markdown


def on_page_content(html: str, page: Any, config: Any, files: Files) -> str:
    if page.file.src_uri.startswith("api/"):
        return re.sub(r"::</p>", ":</p>", html)
    return html
