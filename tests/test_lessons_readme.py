"""The README's Lessons section says what the lessons measured: every number it quotes for a lesson is in
docs/lessons.json, which `make lessons` (demos/lessons.py) writes from the lessons' own return values
together with the pictures in docs/img/. Re-running a lesson that now measures something else changes
the JSON, and this test fails until the README section is rewritten from the new numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
RESULTS = json.loads((ROOT / "docs" / "lessons.json").read_text(encoding="utf-8"))["lessons"]
LESSONS = sorted(p.stem for p in (ROOT / "demos").glob("*.py") if re.match(r"\d\d_", p.name))


def section(number: int, readme: str = README) -> str:
    """The text of README heading '### <number>. ...' up to the next heading."""
    match = re.search(rf"^### {number}\. .*?(?=^#)", readme + "\n#", re.S | re.M)
    assert match, f"README has no section '### {number}. ...'"
    return match.group(0)


def mismatches(name: str, readme: str = README) -> list[str]:
    """What lesson `name`'s README section lacks: its command, its pictures, the figures it measured."""
    entry, text = RESULTS[name], section(int(name[:2]), readme)
    missing = [f"command demos/{name}.py"] if f"demos/{name}.py" not in text else []
    missing += [f"picture docs/img/{p}" for p in entry["pictures"] if f"(docs/img/{p})" not in text]
    flat = " ".join(text.split())  # a figure may be broken over two lines
    missing += [f"{key} = {value!r}" for key, value in entry["figures"].items() if value not in flat]
    return missing


def test_every_lesson_has_results() -> None:
    assert LESSONS and set(RESULTS) == set(LESSONS), "run `make lessons` after adding or renaming a lesson"


@pytest.mark.parametrize("name", LESSONS)
def test_readme_quotes_what_the_lesson_measured(name: str) -> None:
    missing = mismatches(name)
    assert not missing, f"README section of {name} does not say: {missing} (see docs/lessons.json)"
    for picture in RESULTS[name]["pictures"]:
        assert (ROOT / "docs" / "img" / picture).is_file(), picture


def test_the_check_fails_when_the_readme_disagrees() -> None:
    """Change one quoted figure in a copy of the README: the check names it."""
    name = next(n for n in LESSONS if RESULTS[n]["figures"])
    key, value = next(iter(RESULTS[name]["figures"].items()))
    text = section(int(name[:2]))
    altered = README.replace(text, text.replace(value, "[changed]"))
    assert altered != README
    assert any(m.startswith(f"{key} = ") for m in mismatches(name, altered))
