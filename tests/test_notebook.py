"""docs/tutorial.ipynb runs from top to bottom in a Jupyter kernel: no error, the LSTM's graph inline as
SVG, the training cell's progress bar, and the plot as an image (inline plots still work after training)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat (the dev extra) is not installed")
nbclient = pytest.importorskip("nbclient", reason="nbclient (the dev extra) is not installed")
pytest.importorskip("ipykernel", reason="ipykernel (the dev extra) is not installed")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "docs", "tutorial.ipynb")


def outputs_of(cell) -> list:
    return list(cell.get("outputs", []))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # stored clean
    began = time.perf_counter()
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    client.execute()
    return nb, time.perf_counter() - began


def test_the_tutorial_runs_without_an_error(executed):
    nb, seconds = executed
    errors = [o for c in nb.cells for o in outputs_of(c) if o.output_type == "error"]
    assert errors == []
    stderr = "".join(o.get("text", "") for c in nb.cells for o in outputs_of(c)
                     if o.output_type == "stream" and o.name == "stderr")
    assert "Traceback" not in stderr and "Warning" not in stderr
    print(f"the tutorial ran in {seconds:.1f} s")


def test_the_gradcheck_cells_pass_and_catch_the_wrong_backward(executed):
    nb, _ = executed
    text = "".join(o.get("text", "") for c in nb.cells for o in outputs_of(c) if o.output_type == "stream")
    assert "(full Jacobian; eps=1e-06, atol=1e-05, rtol=0.001): passed" in text
    assert "False\ngradcheck (full Jacobian; eps=1e-06, atol=1e-05, rtol=0.001): FAILED" in text


def test_the_graph_is_an_inline_svg(executed):
    nb, _ = executed
    cell = next(c for c in nb.cells if c.cell_type == "code" and "graph.draw" in c.source)
    (shown,) = [o for o in outputs_of(cell) if o.output_type in ("execute_result", "display_data")]
    if shutil.which("dot") is None:  # the install hint in place of the picture
        assert "`dot` program was not found" in shown["data"]["text/plain"]
        pytest.skip("Graphviz's `dot` program is not on PATH: checked the hint instead of the SVG")
    svg = shown["data"]["image/svg+xml"]
    assert "<svg" in svg and "t=0" in svg and "t=3" in svg
    assert 'style="max-width: 100%; height: auto"' in svg and "viewBox=" in svg  # shrinks to the column


def test_training_shows_a_progress_bar_and_the_plot_is_an_image(executed):
    nb, _ = executed
    train = next(c for c in nb.cells if c.cell_type == "code" and "trainer.run" in c.source)
    text = "".join(o.get("text", "") for o in outputs_of(train) if o.output_type == "stream")
    assert "60/60" in text and "loss" in text
    assert "validation loss" in text
    plot = next(c for c in nb.cells if c.cell_type == "code" and "plt.show()" in c.source)
    images = [o for o in outputs_of(plot) if o.output_type == "display_data" and "image/png" in o["data"]]
    assert len(images) == 1


def test_the_notebook_ends_with_an_exercise_failed_then_passed(executed):
    nb, _ = executed
    cells = [c for c in nb.cells if c.cell_type == "code" and "check(" in c.source]
    assert cells and cells[-1] is [c for c in nb.cells if c.cell_type == "code"][-1]
    text = ["".join(o.get("text", "") for o in outputs_of(c) if o.output_type == "stream")
            for c in cells[-2:]]
    assert "rnn_step_backward: FAILING" in text[0] and "backward: dx differs" in text[0]
    assert "op 'RNNStep' in scope 't=0'" in text[0]
    assert text[1].startswith("rnn_step_backward: PASSED")
