"""Fault injection, crafted input: checkpoint metadata changed key by key (wrong type, missing, huge,
nested), carried states of the wrong shape, zip bombs and FIFOs as checkpoints, edge shapes through the
layers. Each ends in one line (exit code 2) or works; never a traceback. Run alone with `pytest -m faults`.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from faults_common import one_line, run, train
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_seq import Tensor, nn
from tinygrad_seq.autograd import ShapeError
from tinygrad_seq.nn.lm.cli import main
from tinygrad_seq.nn.lm.metadata import SCHEMA, check_meta
from tinygrad_seq.nn.lm.text import UnknownCharacterError, Vocab
from tinygrad_seq.nn.module import save_arrays

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train(tmp_path_factory.mktemp("inputs"))


def _arrays(out: Path) -> dict[str, np.ndarray]:
    with np.load(out / "checkpoint.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _paths(meta: dict) -> list[tuple[str, ...]]:
    """Every key of the metadata and of its objects one level down (the history's lists as a whole)."""
    paths = []
    for key, value in meta.items():
        paths.append((key,))
        if isinstance(value, dict):
            paths += [(key, sub) for sub in value]
    return paths


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


VARIANTS = {
    "wrong type": lambda v: "abc" if not isinstance(v, str) else 7,
    "float": lambda v: 16.5 if not isinstance(v, str) else ["x"],
    "missing": None,
    "huge": lambda v: 1e400 if not isinstance(v, str) else "x" * 10**6,
    "huge int": lambda v: 10**30,
    "negative": lambda v: -1,
    "nested": lambda v: _nested(50),
    "null": lambda v: None,
}


def _crafted_meta(meta: dict, path: tuple[str, ...], variant: str) -> str:
    meta = json.loads(json.dumps(meta))
    holder = meta if len(path) == 1 else meta[path[0]]
    if VARIANTS[variant] is None:
        del holder[path[-1]]
    else:
        holder[path[-1]] = VARIANTS[variant](holder[path[-1]])
    return json.dumps(meta)


def _no_traceback(argv) -> int:
    stderr = io.StringIO()
    sys_stderr, sys.stderr = sys.stderr, stderr
    try:
        code = main([str(a) for a in argv])
    finally:
        sys.stderr = sys_stderr
    assert code in (0, 2), (argv, code, stderr.getvalue())
    assert "Traceback" not in stderr.getvalue() and len(stderr.getvalue().strip().splitlines()) <= 1, (
        argv, stderr.getvalue())
    return code


# ------------------------------------------------------------------ case 10: crafted metadata, key by key


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_crafted_metadata_never_ends_in_a_traceback(trained, tmp_path_factory, data):
    _, out = trained
    arrays = _arrays(out)
    meta = json.loads(str(arrays["meta"]))
    path = data.draw(st.sampled_from(_paths(meta)), label="key")
    variant = data.draw(st.sampled_from(sorted(VARIANTS)), label="variant")
    arrays["meta"] = np.array(_crafted_meta(meta, path, variant))
    run_dir = tmp_path_factory.mktemp("crafted")
    save_arrays(run_dir / "checkpoint.npz", arrays)
    _no_traceback(["sample", run_dir, "--length", "3"])
    _no_traceback(["eval", run_dir])
    _no_traceback(["train", "--out", run_dir, "--resume", "--steps", str(meta["step"] + 1)])


def test_every_schema_key_is_in_a_real_checkpoint_and_passes(trained):
    _, out = trained
    meta = json.loads(str(_arrays(out)["meta"]))
    check_meta(meta, resume=True)
    assert set(SCHEMA) <= set(meta)


def test_the_listed_crafted_checkpoints_get_one_line(trained, tmp_path, capsys):
    _, out = trained
    arrays = _arrays(out)
    meta = json.loads(str(arrays["meta"]))

    def crafted(change) -> Path:
        new = json.loads(json.dumps(meta))
        change(new)
        run_dir = tmp_path / f"c{len(os.listdir(tmp_path))}"
        text = json.dumps(new).replace('"DEEP"', "[" * 100_000 + "]" * 100_000)  # too deep to build
        save_arrays(run_dir / "checkpoint.npz", arrays | {"meta": np.array(text)})
        return run_dir

    cases = {
        "'step': expected an integer": lambda m: m.update(step="abc"),
        "config'.hidden: expected an integer": lambda m: m["config"].update(hidden=16.0),
        "train'.corpus: expected str": lambda m: m["train"].update(corpus=3),
        "the key 'schedule' is missing": lambda m: m.pop("schedule"),
        "the key 'step' is missing": lambda m: m.pop("step"),
        "nested too deeply": lambda m: m.update(history="DEEP"),
    }
    for said, change in cases.items():
        assert said in one_line(capsys, "train", "--out", crafted(change), "--resume", "--steps", "20")
    step_inf = crafted(lambda m: m.update(step=1e400))
    assert "'step': expected an integer" in one_line(capsys, "sample", step_inf)
    wrong_carry = tmp_path / "carry"
    save_arrays(wrong_carry / "checkpoint.npz", arrays | {"carry.0": np.zeros((1, 3, 16), np.float32)})
    err = one_line(capsys, "train", "--out", wrong_carry, "--resume", "--steps", "20")
    assert "carried state" in err and "(1, 4, 16)" in err


# ----------------------------------------------------------- case 14: sizes judged before anything is read


def _npy_header(shape, dtype="<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()  # the magic string, then the header


def test_zip_bombs_and_lying_headers_are_refused_before_reading(trained, tmp_path, capsys):
    _, out = trained
    good = (out / "checkpoint.npz").read_bytes()
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    with zipfile.ZipFile(bomb / "checkpoint.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        with zipfile.ZipFile(io.BytesIO(good)) as source:
            for info in source.infolist():
                archive.writestr(info.filename, source.read(info))
        with archive.open("model.extra.npy", "w", force_zip64=True) as f:  # 64 MB of zeros, ~64 KB packed
            f.write(_npy_header((16 * 2**20,)))
            for _ in range(64):
                f.write(bytes(2**20))
    assert (bomb / "checkpoint.npz").stat().st_size < 2**20
    err = one_line(capsys, "eval", bomb)
    assert "declares" in err and "nothing was loaded" in err
    liar = tmp_path / "liar"
    liar.mkdir()
    with zipfile.ZipFile(liar / "checkpoint.npz", "w") as archive:
        with zipfile.ZipFile(io.BytesIO(good)) as source:
            for info in source.infolist():
                archive.writestr(info.filename, source.read(info))
        archive.writestr("model.extra.npy", _npy_header((10**12,)) + bytes(64))
    err = one_line(capsys, "sample", liar)
    assert "declares shape (1000000000000,)" in err


def test_a_fifo_or_a_text_file_as_checkpoint_gets_one_line(tmp_path, capsys):
    fifo_run = tmp_path / "fifo"
    fifo_run.mkdir()
    os.mkfifo(fifo_run / "checkpoint.npz")  # opening it for reading would hang
    assert "not a regular file" in one_line(capsys, "eval", fifo_run)
    text = tmp_path / "notes.npz"
    text.write_text("just some notes")
    err = one_line(capsys, "sample", text)
    assert "not a checkpoint" in err and "allow_pickle" not in err


# ----------------------------------------------------------------------------- case 15: edge shapes


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_an_empty_batch_goes_through_the_fused_recurrent_layers(kind):
    layer = getattr(nn, kind)(3, 4, num_layers=2, fused=True)
    x = Tensor(np.zeros((5, 0, 3), np.float32), requires_grad=True)
    out, _ = layer(x)
    out.sum().backward()
    assert out.shape == (5, 0, 4) and x.grad.shape == (5, 0, 3)
    with pytest.raises(ShapeError, match="the input sequence is empty"):  # T = 0: torch refuses too
        layer(Tensor(np.zeros((0, 2, 3), np.float32)))


@pytest.mark.parametrize("fused", [False, True])
def test_attention_over_no_positions_and_layers_of_zero_width(fused):
    mha = nn.MultiheadAttention(4, 2, fused=fused)
    x = Tensor(np.zeros((0, 2, 4), np.float32), requires_grad=True)
    out, weights = mha(x, x, x)
    out.sum().backward()
    assert out.shape == (0, 2, 4) and weights.shape == (2, 0, 0) and x.grad.shape == (0, 2, 4)
    with pytest.raises(ShapeError, match="no keys to attend to"):
        mha(Tensor(np.zeros((3, 2, 4))), x, x)
    assert nn.Linear(0, 3)(Tensor(np.zeros((2, 0), np.float32))).numpy().tolist() == [[0.0] * 3] * 2
    with pytest.raises(ValueError, match="embed_dim and num_heads must be positive"):
        nn.MultiheadAttention(0, 1)


# --------------------------------------------------------------- case 13: pictures that cannot be built


def test_a_page_too_large_to_build_is_refused_with_the_steps_that_fit(tmp_path, capsys):
    err = one_line(capsys, "graph", "--model", "lstm", "--hidden", "512", "--steps", "200", "--html",
                   "-o", tmp_path / "big.html")
    assert "need about 3.7 GB" in err and "use --steps 54 or fewer" in err
    assert not (tmp_path / "big.html").exists()


def test_a_crashing_graphviz_gets_one_line_and_the_dot_is_kept(tmp_path, capsys, monkeypatch):
    graphviz = pytest.importorskip("graphviz")

    def segfault(*args, **kwargs):
        raise graphviz.CalledProcessError(-11, ["dot", "-Tsvg"])

    monkeypatch.setattr(graphviz, "pipe", segfault)
    code, out, err = run(capsys, "graph", "--model", "lstm", "--steps", "3", "-o", tmp_path / "g.svg")
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "dot failed (signal 11)" in err and (tmp_path / "g.dot").read_text().startswith("digraph")


# ------------------------------------------------------------------- case 12: a large corpus, bounded


def test_encoding_goes_in_pieces_and_equals_the_token_by_token_ids(monkeypatch):
    import tinygrad_seq.nn.lm.text as text_module

    monkeypatch.setattr(text_module, "ENCODE_PIECE", 7)  # many pieces, cut inside words and lines
    text = "나는 학교에 갔다 .\nthe cat 🙂 sat\n\nend"
    for vocab in (Vocab.chars(text), Vocab.words(text)):
        seen: list[tuple[int, int]] = []
        ids = vocab.encode(text, progress=lambda done, total, seen=seen: seen.append((done, total)))
        expected = [vocab.stoi.get(t, vocab.unk_id) for t in vocab.tokenize(text)]
        assert ids.tolist() == expected and len(seen) >= 3 and seen[-1] == (len(text), len(text))
    with pytest.raises(UnknownCharacterError, match="character 'x' .* at position 7 "):
        text_module.ENCODE_PIECE = 3  # the position counts the pieces before
        Vocab.chars("abc").encode("abcabca" + "x")


def test_a_large_corpus_prints_its_preparation_and_fits_the_baselines_on_a_bounded_part(
    tmp_path, capsys, monkeypatch
):
    import tinygrad_seq.nn.lm.cli_train as cli_train
    from tinygrad_seq.nn.lm import models

    monkeypatch.setattr(cli_train, "LARGE_CORPUS", 1000)
    monkeypatch.setattr(models, "BASELINE_TOKENS", 500)
    _, out = train(tmp_path, steps=2)
    code, text, _ = run(capsys, "train", "--out", out, "--resume", "--steps", "3")
    assert code == 0 and "preparing the corpus: 100% of" in text
