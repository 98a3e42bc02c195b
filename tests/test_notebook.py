"""docs/tutorial.ipynb is stored with its outputs, and they are what it produces now: run afresh in a Jupyter
kernel (the way `make notebook` runs it, docs/notebook.py) it raises no error and gives the same outputs.
What it shows: the gradient checks, the LSTM's graph as an SVG that shrinks to its column, the training's
progress as one line, the plot as an image, and the exercise failed then passed."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import time

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat (the dev extra) is not installed")
pytest.importorskip("nbclient", reason="nbclient (the dev extra) is not installed")
pytest.importorskip("ipykernel", reason="ipykernel (the dev extra) is not installed")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("notebook", os.path.join(ROOT, "docs", "notebook.py"))
assert _spec is not None and _spec.loader is not None
notebook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebook)
STALE = "the stored outputs are stale: run `make notebook` and commit docs/tutorial.ipynb"


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def text_of(cell) -> str:
    """A cell's printed text (its stdout and stderr streams)."""
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def close(stored: str, now: str) -> bool:
    """Two printed numbers equal but for their last digit, off by at most 2 (another CPU may round a
    sum differently): ``"1.035"`` and ``"1.036"`` are close, ``"9.6721"`` and ``"9.6821"`` are not."""
    mantissa, _, exponent = stored.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    unit = 10.0 ** (int(exponent or 0) - decimals)
    return abs(float(stored) - float(now)) <= 2 * unit * (1 + 1e-9)


def test_close_allows_the_last_printed_digit_only():
    assert close("1.035", "1.036") and close("1.2e-01", "1.4e-01") and close("60", "60")
    assert not close("9.6721", "9.6821") and not close("1.2e-01", "1.5e-01") and not close("3", "4e1")


def cell_with(nb, code: str):
    return next(c for c in code_cells(nb) if code in c.source)


@pytest.fixture(scope="module")
def stored():
    return nbformat.read(notebook.NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def fresh():
    began = time.perf_counter()
    nb = notebook.execute()
    return nb, time.perf_counter() - began


def test_the_tutorial_runs_without_an_error(fresh):
    nb, seconds = fresh
    errors = [o for c in code_cells(nb) for o in c.outputs if o.output_type == "error"]
    assert errors == []
    stderr = "".join(o.get("text", "") for c in code_cells(nb) for o in c.outputs
                     if o.output_type == "stream" and o.name == "stderr")
    assert "Traceback" not in stderr and "Warning" not in stderr
    print(f"the tutorial ran in {seconds:.1f} s")


def test_the_stored_outputs_are_what_the_notebook_produces_now(stored, fresh):
    nb, _ = fresh
    assert [c.source for c in code_cells(stored)] == [c.source for c in code_cells(nb)]
    no_dot = shutil.which("dot") is None
    for number, (old, new) in enumerate(zip(code_cells(stored), code_cells(nb)), start=1):
        if no_dot and "graph.draw" in old.source:  # here the cell shows the install hint instead
            continue
        assert old.execution_count == new.execution_count == number, STALE
        assert len(old.outputs) == len(new.outputs), f"cell {number}: {STALE}"
        for was, now in zip(old.outputs, new.outputs):
            (was_key, was_numbers), (now_key, now_numbers) = map(notebook.comparable, (was, now))
            assert was_key == now_key, f"cell {number}: {STALE}"
            assert len(was_numbers) == len(now_numbers) and all(
                close(a, b) for a, b in zip(was_numbers, now_numbers)), \
                f"cell {number}: {was_numbers} stored, {now_numbers} now; {STALE}"
    if no_dot:
        pytest.skip("Graphviz's `dot` program is not on PATH: the graph cell's stored SVG was not compared")


def test_the_stored_notebook_holds_no_machine_specific_text(stored):
    text = nbformat.writes(stored)
    for absolute in (ROOT, os.path.expanduser("~"), "/tmp/"):
        assert absolute not in text
    assert "\\u001b[" not in text and "\\r" not in text  # no terminal colours or bar frames
    assert " at 0x" not in text  # no memory addresses
    assert "version" not in stored.metadata.get("language_info", {})
    assert all("execution" not in c.metadata for c in code_cells(stored))  # no timestamps


def test_the_gradcheck_cells_pass_and_catch_the_wrong_backward(stored):
    text = "".join(text_of(c) for c in code_cells(stored))
    assert "(full Jacobian; eps=1e-06, atol=1e-05, rtol=0.001): passed" in text
    assert "False\ngradcheck (full Jacobian; eps=1e-06, atol=1e-05, rtol=0.001): FAILED" in text


def test_the_graph_is_an_svg_that_shrinks_to_its_column(stored, fresh):
    (shown,) = cell_with(stored, "graph.draw").outputs
    svg = shown["data"]["image/svg+xml"]
    assert "<svg" in svg and "t=0" in svg and "t=3" in svg
    head = re.search(r"<svg [^>]*>", svg)
    assert head is not None and re.search(r'width="\d+px"', head.group(0))
    assert 'style="max-width: 100%; height: auto"' in head.group(0) and "viewBox=" in head.group(0)
    if shutil.which("dot") is None:  # the install hint in place of the picture
        (now,) = cell_with(fresh[0], "graph.draw").outputs
        assert "`dot` program was not found" in now["data"]["text/plain"]


def test_training_shows_its_progress_as_one_line_and_the_plot_is_an_image(stored):
    train = cell_with(stored, "trainer.run")
    bars = [o for o in train.outputs if o.output_type == "display_data"]
    (bar,) = bars  # one output, updated in place while it ran: its last frame
    line = bar["data"]["text/plain"]
    assert "\n" not in line and "\r" not in line
    assert line.startswith("100%|") and "| 60/60 [" in line and "loss" in line and "tok/s]" in line
    assert "validation loss" in text_of(train)
    plot = cell_with(stored, "plt.show()")
    images = [o for o in plot.outputs if o.output_type == "display_data" and "image/png" in o["data"]]
    assert len(images) == 1


def test_the_notebook_ends_with_an_exercise_failed_then_passed(stored):
    cells = [c for c in code_cells(stored) if "check(" in c.source]
    assert cells and cells[-1] is code_cells(stored)[-1]
    text = [text_of(c) for c in cells[-2:]]
    assert "rnn_step_backward: FAILING" in text[0] and "backward: dx differs" in text[0]
    assert "op 'RNNStep' in scope 't=0'" in text[0]
    assert text[1].startswith("rnn_step_backward: PASSED")
