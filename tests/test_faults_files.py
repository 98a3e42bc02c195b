"""Fault injection, files outside the run: a planted link as the lock, `export -o` over existing files,
devices and the run's own checkpoint, a user's own temporary-looking files, a damaged export. Each test
checks the one-line message and that nothing outside the run changed. Run alone with `pytest -m faults`.
"""

from __future__ import annotations

import os
import random
import stat
import subprocess
import sys
import threading

import numpy as np
import pytest
from faults_common import one_line, run, sha, train

import tinygrad_seq.nn.lm.export as export
from tinygrad_seq.nn.lm.models import LMConfig, build_model
from tinygrad_seq.nn.lm.text import Vocab
from tinygrad_seq.nn.module import TMP_PREFIX, atomic_write, is_stale_temporary

pytestmark = pytest.mark.faults

NO_PID = 99_999_999  # above the largest PID Linux hands out (2 ** 22): no process has it


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train(tmp_path_factory.mktemp("files"))


# ------------------------------------------------------------------------ case 4: a symlink as the lock


def test_a_lock_that_is_a_symlink_is_refused_and_its_target_untouched(trained, tmp_path, capsys):
    corpus, _ = trained
    victim = tmp_path / "precious.txt"
    victim.write_text("precious\n")
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").symlink_to(victim)
    err = one_line(capsys, "train", "--corpus", corpus, "--steps", "2", "--out", out)
    assert "is a symbolic link" in err and victim.read_text() == "precious\n"
    (out / ".lock").unlink()
    os.mkfifo(out / ".lock")  # not a regular file either: refused, and opening it does not hang
    assert "not a regular file" in one_line(capsys, "train", "--corpus", corpus, "--steps", "2", "--out", out)


# --------------------------------------------------------------------- case 5: export -o never destroys


def test_export_refuses_existing_files_and_the_runs_own_and_writes_devices_directly(
    trained, tmp_path, capsys, monkeypatch
):
    pytest.importorskip("safetensors.numpy")
    _, out = trained
    before = sha(out / "checkpoint.npz")
    for own in ("checkpoint.npz", "loss_curve.png", ".lock"):
        err = one_line(capsys, "export", out, "-o", out / own, "--force")
        assert "a file of the run itself" in err
    assert sha(out / "checkpoint.npz") == before
    mine = tmp_path / "mine.safetensors"
    mine.write_text("my own file")
    assert "already exists; pass --force" in one_line(capsys, "export", out, "-o", mine)
    assert mine.read_text() == "my own file"
    code, _, _ = run(capsys, "export", out, "-o", mine, "--force")
    assert code == 0 and export.read_safetensors(mine)[1]["step"] == "8"

    def no_rename(*args, **kwargs):
        raise AssertionError("a device or a pipe must be written directly, never replaced")

    monkeypatch.setattr(export, "atomic_write", no_rename)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(pipe, "rb").read()))
    reader.start()
    code, text, err = run(capsys, "export", out, "-o", pipe)
    reader.join(timeout=30)
    assert code == 0 and stat.S_ISFIFO(os.stat(pipe).st_mode) and received[0][:8] != b""
    assert "wrote" in err and text == ""  # the message goes to stderr: stdout may be the file itself
    if os.path.exists("/dev/full"):
        err = one_line(capsys, "export", out, "-o", "/dev/full")
        assert "No space left on device" in err and stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_exported_tensors_carry_a_sha256_that_catches_bit_flips(tmp_path):
    pytest.importorskip("safetensors.numpy")
    vocab = Vocab.chars("the cat sat on the mat\n")
    model = build_model(LMConfig("lstm", len(vocab), hidden=8), rng=0)
    path = tmp_path / "m.safetensors"
    arrays = export.export_safetensors(model, vocab, path)
    good = path.read_bytes()
    header = 8 + int.from_bytes(good[:8], "little")
    rng = random.Random(0)
    silent = 0
    for _ in range(100):  # every flip in the tensors' bytes, and most in the header, is refused
        flipped = bytearray(good)
        at = rng.randrange(header, len(good))
        flipped[at] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        with pytest.raises(export.ExportError):
            export.read_safetensors(path)
    for _ in range(100):
        flipped = bytearray(good)
        flipped[rng.randrange(8, header)] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        try:
            loaded, _ = export.read_safetensors(path)
        except export.ExportError:
            continue
        silent += any(not np.array_equal(loaded[k], arrays[k]) for k in arrays) or set(loaded) != set(arrays)
    assert silent == 0


# ---------------------------------------------------------- case 6: only the project's stale temporaries


def test_only_stale_temporaries_of_this_project_are_removed(trained, tmp_path, capsys):
    corpus, _ = trained
    _, out = train(tmp_path, steps=4)
    users = [".tmp-notes.txt", ".tmp-abc123.npz", f"{TMP_PREFIX}notes.txt"]
    for name in users:
        (out / name).write_text("the user's own")
    stale = out / f"{TMP_PREFIX}{NO_PID}.abc.npz"  # what kill -9 during a save leaves
    stale.write_bytes(b"half a checkpoint")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = out / f"{TMP_PREFIX}{sleeper.pid}.def.png"  # another process is still writing it
        live.write_bytes(b"half a picture")
        assert not is_stale_temporary(live.name) and is_stale_temporary(stale.name)
        assert run(capsys, "train", "--out", out, "--resume", "--steps", "6")[0] == 0
        assert not stale.exists() and live.exists()
        assert all((out / name).read_text() == "the user's own" for name in users)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_atomic_write_names_its_temporary_after_this_process(tmp_path):
    seen = []
    with atomic_write(tmp_path / "x.bin") as f:
        seen = os.listdir(tmp_path)
        f.write(b"x")
    assert len(seen) == 1 and seen[0].startswith(f"{TMP_PREFIX}{os.getpid()}.")
    assert os.listdir(tmp_path) == ["x.bin"]
