"""The documentation site: it builds in strict mode, its generated pages say what the code says, and a
lesson page works in a real browser (its pictures load, its embedded BPTT explorer runs).

The site is built once per test session, into a temporary folder (`make docs` builds it into site/).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from browser import chromium, missing

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.xdist_group("docs_site")  # one worker builds the site once
LESSON = "03_vanishing"  # a lesson with pictures and an explorer page


def _unavailable(reason: str) -> None:
    """Skip here; fail in CI, which installs the docs extra and the browser (.ci/run)."""
    (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by `mkdocs build --strict` into a temporary folder."""
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
        import mkdocs_jupyter  # noqa: F401
        import mkdocstrings  # noqa: F401
    except ImportError as error:
        _unavailable(f"{error.name} is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stderr[-4000:]}"
    return out


def test_every_lesson_has_a_page_with_its_explorer_pages(site: Path) -> None:
    lessons = sorted(p.stem for p in (ROOT / "demos").glob("[0-9][0-9]_*.py"))
    for name in lessons:
        html = (site / "lessons" / f"{name}.html").read_text(encoding="utf-8")
        assert f"demos/{name}.py" in html, name
        for page in (ROOT / "docs" / "explorers").glob(f"{name[:2]}_*.html"):
            assert f'src="../explorers/{page.name}"' in html, (name, page.name)
            assert (site / "explorers" / page.name).is_file()


def test_the_cli_reference_is_the_parsers_help(site: Path) -> None:
    from tinygrad_seq.nn.lm.cli import build_parser

    html = (site / "cli.html").read_text(encoding="utf-8")
    stack, seen = [("", build_parser())], 0
    while stack:  # every subcommand at every depth ("exercises check"), and each of its options
        name, parser = stack.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack += [(f"{name} {sub}".strip(), p) for sub, p in action.choices.items()]
            for flag in action.option_strings:
                assert flag in html, (name, flag)
        if name:
            seen += 1
            assert f'id="{name.replace(" ", "-")}"' in html, name
    assert seen >= 7, "the parser has fewer subcommands than the reference shows"


def test_the_api_reference_reads_the_docstrings(site: Path) -> None:
    import tinygrad_seq as ts
    from tinygrad_seq.nn import lm

    pages = {"tensor": [ts.zeros, ts.arange, ts.concatenate, ts.Tensor.backward], "gradcheck": [ts.gradcheck],
             "nn": [ts.nn.LSTM, ts.nn.MultiheadAttention], "lm": [lm.build_model, lm.Trainer]}
    for page, objects in pages.items():
        text = re.sub(r"<[^>]+>", "", (site / "api" / f"{page}.html").read_text(encoding="utf-8"))
        for obj in objects:
            first_line = (obj.__doc__ or "").strip().splitlines()[0]
            words = re.sub(r"[`*]", "", first_line)[:40]  # the start of the summary, past any markup
            assert first_line and words.split(" (")[0][:30] in text.replace("&#39;", "'"), (page, obj)


def test_the_tutorial_notebook_is_rendered_with_its_outputs(site: Path) -> None:
    html = (site / "tutorial.html").read_text(encoding="utf-8")
    assert html.count("jp-OutputArea-output") >= 5, "the notebook was rendered without its stored outputs"
    assert html.count("| 60/60 [") == 1  # the training's progress bar: one line, its last frame
    assert "Tensor([[1.1816 1.1053]" in html  # the first cell's printed gradient
    assert "data:image/png" in html  # the plot, inline


def test_the_readme_links_point_at_files_and_headings_of_the_repository() -> None:
    """The README is read on a code host too, where the site's generated pages do not exist."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#([^)\s]*))?\)", readme)
    assert len(links) >= 20
    for path, anchor in links:
        if path.startswith(("http://", "https://")):
            continue
        target = ROOT / path
        assert target.exists(), f"README links to {path}, which is not in the repository"
        if anchor:  # the code host's anchor of a heading: lower case, punctuation dropped, spaces to -
            headings = re.findall(r"^#+ (.*)$", target.read_text(encoding="utf-8"), re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
            assert anchor in slugs, f"README links to {path}#{anchor}: no such heading"


def test_the_examples_in_tensor_docstrings_run() -> None:
    """The constructors' and Tensor's examples, shown in the API reference, print what they say."""
    import doctest

    import tinygrad_seq.tensor

    result = doctest.testmod(tinygrad_seq.tensor, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 12 and result.failed == 0, result


def test_a_lesson_page_in_a_browser_shows_its_pictures_and_runs_its_explorer(site: Path) -> None:
    if missing():
        _unavailable(missing() or "")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium(1400, 1000) as driver:
        driver.get((site / "lessons" / f"{LESSON}.html").as_uri())
        WebDriverWait(driver, 30).until(lambda d: d.execute_script(
            "return [...document.images].every(i => i.complete)"))
        pictures = driver.execute_script(
            "return [...document.querySelectorAll('article img')].map(i => [i.src, i.naturalWidth])")
        assert pictures and all(width > 0 for _, width in pictures), pictures
        loaded = driver.execute_script(  # every script, style sheet, picture and frame the page loads
            "return [...document.querySelectorAll('script[src], link[rel=stylesheet], img, iframe')]"
            ".map(e => e.src || e.href)")
        assert loaded and all(url.startswith("file://") for url in loaded), loaded  # nothing from the network

        frame = driver.find_element(By.CSS_SELECTOR, "iframe.lesson-page")
        driver.execute_script("arguments[0].scrollIntoView()", frame)  # the frame loads lazily
        driver.switch_to.frame(frame)
        phase = WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "phase").text and
                                                d.find_element(By.ID, "phase"))
        assert phase.text.startswith("backward pass: the gradient has reached t=")  # written by its script
        driver.find_element(By.ID, "time").send_keys(Keys.HOME)
        assert phase.text == "forward pass: step t=0"
