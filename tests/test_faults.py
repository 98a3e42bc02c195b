"""Fault injection: the `tinygrad-seq` command and the LM toolkit under bad input, signals, full disks,
changed corpora, odd sizes and a memory cap. Each test asserts the exit code, the one-line message and
that no data was lost (checksums of the previous checkpoint). Run alone with `pytest -m faults`.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from faults_common import COMMAND, ENV, TEXT, TINY, one_line, run, sha, start_training, stopped_by, train
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_seq.nn.lm.training as training
from tinygrad_seq import Tensor, no_grad
from tinygrad_seq.nn import Linear, optim
from tinygrad_seq.nn.lm.checkpoint import load_checkpoint, load_model
from tinygrad_seq.nn.lm.cli import main
from tinygrad_seq.nn.lm.models import Evaluation, LMConfig, build_model
from tinygrad_seq.nn.lm.sampling import score
from tinygrad_seq.nn.lm.text import Vocab
from tinygrad_seq.nn.module import TMP_PREFIX, StateDictError, save_arrays

pytestmark = pytest.mark.faults

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(corpus, run directory) of a char LSTM trained 8 steps; tests must not change it."""
    root = tmp_path_factory.mktemp("faults")
    return train(root)


# ------------------------------------------------------------------------ 1. silently wrong numbers


def test_eval_detects_a_changed_corpus_and_sample_score_use_the_checkpoint_vocabulary(tmp_path, capsys):
    corpus, out = train(tmp_path)
    code, text, _ = run(capsys, "eval", out, "--json")
    assert code == 0 and json.loads(text)["split"] == "validation split"
    corpus.write_text(TEXT.replace("cat", "zebra") * 2)  # new characters, other text: another split
    err = one_line(capsys, "eval", out)
    assert "changed since this model was trained" in err and "--corpus" in err
    other = tmp_path / "other.txt"
    other.write_text("the big dog sat on the rug .\n" * 4)
    code, text, _ = run(capsys, "eval", out, "--corpus", other)
    assert code == 0 and "no baselines: the corpus" in text and "changed since" in text
    code, text, _ = run(capsys, "sample", out, "--length", "20")  # needs no corpus at all
    assert code == 0
    code, text, _ = run(capsys, "score", out, "the red hen sat on the mat .")
    assert code == 0 and "the red hen" in text


# ------------------------------------------------------------------------------- 2. bounded memory


def test_graph_elides_long_unrolls_and_refuses_what_it_cannot_build(tmp_path, capsys):
    code, out, _ = run(capsys, "graph", "--model", "lstm", "--steps", "60", "-o", tmp_path / "g.dot")
    assert code == 0 and "drawn as its first and last 10 steps" in out
    assert "40 steps" in (tmp_path / "g.dot").read_text()  # the middle, elided
    err = one_line(capsys, "graph", "--model", "lstm", "--steps", "4000", "-o", tmp_path / "g.svg")
    assert "nodes, more than the 25,000" in err and "at most" in err
    err = one_line(capsys, "graph", "--model", "lstm", "--steps", "30", "--expand", "-o", tmp_path / "g.svg")
    assert "--expand draws every op" in err
    err = one_line(capsys, "graph", "--model", "transformer", "--steps", "1000000", "-o", tmp_path / "g.svg")
    assert "needs about" in err and "GB" in err


def test_impossible_sizes_are_refused_before_allocation_with_the_estimate(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    for extra in (["--model", "transformer", "--seq-len", "1000000"], ["--hidden", "10000000"]):
        err = one_line(capsys, "train", "--corpus", corpus, *extra, "--out", tmp_path / "r")
        assert "one training step needs about" in err and "GB" in err and "this machine has" in err
    assert not (tmp_path / "r" / "checkpoint.npz").exists()


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_score_streams_in_pieces_and_gives_the_same_numbers(kind):
    text = "the quick brown fox jumps over the lazy dog\n" * 3
    vocab = Vocab.chars(text)
    model = build_model(LMConfig(kind, len(vocab), hidden=16, heads=2, context=8), rng=0)
    pieces, whole = score(model, vocab, text, chunk=16), score(model, vocab, text, chunk=10**6)
    np.testing.assert_allclose(pieces.logp, whole.logp, atol=1e-5)
    assert len(pieces.logp) == len(text)
    if kind == "transformer":  # each token read after at least context // 2 tokens, as a window
        stream = np.concatenate([[vocab.stoi["\n"]], vocab.encode(text)])
        n, C, S = len(stream) - 1, 8, 4
        with no_grad():
            for p in (0, 7, 8, 11, 12, n - 1):
                start = 0 if p < C else min(C + (p - C) // S * S + S, n) - C
                logits, _ = model(stream[start : start + C, None])
                expected = logits.log_softmax(axis=-1).numpy()[p - start, 0, stream[p + 1]]
                assert pieces.logp[p] == pytest.approx(expected, abs=1e-5)
    else:
        with no_grad():
            logits, _ = model(np.concatenate([[vocab.stoi["\n"]], vocab.encode(text)])[:-1, None])
        assert whole.total == pytest.approx(
            float(logits.log_softmax(axis=-1).numpy()[np.arange(len(text)), 0, vocab.encode(text)].sum()),
            rel=1e-5,
        )


def test_score_memory_does_not_grow_with_the_text():
    vocab = Vocab.chars("abcdefgh \n")
    model = build_model(LMConfig("lstm", len(vocab), hidden=16), rng=0)
    rng = np.random.default_rng(0)
    peaks = []
    for n in (2_000, 20_000):
        text = "".join(rng.choice(list("abcdefgh \n"), n))
        tracemalloc.start()
        score(model, vocab, text, chunk=256)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # the per-token results (16 bytes a token) grow; the model's activations do not
    assert peaks[1] - peaks[0] < 40 * 18_000, peaks


def capped(cap_gb: float, *argv, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the command with its address space capped at `cap_gb` (RLIMIT_AS)."""
    cap = int(cap_gb * 2**30)
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return subprocess.run(
        [*COMMAND, *map(str, argv)],
        capture_output=True,
        text=True,
        env=ENV,
        preexec_fn=limit,
        timeout=timeout,
    )


def test_a_memory_cap_around_graph_of_ten_thousand_steps(tmp_path):
    done = capped(1.0, "graph", "--model", "lstm", "--steps", "10000", "-o", tmp_path / "g.svg")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "nodes" in done.stderr
    done = capped(1.0, "graph", "--model", "lstm", "--steps", "1000", "-o", tmp_path / "g.dot")
    assert done.returncode == 0, done.stderr
    assert "drawn as its first and last 10 steps" in done.stdout


@pytest.mark.slow
def test_a_memory_cap_around_score_of_a_million_characters(tmp_path):
    corpus, out = train(tmp_path, "--model", "transformer", "--heads", "2", "--hidden", "8", steps=4)
    rng = random.Random(0)
    big = tmp_path / "big.txt"
    big.write_text("".join(rng.choice(TEXT) for _ in range(10**6)))
    done = capped(1.0, "score", out, "--file", big)  # the whole text as one graph needed ~9 GB
    assert done.returncode == 0, done.stderr
    assert "1000000" in done.stdout and "(1,000,000 characters)" in done.stdout


# ------------------------------------------------------------------------------------- 3. lost runs


def test_sigterm_saves_like_ctrl_c_and_a_second_run_is_locked_out(tmp_path, capsys):
    def second_run(proc, corpus, out):
        err = one_line(capsys, "train", "--corpus", corpus, "--steps", "5", "--out", out)
        assert f"in use by another training run (PID {proc.pid})" in err

    assert stopped_by(tmp_path, signal.SIGTERM, while_running=second_run) >= 1


def test_signals_at_random_moments_never_lose_the_checkpoint():
    """SIGINT, SIGTERM and SIGKILL 20 times each (seeded) into real training runs, each run resuming the
    last: the checkpoint always loads, resume starts from it, and no temporary file outlives a run."""
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"tinygrad-seq-faults-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "c.txt").write_text(TEXT)
    errors: list[str] = []
    kinds = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}

    def chain(signum: int) -> None:
        rng = random.Random(signum)
        out = root / signal.Signals(signum).name
        last = 0
        for attempt in range(20):
            resume = (out / "checkpoint.npz").exists()
            proc = start_training(out, root / "c.txt", resume=resume)
            try:
                header = proc.stdout.readline()  # the command is running (its handlers are installed)
                resumed = proc.stdout.readline() if resume else ""
                while resume and not resumed.startswith(("corpus", "resuming")):
                    resumed = proc.stdout.readline()
                while resume and not resumed.startswith("resuming"):
                    resumed = proc.stdout.readline()
                time.sleep(rng.uniform(0.0, 1.0))
                proc.send_signal(signum)
                _, stderr = proc.communicate(timeout=120)
            finally:
                proc.kill()
            where = f"{signal.Signals(signum).name} #{attempt}"
            if resume and f"resuming at step {last}" not in resumed:
                errors.append(f"{where}: resume did not start from step {last}: {header!r} {resumed!r}")
            if proc.returncode != kinds[signum] or "Traceback" in stderr:
                errors.append(f"{where}: exit {proc.returncode}: {stderr[-300:]}")
            if not (out / "checkpoint.npz").exists():
                continue  # killed before the first checkpoint: the next run starts afresh
            _, _, ckpt = load_model(out / "checkpoint.npz")
            if ckpt.step < last:
                errors.append(f"{where}: the checkpoint went back from step {last} to {ckpt.step}")
            if "at step" in stderr and signum != signal.SIGKILL:
                said = int(stderr.split(" at step ")[1].split(":")[0])
                if said != ckpt.step:
                    errors.append(f"{where}: said step {said}, the checkpoint holds {ckpt.step}")
            last = ckpt.step
        done = subprocess.run(
            [*COMMAND, "train", "--out", str(out), "--resume", "--steps", str(last + 2)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=300,
        )
        if done.returncode != 0 or load_checkpoint(out / "checkpoint.npz").step != last + 2:
            errors.append(f"{signal.Signals(signum).name}: the final resume failed: {done.stderr[-300:]}")
        if any(p.name.startswith(TMP_PREFIX) for p in out.iterdir()):
            errors.append(f"{signal.Signals(signum).name}: temporary files left: {sorted(os.listdir(out))}")

    try:
        threads = [threading.Thread(target=chain, args=(s,)) for s in kinds]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert not errors, "\n".join(errors)


def test_an_unwritable_out_is_found_before_the_first_step(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    (tmp_path / "file").write_text("x")
    code, out, err = run(
        capsys, "train", "--corpus", corpus, "--steps", "4", "--out", tmp_path / "file" / "run"
    )
    assert code == 2 and out == "" and "cannot write to the output directory" in err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert "cannot write" in one_line(capsys, "train", "--corpus", corpus, "--out", locked / "run")


def test_stale_temporary_files_are_removed_on_the_next_run(tmp_path, capsys):
    corpus, out = train(tmp_path, steps=4)
    (out / f"{TMP_PREFIX}99999999.abc123.npz").write_bytes(b"half a checkpoint")  # kill -9 during a save
    (out / f"{TMP_PREFIX}99999999.def456.png").write_bytes(b"half a picture")
    assert main(["train", "--out", str(out), "--resume", "--steps", "6"]) == 0
    assert not [p for p in os.listdir(out) if p.startswith(TMP_PREFIX)]


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    corpus, out = train(tmp_path, steps=4)
    before = sha(out / "checkpoint.npz")
    real_savez = np.savez

    def full(file, **arrays):
        file.write(b"PK\x03\x04 some bytes")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    err = one_line(capsys, "train", "--out", out, "--resume", "--steps", "12")
    assert "No space left on device" in err
    monkeypatch.setattr(np, "savez", real_savez)
    assert sha(out / "checkpoint.npz") == before and load_checkpoint(out / "checkpoint.npz").step == 4
    assert not [p for p in os.listdir(out) if p.startswith(TMP_PREFIX)]


# ------------------------------------------------------------------- 4. training finishes, then crashes


@pytest.mark.parametrize(
    "text", ["the cat sat on the mat " * 40, "a" * 400], ids=["no-line-break", "one-char"]
)
def test_corpora_without_a_start_token_train_and_print_the_summary(tmp_path, capsys, text):
    corpus = tmp_path / "c.txt"
    corpus.write_text(text)
    code, out, err = run(capsys, "train", "--corpus", corpus, *TINY, "--steps", "4", "--out", tmp_path / "r")
    assert code == 0 and "Traceback" not in err
    assert "after the corpus's first token" in out and "checkpoint:" in out


@pytest.mark.parametrize(
    "option",
    [
        ["--lr", "inf"],
        ["--lr", "nan"],
        ["--clip", "inf"],
        ["--dropout", "nan"],
        ["--valid-fraction", "nan"],
        ["--seed", "-1"],
        ["--minutes", "inf"],
    ],
)
def test_non_finite_or_negative_settings_are_refused_up_front(tmp_path, capsys, option):
    (tmp_path / "c.txt").write_text(TEXT)
    try:
        code = main(["train", "--corpus", str(tmp_path / "c.txt"), *option, "--out", str(tmp_path / "r")])
    except SystemExit as stop:  # argparse's own one line
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and option[0].lstrip("-").split("-")[0] in err, err
    assert not (tmp_path / "r" / "checkpoint.npz").exists()


def test_a_nan_loss_stops_training_naming_the_step_and_keeps_the_last_checkpoint(
    tmp_path, capsys, monkeypatch
):
    corpus, out = train(tmp_path, steps=4)
    before = sha(out / "checkpoint.npz")
    real, calls = training.chunk_loss, []

    def nan_at_third(model, x, y, state=None, reduction="mean"):
        loss, state = real(model, x, y, state, reduction)
        calls.append(1)
        return (loss * float("nan") if len(calls) == 3 else loss), state

    monkeypatch.setattr(training, "chunk_loss", nan_at_third)
    err = one_line(capsys, "train", "--out", out, "--resume", "--steps", "20")
    assert "the loss became nan at step 7" in err and "keeps step 4" in err
    assert sha(out / "checkpoint.npz") == before


# ------------------------------------------------------------------------------------------- 5. paths


def test_a_relative_corpus_is_stored_resolved_and_equal_paths_are_accepted(tmp_path, capsys, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "c.txt").write_text(TEXT)
    monkeypatch.chdir(tmp_path / "data")
    assert main(["train", "--corpus", "c.txt", *TINY, "--steps", "4", "--out", str(tmp_path / "run")]) == 0
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz").meta["train"]["corpus"] == str(
        (tmp_path / "data" / "c.txt").resolve()
    )
    assert (
        main(["train", "--corpus", "./c.txt", "--out", str(tmp_path / "run"), "--resume", "--steps", "6"])
        == 0
    )
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    code, out, _ = run(capsys, "eval", "run")
    assert code == 0 and "validation split" in out
    assert (
        main(
            [
                "train",
                "--corpus",
                str(tmp_path / "data" / "c.txt"),
                "--out",
                "run",
                "--resume",
                "--steps",
                "8",
            ]
        )
        == 0
    )


# ------------------------------------------------------------------------- 6. one line, not a traceback


def test_listed_tracebacks_are_one_line(trained, tmp_path, capsys):
    corpus, out = trained
    assert "--seed" in _argparse_error(capsys, "train", "--seed", "-1", "--out", tmp_path / "r")
    assert "max-vocab counts <unk> and <eos>" in one_line(
        capsys, "train", "--corpus", corpus, "--level", "word", "--max-vocab", "1", "--out", tmp_path / "r"
    )
    assert "'jpg' is not one of" in one_line(capsys, "graph", "--model", "lstm", "-o", tmp_path / "x.jpg")
    assert "is a file, not a training directory" in one_line(capsys, "eval", corpus)
    assert "temperature must be a finite number" in one_line(capsys, "sample", out, "--temperature", "nan")
    code, text, _ = run(capsys, "sample", out, "--temperature", "1e-320", "--length", "20")
    assert code == 0 and len(text) > 20  # as good as greedy, not "Probabilities contain NaN"
    assert text == run(capsys, "sample", out, "--temperature", "0", "--length", "20")[1]


def _argparse_error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code == 2
    return capsys.readouterr().err


def crafted(tmp_path: Path, source: Path, change) -> Path:
    """A copy of the checkpoint in `source` with its arrays changed by `change(arrays)`."""
    with np.load(source / "checkpoint.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    path = tmp_path / f"crafted{len(os.listdir(tmp_path))}"
    save_arrays(path / "checkpoint.npz", arrays)
    return path


def test_crafted_checkpoints_get_one_line_and_never_half_load(trained, tmp_path, capsys):
    _, out = trained
    as_list = crafted(tmp_path, out, lambda a: a.update(meta=np.array("[1, 2]")))
    assert "unreadable metadata" in one_line(capsys, "sample", as_list)
    key = "model.decoder.bias"
    as_text = crafted(tmp_path, out, lambda a: a.update({key: np.array(["x"] * a[key].size)}))
    assert "values, not numbers" in one_line(capsys, "eval", as_text)
    huge = crafted(
        tmp_path,
        out,
        lambda a: a.update(meta=np.array(str(a["meta"]).replace('"hidden": 16', '"hidden": 10000000'))),
    )
    assert "needs about" in one_line(capsys, "sample", huge)
    model = Linear(3, 2)
    before = [p.numpy().copy() for p in model.parameters()]
    with pytest.raises(StateDictError, match="not numbers"):
        model.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.array(["a", "b"])})
    assert all(np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters()))


# -------------------------------------------------------------------------------------------- 7. smaller


def test_tensor_none_and_backward_without_grad_raise():
    with pytest.raises(TypeError, match="data is None"):
        Tensor(None)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor([1.0, 2.0]) * 2).sum().backward()
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_eval_json_is_json_and_huge_perplexities_print_short(trained, tmp_path, capsys):
    _, out = trained
    nan = crafted(tmp_path, out, lambda a: a.update({"model.decoder.bias": a["model.decoder.bias"] * np.nan}))
    code, text, _ = run(capsys, "eval", nan, "--json")
    result = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert code == 0 and result["loss"] is None and result["perplexity"] is None
    assert Evaluation(800.0, 10).perplexity == math.inf
    from tinygrad_seq.nn.lm.cli_eval import table

    shown = table(Evaluation(700.0, 10), {}, "lstm")
    assert "1.01e+304" in shown and max(len(line) for line in shown.splitlines()) < 80


def test_word_level_score_names_the_words_read_as_unk(tmp_path, capsys):
    corpus, out = train(tmp_path, "--level", "word", "--min-freq", "2")
    code, text, _ = run(capsys, "score", out, "the zebra sat on the quux .")
    assert code == 0 and "2 words are not in the vocabulary and scored as <unk>: 'quux', 'zebra'" in text


def test_quick_demo_writes_its_own_run_directory():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "demos"))
    try:
        import main as demo
    finally:
        sys.path.pop(0)
    assert demo.default_out(quick=True) != demo.default_out(quick=False) == os.path.join("out", "main")


def test_the_learning_rate_never_rises_when_the_step_estimate_grows(tmp_path):
    vocab = Vocab.chars(TEXT)
    ids = vocab.encode(TEXT)
    model = build_model(LMConfig("lstm", len(vocab), hidden=8), rng=0)
    trainer = training.Trainer(
        model,
        vocab,
        ids[:800],
        ids[800:],
        training.TrainConfig(
            seq_len=8, batch_size=4, warmup=5, eval_every=1000, eval_tokens=None, eval_batch=4
        ),
        tmp_path,
        stream=io.StringIO(),
    )
    trainer.warmup = 5
    trainer._build_schedule(30)  # a first estimate far too short
    lrs = []
    for step in range(120):
        trainer.train_step()
        lrs.append(trainer.history["lr"][-1])
        if step in (20, 40, 70):
            trainer._replan(trainer.step + [60, 100, 50][(20, 40, 70).index(step)])
    after_warmup = np.array(lrs[5:])
    assert np.all(np.diff(after_warmup) <= 1e-15), after_warmup
    sched = optim.CosineWithWarmup(optim.SGD([Tensor([1.0], requires_grad=True)], lr=1.0), 2, 10, 0.1)
    for _ in range(6):
        sched.step()
    now = sched.get_lr()
    sched.stretch(100)
    assert sched.get_lr() == pytest.approx(now) and sched.lr_at(100) == pytest.approx(0.1)


def test_files_are_created_with_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        _, out = train(tmp_path, steps=4)
    finally:
        os.umask(old)
    for name in ("checkpoint.npz", "loss_curve.png"):
        if (out / name).exists():
            assert (out / name).stat().st_mode & 0o777 == 0o644, name


# ------------------------------------------------------------------------------------------------ fuzz

VALUES = st.one_of(
    st.sampled_from(
        [
            "0",
            "-1",
            "1",
            "2",
            "nan",
            "inf",
            "-inf",
            "1e309",
            "1e-320",
            "abc",
            "",
            " ",
            "3.5",
            "99999999999999999999",
            "-0",
            "0x10",
            "☃",
            "\n",
            "--",
            "lstm",
            "word",
            "x.jpg",
        ]
    ),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8),
)
TRAIN_OPTIONS = [
    "--level",
    "--model",
    "--hidden",
    "--layers",
    "--embed",
    "--heads",
    "--dropout",
    "--seq-len",
    "--batch-size",
    "--lr",
    "--clip",
    "--warmup",
    "--schedule",
    "--eval-every",
    "--valid-fraction",
    "--min-freq",
    "--max-vocab",
    "--seed",
    "--steps",
    "--minutes",
]
OTHER = {
    "eval": ["--batch-size", "--corpus"],
    "sample": ["--prompt", "--length", "--temperature", "--top-k", "--num", "--seed"],
    "score": ["--file"],
    "graph": ["--hidden", "--steps", "--max-steps", "-o"],
}


@settings(max_examples=30)  # each example may train a tiny model: about a second
@given(command=st.sampled_from(["train", "eval", "sample", "score", "graph"]), data=st.data())
def test_fuzzed_options_never_end_in_a_traceback(trained, tmp_path_factory, command, data):
    corpus, out = trained
    if command == "train":
        names = data.draw(st.lists(st.sampled_from(TRAIN_OPTIONS), min_size=1, max_size=3, unique=True))
        base = [
            "--corpus",
            str(corpus),
            "--hidden",
            "8",
            "--seq-len",
            "8",
            "--batch-size",
            "2",
            "--steps",
            "2",
            "--eval-every",
            "1000",
            "--out",
            str(tmp_path_factory.mktemp("fuzz")),
        ]
    else:
        names = data.draw(st.lists(st.sampled_from(OTHER[command]), min_size=1, max_size=3, unique=True))
        base = {
            "eval": [str(out)],
            "sample": [str(out), "--length", "5"],
            "score": [str(out), "the cat"],
            "graph": ["--model", "lstm", "-o", str(tmp_path_factory.mktemp("fuzz") / "g.dot")],
        }[command]
    argv = [command, *base]
    for name in names:
        value = data.draw(VALUES)
        if name == "-o":  # wherever the picture goes, it goes inside a temporary directory
            value = str(tmp_path_factory.mktemp("fuzz") / value.replace("/", "_"))
        if command == "train" and name in ("--hidden", "--seq-len", "--steps") and value.isdigit():
            value = str(min(int(value), 64))  # any size is checked; only a small one is worth training
        if name == "--minutes" and value.replace(".", "", 1).isdigit():
            value = str(min(float(value), 0.01))
        argv += [name, value]
    stderr = io.StringIO()
    try:
        sys_stderr, sys.stderr = sys.stderr, stderr
        code = main(argv)
    except SystemExit as stop:  # argparse: a usage error (2)
        code = stop.code
    finally:
        sys.stderr = sys_stderr
    assert code in (0, 1, 2, 3), (argv, code, stderr.getvalue())  # 3: no `dot` for a picture
    assert "Traceback" not in stderr.getvalue()
