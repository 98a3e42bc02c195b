"""What the fault-injection tests share: a small corpus, tiny training options, and running the command
in this process (exit code, stdout, stderr) or training a run directory."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tinygrad_seq.nn.lm.checkpoint import load_checkpoint
from tinygrad_seq.nn.lm.cli import main

TEXT = (
    "".join(
        f"the {a} {b} sat on the {c} .\n"
        for a in ("big", "small", "red")
        for b in ("cat", "dog", "fox", "hen")
        for c in ("mat", "log", "rug")
    )
    * 3
)
TINY = ["--hidden", "16", "--seq-len", "8", "--batch-size", "4", "--eval-every", "4", "--warmup", "0"]
ENV = os.environ | {"OPENBLAS_NUM_THREADS": "1"}
COMMAND = [sys.executable, "-m", "tinygrad_seq"]


def run(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()  # what earlier commands printed
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(capsys, *argv) -> str:
    """The command fails with exit code 2 and exactly one line on stderr, no traceback."""
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def train(
    tmp_path: Path, *extra, corpus_text: str = TEXT, name: str = "run", steps: int = 8
) -> tuple[Path, Path]:
    corpus = tmp_path / f"{name}.txt"
    corpus.write_text(corpus_text)
    out = tmp_path / name
    assert (
        main(
            [
                "train",
                "--corpus",
                str(corpus),
                *TINY,
                "--steps",
                str(steps),
                "--out",
                str(out),
                *map(str, extra),
            ]
        )
        == 0
    )
    return corpus, out


def start_training(out: Path, corpus: Path, *extra: str, resume: bool = False) -> subprocess.Popen:
    args = ["train", "--out", str(out), "--steps", "1000000"]
    args += ["--resume"] if resume else ["--corpus", str(corpus), *TINY[:-4], "--eval-every", "3"]
    return subprocess.Popen(
        [*COMMAND, *args, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )


def wait_for_line(proc: subprocess.Popen, prefix: str) -> str:
    for line in proc.stdout:
        if line.startswith(prefix):
            return line
    raise AssertionError(f"no line starting {prefix!r}; stderr: {proc.stderr.read()}")


def stopped_by(tmp_path: Path, signum: int, while_running: Callable[[subprocess.Popen, Path, Path], None]
               | None = None) -> int:
    """Train in a child process, send it `signum` once it prints its first step (after
    `while_running(proc, corpus, out)`, if given), and check that it stops as promised: exit code
    128 + signum, no traceback, "stopped by NAME at step N" on stderr and a checkpoint at step N >= 1.
    Returns N."""
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    out = tmp_path / "run"
    proc = start_training(out, corpus)
    try:
        wait_for_line(proc, "step ")
        if while_running is not None:
            while_running(proc, corpus, out)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr and f"stopped by {name} at step" in stderr, stderr
    step = int(stderr.split(f"stopped by {name} at step ")[1].split(":")[0])
    assert load_checkpoint(out / "checkpoint.npz").step == step >= 1
    return step
