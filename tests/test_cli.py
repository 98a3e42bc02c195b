"""The `tinygrad-seq` command end to end on a tiny corpus in a temporary directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinygrad_seq.nn import LSTM
from tinygrad_seq.nn.lm.checkpoint import load_checkpoint
from tinygrad_seq.nn.lm.cli import main
from tinygrad_seq.nn.lm.training import TrainConfig

TEXT = "".join(
    f"the {a} {b} sat on the {c} .\n"
    for a in ("big", "small", "red")
    for b in ("cat", "dog", "fox", "hen")
    for c in ("mat", "log", "rug")
) * 3
TINY = ["--hidden", "16", "--seq-len", "8", "--batch-size", "4", "--eval-every", "4", "--warmup", "0"]
SUBCOMMANDS = ["train", "eval", "sample", "score", "graph", "gradcheck", "export"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(corpus path, training directory): a char-level LSTM trained for 8 steps, shared by the tests."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT)
    out = root / "run"
    assert main(["train", "--corpus", str(corpus), "--model", "lstm", *TINY, "--steps", "8",
                 "--out", str(out)]) == 0
    return corpus, out


def test_train_writes_checkpoint_and_curve_and_reports_baselines(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    code, out, err = run(capsys, "train", "--corpus", corpus, "--model", "gru", *TINY, "--steps", "4",
                         "--out", tmp_path / "run")
    assert code == 0, err
    assert "trigram (Kneser-Ney)" in out and "model (gru)" in out and "step 4/4" in out
    assert os.path.exists(tmp_path / "run" / "checkpoint.npz")
    with open(tmp_path / "run" / "loss_curve.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz").step == 4


def test_train_resume_continues_to_the_new_step_count(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    args = ["train", "--corpus", corpus, *TINY, "--out", tmp_path / "run"]
    assert run(capsys, *args, "--steps", "3")[0] == 0
    code, out, _ = run(capsys, "train", "--out", tmp_path / "run", "--resume", "--steps", "5")
    assert code == 0 and "resuming at step 3" in out
    assert load_checkpoint(tmp_path / "run" / "checkpoint.npz").step == 5


def test_word_level_transformer_trains(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    code, out, err = run(capsys, "train", "--corpus", corpus, "--level", "word", "--model", "transformer",
                         "--hidden", "8", "--heads", "2", "--seq-len", "6", "--batch-size", "2",
                         "--steps", "2", "--out", tmp_path / "run")
    assert code == 0, err
    code, out, _ = run(capsys, "sample", tmp_path / "run", "--prompt", "the big", "--seed", "1")
    assert code == 0 and out.startswith("the big") and "<unk>" not in out


def test_cpu_minutes_budget_and_a_kinds_own_defaults(tmp_path, capsys):
    """--cpu-minutes trains for CPU time; a Transformer gets its kind's defaults (TrainConfig.PER_KIND)
    unless an option says otherwise; --minutes and --cpu-minutes together are refused."""
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    code, out, err = run(capsys, "train", "--corpus", corpus, "--model", "transformer", "--hidden", "8",
                         "--heads", "2", "--layers", "1", "--batch-size", "2", "--cpu-minutes", "0.005",
                         "--out", tmp_path / "run")
    assert code == 0, err
    assert "CPU minutes of training" in out
    saved = load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    own = TrainConfig.defaults("transformer")
    assert saved.meta["train"]["seq_len"] == own.get("seq_len", TrainConfig.seq_len)
    assert saved.meta["train"]["lr"] == own.get("lr", TrainConfig.lr) and saved.config.hidden == 8
    assert "not both" in bad(capsys, "train", "--corpus", corpus, "--minutes", "1", "--cpu-minutes", "1",
                             "--out", tmp_path / "other")


def test_eval_json_is_one_object_with_the_promised_keys(trained, capsys):
    _, out_dir = trained
    code, out, _ = run(capsys, "eval", out_dir, "--json")
    assert code == 0
    result = json.loads(out)
    assert {"loss", "bits_per_token", "perplexity", "tokens", "baselines"} <= set(result)
    assert result["bits_per_token"] == pytest.approx(result["loss"] / np.log(2))
    assert result["perplexity"] == pytest.approx(np.exp(result["loss"]))
    assert set(result["baselines"]) == {"uniform", "unigram", "bigram", "trigram"}
    assert all(b["tokens"] == result["tokens"] for b in result["baselines"].values())


def test_eval_on_another_file_and_as_a_table(trained, tmp_path, capsys):
    corpus, out_dir = trained
    other = tmp_path / "other.txt"
    other.write_text("the red hen sat on the rug .\n" * 4)
    code, out, _ = run(capsys, "eval", out_dir, "--corpus", other, "--json")
    assert code == 0 and json.loads(out)["tokens"] > 50
    code, out, _ = run(capsys, "eval", out_dir)
    assert code == 0 and "perplexity" in out and "unigram" in out and "validation split" in out


def test_sample_is_seeded_and_continues_the_prompt(trained, capsys):
    _, out_dir = trained
    args = ["sample", out_dir, "--prompt", "the ", "--length", "40", "--temperature", "1.0", "--top-k", "5"]
    code, first, _ = run(capsys, *args, "--seed", "3")
    assert code == 0 and first.startswith("the ") and len(first.rstrip("\n")) == 44
    assert run(capsys, *args, "--seed", "3")[1] == first
    assert run(capsys, *args, "--seed", "4")[1] != first


def test_score_ranks_sentences_side_by_side(trained, capsys):
    _, out_dir = trained
    sentences = ["the big cat sat on the mat .", "mat the on sat cat big the .",
                 "the red hen sat on the rug ."]
    code, out, _ = run(capsys, "score", out_dir, *sentences, "--per-token")
    assert code == 0
    rows = [line.split(maxsplit=4) for line in out.splitlines() if line[:1].isdigit()]
    assert [int(r[0]) for r in rows] == [1, 2, 3] and sorted(r[4] for r in rows) == sorted(sentences)
    totals = [float(r[1]) for r in rows]
    assert totals == sorted(totals, reverse=True) and all(t < 0 for t in totals)
    assert "times as likely" in out and "'t' " in out  # the per-token breakdown


def test_graph_of_a_trained_and_of_an_untrained_model(trained, tmp_path, capsys):
    _, out_dir = trained
    code, out, err = run(capsys, "graph", out_dir, "--steps", "3", "-o", tmp_path / "trained.svg")
    assert code == 0, err
    assert open(tmp_path / "trained.svg").read().lstrip().startswith(("<?xml", "<svg"))
    code, out, err = run(capsys, "graph", "--model", "gru", "--steps", "4", "-o", tmp_path / "gru.dot")
    assert code == 0, err
    assert "t=3" in open(tmp_path / "gru.dot").read()


def test_graph_html_writes_the_bptt_explorer(trained, tmp_path, capsys):
    _, out_dir = trained
    code, out, err = run(capsys, "graph", out_dir, "--steps", "5", "--html", "-o", tmp_path / "bptt.html")
    assert code == 0, err
    assert "BPTT explorer" in out and "5 steps" in out
    page = open(tmp_path / "bptt.html", encoding="utf-8").read()
    assert page.startswith("<!DOCTYPE html>") and page.count('class="fwd"') == 5
    assert 'id="m0-step-4"' in page and "weight_hh_l0" in page and page.count('class="dist"') == 5
    code, _, err = run(capsys, "graph", "--model", "transformer", "--html", "-o", tmp_path / "t.html")
    assert code == 2 and "Transformer has none" in err
    too_long = ["--model", "gru", "--steps", "201", "--html", "-o", tmp_path / "g.html"]
    code, _, err = run(capsys, "graph", *too_long)
    assert code == 2 and "at most 200 steps" in err


def test_gradcheck_prints_a_table_of_reports(capsys):
    code, out, _ = run(capsys, "gradcheck", "--layer", "gru")
    assert code == 0
    assert "gru" in out and "passed" in out and "max abs err" in out and "weight_hh_l1" in out
    assert "all gradients match finite differences" in out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: tinygrad-seq {command}" in capsys.readouterr().out


def test_python_dash_m_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "tinygrad_seq", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and all(c in done.stdout for c in SUBCOMMANDS)


# ------------------------------------------------------------------------------------------ bad input


def bad(capsys, *argv) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err


def test_missing_and_empty_corpora(tmp_path, capsys):
    assert "does not exist" in bad(capsys, "train", "--corpus", tmp_path / "nope.txt",
                                   "--out", tmp_path / "r")
    (tmp_path / "empty.txt").write_text("  \n")
    assert "is empty" in bad(capsys, "train", "--corpus", tmp_path / "empty.txt", "--out", tmp_path / "r")
    (tmp_path / "tiny.txt").write_text("hi\n")
    assert "too small" in bad(capsys, "train", "--corpus", tmp_path / "tiny.txt", "--out", tmp_path / "r")


def test_missing_and_foreign_checkpoints(tmp_path, capsys):
    assert "train a model first" in bad(capsys, "sample", tmp_path / "nothing")
    LSTM(3, 4).save(tmp_path / "weights.npz")  # a checkpoint of another kind: weights only
    assert "not a language-model checkpoint" in bad(capsys, "sample", tmp_path / "weights.npz")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "checkpoint.npz").write_bytes(b"garbage")
    assert "not a readable .npz" in bad(capsys, "eval", tmp_path / "broken")


def test_prompt_with_unknown_characters(trained, capsys):
    _, out_dir = trained
    err = bad(capsys, "sample", out_dir, "--prompt", "the ☃")
    assert "'☃'" in err and "not in the vocabulary" in err


def test_impossible_values_get_one_line(trained, capsys):
    _, out_dir = trained
    assert "temperature must be a finite number >= 0" in bad(capsys, "sample", out_dir, "--temperature", "-1")
    assert "no token to score" in bad(capsys, "score", out_dir, "")
    graph = ["graph", "--model", "transformer", "--hidden", "6", "-o", "x.svg"]
    assert "divisible by heads" in bad(capsys, *graph)
    assert "dropout must be in [0, 1)" in bad(capsys, "train", "--dropout", "1.5", "--out", out_dir / "new")


def test_resume_with_other_settings_and_overwriting_a_run(trained, capsys):
    corpus, out_dir = trained
    err = bad(capsys, "train", "--out", out_dir, "--resume", "--model", "gru", "--steps", "20")
    assert "--model gru (the checkpoint has lstm)" in err
    assert "--resume" in bad(capsys, "train", "--corpus", corpus, "--out", out_dir)
    assert "already at step 8" in bad(capsys, "train", "--out", out_dir, "--resume", "--steps", "8")


def test_bad_options_exit_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["train", "--model", "cnn", "--out", str(tmp_path)])
    assert info.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["sample", str(tmp_path), "--length", "0"])
    assert info.value.code == 2 and "positive" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tinygrad_seq", "train", "--corpus", str(corpus), *TINY,
           "--eval-every", "1000", "--steps", "100000", "--out", str(out)]
    env = os.environ | {"OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:  # wait until training runs (the first progress line)
            if line.startswith("step "):
                break
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "checkpoint saved" in stderr and "--resume" in stderr
    step = load_checkpoint(out / "checkpoint.npz").step
    assert 1 <= step < 100000
    assert os.path.exists(out / "loss_curve.png")


def test_train_options_default_to_the_config_fields_and_say_so(capsys):
    from dataclasses import fields

    from tinygrad_seq.nn.lm.cli import build_parser
    from tinygrad_seq.nn.lm.cli_options import CONFIG_OPTIONS
    from tinygrad_seq.nn.lm.models import LMConfig
    from tinygrad_seq.nn.lm.training import TrainConfig

    args = build_parser().parse_args(["train", "--out", "x"])
    assert all(getattr(args, name) is None for name in CONFIG_OPTIONS)  # "not given": the config decides
    defaults = {f.name: f.default for cls in (LMConfig, TrainConfig) for f in fields(cls)}
    assert set(CONFIG_OPTIONS) <= set(defaults)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ("hidden", "seq_len", "batch_size", "clip", "warmup", "eval_every", "valid_fraction"):
        assert f"[{defaults[name]}]" in text or f"[{defaults[name]};" in text, name
    for table in (LMConfig.PER_KIND, TrainConfig.PER_KIND):  # a kind's own default is named beside it
        for kind, own in table.items():
            for value in own.values():
                shown = f"{value:g}" if isinstance(value, float) else f"{value}"
                assert kind in text and shown in text, (kind, value)
