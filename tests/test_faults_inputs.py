"""Fault injection, crafted input: checkpoint metadata changed key by key (wrong type, missing, huge,
nested), carried states of the wrong shape, zip bombs and FIFOs as checkpoints, edge shapes through the
layers. Each ends in one line (exit code 2) or works; never a traceback. Run alone with `pytest -m faults`.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from faults_common import one_line, train
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_seq.nn.lm.cli import main
from tinygrad_seq.nn.lm.metadata import SCHEMA, check_meta
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
