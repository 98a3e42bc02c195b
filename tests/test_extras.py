"""Optional dependencies: without an extra, training still works and each missing package is named once,
with the extra that installs it; matplotlib is used without touching the user's plotting backend."""

from __future__ import annotations

import importlib
import io
import os
import re
import sys

import pytest
from helpers import Terminal, hide

from tinygrad_seq import Tensor, graph
from tinygrad_seq.extras import MissingExtra, require
from tinygrad_seq.nn.lm.cli import main
from tinygrad_seq.nn.lm.curves import plot_history
from tinygrad_seq.nn.lm.progress import Progress

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT = "the cat sat on the mat .\nthe dog sat on the log .\n" * 20
TINY = ["--hidden", "8", "--seq-len", "8", "--batch-size", "2", "--eval-every", "2", "--warmup", "0"]


def test_require_names_the_extra_and_passes_other_import_errors_through(monkeypatch):
    hide(monkeypatch, "matplotlib")
    with pytest.raises(MissingExtra, match=r'the loss-curve PNG needs matplotlib, which is not installed: '
                                           r'pip install "tinygrad-seq\[lm\]"'):
        require("matplotlib.figure", "the loss-curve PNG")
    assert require("json", "x") is sys.modules["json"]
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(MissingExtra, match=r"tinygrad-seq\[lm\]"):
        require("tqdm.auto", "the progress bar")


def test_training_without_tqdm_and_matplotlib_says_each_once_and_finishes(tmp_path, monkeypatch, capsys):
    hide(monkeypatch, "tqdm", "matplotlib")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    code = main(["train", "--corpus", str(corpus), *TINY, "--steps", "6", "--out", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.count('the loss-curve PNG needs matplotlib, which is not installed: '
                     'pip install "tinygrad-seq[lm]"; the loss curve is skipped') == 1  # 3 saves, 1 line
    assert "loss curve: not drawn" in out
    assert (tmp_path / "run" / "checkpoint.npz").exists()
    assert not (tmp_path / "run" / "loss_curve.png").exists()
    assert "step 6/6" in out  # plain progress lines (stdout is not a terminal here)
    assert main(["sample", str(tmp_path / "run"), "--length", "5"]) == 0


def test_progress_is_a_tqdm_bar_on_a_terminal_and_plain_lines_without_tqdm(monkeypatch):
    stats = {"loss": 1.5, "val": None, "tok_s": 100.0, "lr": 1e-3, "norm": 0.5}
    stream = Terminal()
    bar = Progress(stream, total=10, initial=0)
    assert bar.bar is not None and type(bar.bar).__module__.startswith("tqdm")
    bar.update(3, 10, stats, eta=1.0)
    bar.close()
    assert "3/10" in stream.getvalue()

    hide(monkeypatch, "tqdm")
    stream = Terminal()
    bar = Progress(stream, total=10, initial=0)
    bar.update(3, 10, stats, eta=1.0, force=True)
    lines = stream.getvalue().splitlines()
    assert lines[0] == ('(progress as plain lines: tqdm is not installed; for a progress bar: '
                        'pip install "tinygrad-seq[lm]")')
    assert lines[1].startswith("step 3/10 | loss 1.500")
    piped = io.StringIO()
    Progress(piped, total=10, initial=0).update(1, 10, stats, eta=None, force=True)
    assert piped.getvalue().startswith("step 1/10")  # no hint where no bar was wanted


def test_in_a_notebook_the_bar_is_one_output_that_each_frame_replaces(monkeypatch):
    display = pytest.importorskip("IPython.display")
    from tinygrad_seq.nn.lm import progress

    shown: list[str] = []

    class Handle:
        def update(self, bundle, raw):
            shown.append(bundle["text/plain"])

    monkeypatch.setattr(display, "display", lambda bundle, raw, display_id: Handle())
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    stats = {"loss": 1.5, "val": None, "tok_s": 100.0, "lr": 1e-3, "norm": 0.5}
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # the kernel's output: not a terminal
    bar = Progress(sys.stdout, total=10, initial=0)
    for step in range(1, 11):
        bar.update(step, 10, stats, eta=None, force=True)
    bar.close()
    assert shown and all("\r" not in s and "\n" not in s and s == s.rstrip() for s in shown)
    assert shown[-1].startswith("100%|") and "10/10" in shown[-1] and "loss 1.500" in shown[-1]
    assert sys.stdout.getvalue() == ""  # nothing printed beside the one output
    assert Progress(io.StringIO(), total=10, initial=0).bar is None  # a file of its own: plain lines


def test_render_names_the_missing_part_of_graphviz(tmp_path, monkeypatch):
    loss = (Tensor([1.0, 2.0], requires_grad=True) * 3).sum()
    hide(monkeypatch, "graphviz")
    if graph.shutil.which("dot") is not None:  # the package is missing, the program is there
        with pytest.raises(graph.GraphvizNotFound) as info:
            graph.render(loss, path=tmp_path / "a.svg")
        message = str(info.value)
        assert 'graphviz Python package is not installed (pip install "tinygrad-seq[viz]")' in message
        assert "the `dot` program itself is installed" in message and "apt-get" not in message
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # both missing
    with pytest.raises(graph.GraphvizNotFound) as info:
        graph.render(loss, path=tmp_path / "b.svg")
    message = str(info.value)
    assert "tinygrad-seq[viz]" in message and "`dot` program was not found on PATH" in message
    assert "apt-get install graphviz" in message and (tmp_path / "b.dot").exists()


def test_draw_names_the_viz_extra_and_shows_the_install_hint_in_a_notebook_without_dot(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    loss = (Tensor([1.0, 2.0], requires_grad=True) * 3).sum()
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    picture = graph.draw(loss)
    assert picture.source == graph.to_dot(loss)
    shown = picture._repr_mimebundle_()  # what Jupyter calls to display it
    assert list(shown) == ["text/plain"]
    assert "`dot` program was not found on PATH" in shown["text/plain"]
    assert "apt-get install graphviz" in shown["text/plain"]
    hide(monkeypatch, "graphviz")
    with pytest.raises(MissingExtra, match=r'graph.draw needs graphviz, .*pip install "tinygrad-seq\[viz\]"'):
        graph.draw(loss)


def test_draw_shows_svg_when_dot_is_there():
    pytest.importorskip("graphviz")
    if graph.shutil.which("dot") is None:
        pytest.skip("Graphviz's `dot` program is not on PATH")
    shown = graph.draw((Tensor([1.0], requires_grad=True) * 2).sum())._repr_mimebundle_()
    assert shown["image/svg+xml"].lstrip().startswith("<?xml") or "<svg" in shown["image/svg+xml"]


def test_testing_without_hypothesis_names_the_test_extra(monkeypatch):
    hide(monkeypatch, "hypothesis", "tinygrad_seq.testing")
    monkeypatch.delitem(sys.modules, "tinygrad_seq.testing")
    with pytest.raises(MissingExtra, match=r'tinygrad_seq.testing needs hypothesis, which is not installed: '
                                           r'pip install "tinygrad-seq\[test\]"'):
        importlib.import_module("tinygrad_seq.testing")


def test_the_package_never_uses_pyplot_or_sets_a_backend():
    offenders = []
    for folder in ("tinygrad_seq", "nn"):
        for base, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.endswith(".py"):
                    text = open(os.path.join(base, name), encoding="utf-8").read()
                    if re.search(r"matplotlib\.pyplot|import pyplot|matplotlib\.use\(", text):
                        offenders.append(os.path.join(base, name))
    assert offenders == []


def test_plot_history_without_matplotlib_names_the_lm_extra(tmp_path, monkeypatch):
    hide(monkeypatch, "matplotlib")
    with pytest.raises(MissingExtra, match=r"tinygrad-seq\[lm\]"):
        plot_history({"step": [1], "loss": [1.0], "grad_norm": [1.0]}, tmp_path / "c.png")
    assert not os.listdir(tmp_path)
