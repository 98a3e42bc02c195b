"""nn.lm.training: a tiny model overfits, runs are deterministic, Ctrl-C saves and resume continues exactly,
a checkpoint write interrupted half way keeps the old one, the data split."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from helpers import FOX, make_run, quiet_trainer, resume_from

import tinygrad_seq.nn.lm.training as training
import tinygrad_seq.nn.module as module_file
from tinygrad_seq.nn.lm.checkpoint import load_checkpoint
from tinygrad_seq.nn.lm.models import LMConfig, build_model
from tinygrad_seq.nn.lm.sampling import generate
from tinygrad_seq.nn.lm.text import Vocab
from tinygrad_seq.nn.lm.training import TrainConfig, TrainingError, prepare_data


def test_a_tiny_model_overfits_a_tiny_corpus(fox):
    model, vocab, result = fox
    assert result.history["loss"][-1] < 0.1 < 3.0 < result.history["loss"][0]
    expected = "uick brown fox jumps over the lazy dog\n"
    assert generate(model, vocab, "the q", length=39, temperature=0) == expected


def test_training_is_deterministic_with_a_seed(tmp_path):
    vocab = Vocab.chars(FOX)
    ids = vocab.encode(FOX * 3)
    runs = []
    for name in "ab":
        model = build_model(LMConfig("gru", len(vocab), hidden=8, dropout=0.2), rng=7)
        runs.append(quiet_trainer(model, vocab, ids, ids[:20], tmp_path / name).run(steps=4, sample_length=0))
    assert runs[0].history["loss"] == runs[1].history["loss"]


def test_ctrl_c_saves_a_checkpoint_and_resume_continues_exactly(tmp_path, monkeypatch):
    k = 5
    one_go, vocab, ids = make_run(tmp_path, "one_go")
    full = one_go.run(steps=2 * k, sample_length=0)

    stopped, _, _ = make_run(tmp_path, "stopped")
    calls = {"n": 0}
    real = training.chunk_loss

    def interrupt_on_step_k_plus_1(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == k + 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "chunk_loss", interrupt_on_step_k_plus_1)
    first = stopped.run(steps=2 * k, sample_length=0)
    monkeypatch.setattr(training, "chunk_loss", real)
    assert first.interrupted and first.step == k and load_checkpoint(first.checkpoint).step == k
    assert os.path.exists(first.curve)

    resumed = resume_from(tmp_path, "stopped", vocab, ids)
    second = resumed.run(steps=2 * k, sample_length=0)
    assert not second.interrupted and second.step == 2 * k
    assert second.history["loss"] == full.history["loss"]  # the next loss, and every one after it
    assert second.history["grad_norm"] == full.history["grad_norm"]
    for (name, a), (_, b) in zip(one_go.model.named_parameters(), resumed.model.named_parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_k_steps_then_resume_k_more_equals_2k_in_one_go(tmp_path):
    k = 4
    one_go, vocab, ids = make_run(tmp_path, "one_go", schedule="constant")
    full = one_go.run(steps=2 * k, sample_length=0)
    first, _, _ = make_run(tmp_path, "halves", schedule="constant")
    first.run(steps=k, sample_length=0)
    second = resume_from(tmp_path, "halves", vocab, ids).run(steps=2 * k, sample_length=0)
    assert second.history["loss"] == full.history["loss"]
    with pytest.raises(TrainingError, match="already at step 8"):
        resume_from(tmp_path, "halves", vocab, ids).run(steps=8)


def test_an_interrupted_checkpoint_write_leaves_the_old_one_intact(tmp_path, monkeypatch):
    trainer, _, _ = make_run(tmp_path, "run")
    trainer.run(steps=2, sample_length=0)
    path = trainer.checkpoint_path
    before = open(path, "rb").read()
    trainer.train_step()

    def crash_half_way(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt

    monkeypatch.setattr(module_file.np, "savez", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        trainer.save()
    monkeypatch.undo()
    assert open(path, "rb").read() == before
    assert load_checkpoint(path).step == 2
    assert sorted(os.listdir(tmp_path / "run")) == [".lock", "checkpoint.npz", "loss_curve.png"]  # no .tmp-*


def test_loss_curve_png_and_plain_progress_lines(tmp_path):
    trainer, _, _ = make_run(tmp_path, "run")
    out = io.StringIO()
    trainer.stream = out
    result = trainer.run(steps=3, sample_length=0)
    with open(result.curve, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    text = out.getvalue()
    assert "step 3/3" in text and "tok/s" in text and "\r" not in text  # not a terminal: plain lines
    assert result.history["val_step"] == [3] and len(result.history["grad_norm"]) == 3


def test_a_cpu_time_budget_counts_the_process_time_not_the_wall_clock(tmp_path, monkeypatch):
    """run(minutes=, cpu_time=True) stops when the process's CPU time reaches the budget: a fake CPU
    clock that runs 10 s per reading ends a 1-minute run after a few steps, in no time on the wall."""
    fake = iter(range(0, 10**6, 10))
    monkeypatch.setattr(training.time, "process_time", lambda: float(next(fake)))
    trainer, _, _ = make_run(tmp_path, "run")
    result = trainer.run(minutes=1, sample_length=0, cpu_time=True)
    assert not result.interrupted and 1 <= result.step <= 3
    assert trainer.schedule is not None and trainer.planned >= result.step


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "transformer"])
def test_each_kind_has_its_own_defaults_that_build_and_train(kind):
    """LMConfig.defaults / TrainConfig.defaults: valid settings for every kind (the measured winners)."""
    model_cfg = LMConfig(kind, vocab_size=20, **LMConfig.defaults(kind))
    train_cfg = TrainConfig(**TrainConfig.defaults(kind))
    assert model_cfg.model == kind and train_cfg.lr > 0
    if kind == "transformer":
        assert train_cfg.seq_len >= 64 and model_cfg.tie_weights and model_cfg.layers >= 2
    with pytest.raises(ValueError, match="kind must be one of"):
        LMConfig.defaults("mamba")
    with pytest.raises(TrainingError, match="no training defaults"):
        TrainConfig.defaults("mamba")


@pytest.mark.parametrize("steps", [2, 100, 200])
def test_a_run_chooses_its_dropout_from_the_passes_its_steps_make(tmp_path, steps):
    """LMConfig.dropout None: the run sets it from the passes over the training text (dropout_for)."""
    vocab = Vocab.chars(FOX)
    ids = vocab.encode(FOX * 3)
    model = build_model(LMConfig("gru", len(vocab), hidden=8), rng=7)
    assert model.config.dropout is None and model.dropout.p == 0.0  # built without dropout until the run
    trainer = quiet_trainer(model, vocab, ids, ids[:20], tmp_path)
    trainer.run(steps=steps, sample_length=0)
    passes = steps * 2 * 8 / len(ids)  # B 2, T 8 tokens a step
    want = training.dropout_for(passes)
    assert model.config.dropout == want and model.dropout.p == want
    said = f"dropout {want:g}: {steps:,} planned steps read the training text about {passes:.1f} times"
    assert said in trainer.stream.getvalue()
    assert load_checkpoint(tmp_path / "checkpoint.npz").config.dropout == want  # the number, not None


def test_the_dropout_rule_rises_with_the_passes_and_a_given_dropout_is_kept(tmp_path):
    table = training.DROPOUT_BY_PASSES
    assert training.dropout_for(0.5) == 0.0 and table[-1][0] == float("inf")
    for (most, p), (_, after) in zip(table, table[1:]):
        assert training.dropout_for(most) == p and training.dropout_for(most * 1.01) == after > p
    assert all(f"{p:g}" in training.dropout_rule() for _, p in table)
    vocab = Vocab.chars(FOX)
    ids = vocab.encode(FOX * 3)
    model = build_model(LMConfig("gru", len(vocab), hidden=8, dropout=0.0), rng=7)
    trainer = quiet_trainer(model, vocab, ids, ids[:20], tmp_path)
    trainer.run(steps=200, sample_length=0)  # many passes, but the config said 0
    assert model.config.dropout == 0.0 and "dropout" not in trainer.stream.getvalue()


def test_prepare_data_splits_at_a_line_and_builds_word_vocab_from_training_text():
    text = "".join(f"line {i} says hello\n" for i in range(40)) + "zebra\n" * 4
    vocab, train, valid = prepare_data(text, TrainConfig(level="word", batch_size=2))
    assert "zebra" not in vocab.stoi and vocab.decode(valid).split("\n")[-2] == "<unk>"
    assert vocab.decode(train).startswith("line 0 says hello\n")
    with pytest.raises(TrainingError, match="too small"):
        prepare_data("a few words\n", TrainConfig(batch_size=32))
