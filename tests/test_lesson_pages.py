"""Each lesson's page on the documentation site (docs/lessons/NN_name.md) says what the lesson measured:
every number it quotes is in docs/lessons.json, which `make lessons` (demos/lessons.py) writes from the
lessons' own return values together with the pictures in docs/img/. Re-running a lesson that now measures
something else changes the JSON, and this test fails until the lesson's page is rewritten from the new
numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "lessons"
RESULTS = json.loads((ROOT / "docs" / "lessons.json").read_text(encoding="utf-8"))["lessons"]
LESSONS = sorted(p.stem for p in (ROOT / "demos").glob("*.py") if re.match(r"\d\d_", p.name))


def page(name: str) -> str:
    """The text of docs/lessons/<name>.md."""
    path = PAGES / f"{name}.md"
    assert path.is_file(), f"lesson {name} has no page: write docs/lessons/{name}.md, list it in mkdocs.yml"
    return path.read_text(encoding="utf-8")


def mismatches(name: str, text: str) -> list[str]:
    """What lesson `name`'s page `text` lacks: its command, its pictures, the figures it measured."""
    entry = RESULTS[name]
    missing = [f"command demos/{name}.py"] if f"demos/{name}.py" not in text else []
    missing += [f"picture docs/img/{p}" for p in entry["pictures"] if f"(../img/{p})" not in text]
    flat = " ".join(text.split())  # a figure may be broken over two lines
    missing += [f"{key} = {value!r}" for key, value in entry["figures"].items() if value not in flat]
    return missing


def test_every_lesson_has_results_and_a_page() -> None:
    assert LESSONS and set(RESULTS) == set(LESSONS), "run `make lessons` after adding or renaming a lesson"
    assert {p.stem for p in PAGES.glob("[0-9][0-9]_*.md")} == set(LESSONS)


@pytest.mark.parametrize("name", LESSONS)
def test_the_page_quotes_what_the_lesson_measured(name: str) -> None:
    missing = mismatches(name, page(name))
    assert not missing, f"docs/lessons/{name}.md does not say: {missing} (see docs/lessons.json)"
    for picture in RESULTS[name]["pictures"]:
        assert (ROOT / "docs" / "img" / picture).is_file(), picture


def test_the_check_fails_when_the_page_disagrees() -> None:
    """Change one quoted figure in a copy of a page: the check names it."""
    name = next(n for n in LESSONS if RESULTS[n]["figures"])
    key, value = next(iter(RESULTS[name]["figures"].items()))
    text = page(name)
    altered = text.replace(value, "[changed]")
    assert altered != text
    assert any(m.startswith(f"{key} = ") for m in mismatches(name, altered))


@pytest.mark.parametrize("path", ["README.md", "docs/pictures.md"])
def test_the_explorer_text_quotes_lesson_3(path: str) -> None:
    """The README and the pictures page describe lesson 3's explorer page with lesson 3's measured numbers."""
    flat = " ".join((ROOT / path).read_text(encoding="utf-8").split())
    figures = RESULTS["03_vanishing"]["figures"]
    missing = [f"{key} = {value!r}" for key, value in figures.items()
               if key.startswith("explorer_") and value not in flat]
    assert not missing, f"{path} does not say: {missing} (lesson 3's explorer numbers in docs/lessons.json)"
