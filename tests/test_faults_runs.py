"""Fault injection, runs that must not be lost: a hang-up, a closed stdout pipe, a moved corpus, a terminal
that cannot show the text, more threads than cores, a corpus that is a pipe. Run alone with `pytest -m
faults`.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from faults_common import COMMAND, ENV, TEXT, TINY, one_line, run, stopped_by, train

from tinygrad_seq.nn.lm.checkpoint import load_checkpoint

pytestmark = pytest.mark.faults

KOREAN = "나는 오늘 학교에 갔다 .\n비가 와서 우산을 썼다 .\n" * 40


# ------------------------------------------------------------- case 7: SIGHUP and a closed stdout pipe


def test_sighup_saves_like_sigterm(tmp_path):
    assert stopped_by(tmp_path, signal.SIGHUP) >= 1


def test_a_closed_stdout_pipe_stops_the_printing_not_the_training(tmp_path):
    """`train ... | head -1`: the reader goes away; training goes on silently to its last step and saves."""
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    out = tmp_path / "run"
    argv = [*COMMAND, "train", "--corpus", str(corpus), *TINY, "--steps", "40", "--out", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    try:
        proc.stdout.readline()  # head -1
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        proc.wait(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "Traceback" not in stderr and "Broken pipe" not in stderr, stderr
    assert load_checkpoint(out / "checkpoint.npz").step == 40


# -------------------------------------------------------------------------------- case 8: a moved corpus


def test_a_moved_corpus_resumes_when_its_contents_match(tmp_path, capsys):
    corpus, out = train(tmp_path, steps=4)
    moved = tmp_path / "elsewhere.txt"
    corpus.rename(moved)
    err = one_line(capsys, "train", "--out", out, "--resume", "--steps", "6")
    assert "does not exist any more" in err and "--corpus" in err
    assert run(capsys, "train", "--out", out, "--resume", "--steps", "6", "--corpus", moved)[0] == 0
    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt.step == 6 and ckpt.meta["train"]["corpus"] == str(moved)
    other = tmp_path / "other.txt"
    other.write_text(TEXT.replace("cat", "cow"))
    err = one_line(capsys, "train", "--out", out, "--resume", "--steps", "8", "--corpus", other)
    assert "--corpus" in err and "differ" in err  # another text is still a clash
    assert run(capsys, "eval", out)[0] == 0  # the new path is the run's corpus now


# ----------------------------------------------------------------------- case 9: non-UTF-8 terminals


@pytest.mark.parametrize("encoding", ["ascii", "cp949"])
def test_a_terminal_that_cannot_show_the_text_gets_escapes(tmp_path, encoding):
    corpus = tmp_path / "ko.txt"
    corpus.write_text(KOREAN + "emoji 🙂 ü\n" * 5)
    out = tmp_path / "run"
    env = ENV | {"PYTHONIOENCODING": encoding}
    commands = [
        ["train", "--corpus", str(corpus), *TINY, "--steps", "4", "--out", str(out)],
        ["sample", str(out), "--length", "40"],
        ["score", str(out), "비가 와서 🙂"],
    ]
    for argv in commands:
        done = subprocess.run([*COMMAND, *argv], capture_output=True, env=env, timeout=120)
        stdout, stderr = done.stdout.decode(encoding), done.stderr.decode(encoding, "replace")
        assert done.returncode == 0 and "Traceback" not in stderr, (argv, stderr)
        assert "\\U0001f642" in stdout or argv[0] == "sample"  # the emoji, escaped
    assert load_checkpoint(out / "checkpoint.npz").step == 4


# ---------------------------------------------------------------------------- case 16: the smaller ones


def test_more_threads_than_cores_warns_in_one_line(tmp_path, capsys):
    corpus, out = train(tmp_path, steps=2)
    code, _, err = run(capsys, "sample", out, "--length", "5", "--threads", str(os.cpu_count() + 7))
    assert code == 0 and "warning:" in err and "threads on" in err and "use at most" in err
    assert len(err.strip().splitlines()) == 1


def test_a_pipe_as_corpus_is_named_and_a_failed_corpus_leaves_no_out(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out = tmp_path / "run"
    for corpus in (fifo, "/dev/stdin"):
        err = one_line(capsys, "train", "--corpus", corpus, "--steps", "2", "--out", out)
        assert "not a regular file" in err and "does not exist" not in err
        assert not out.exists()  # no --out with a lone .lock left behind
    err = one_line(capsys, "train", "--corpus", tmp_path / "missing.txt", "--out", out)
    assert "does not exist" in err and not out.exists()
