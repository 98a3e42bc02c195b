"""Language models: the models, n-gram baselines, checkpoints, training and resume, sampling, scoring."""

from __future__ import annotations

import io
import math
import os

import numpy as np
import pytest

import tinygrad_seq.nn.lm.training as training
import tinygrad_seq.nn.module as module_file
from tinygrad_seq import Tensor
from tinygrad_seq.autograd import toposort
from tinygrad_seq.nn.lm.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from tinygrad_seq.nn.lm.models import (
    LMConfig,
    RecurrentLM,
    TransformerLM,
    baselines,
    build_model,
    chunk_loss,
    detach_state,
    evaluate,
)
from tinygrad_seq.nn.lm.ngram import NGramLM
from tinygrad_seq.nn.lm.sampling import generate, score
from tinygrad_seq.nn.lm.text import Vocab, batchify, bptt_chunks
from tinygrad_seq.nn.lm.training import TrainConfig, Trainer, TrainingError, prepare_data

FOX = "the quick brown fox jumps over the lazy dog\n"
WORDS = "the cat sat on the mat .\nthe dog sat on the log .\na cat and a dog .\n"


def quiet_trainer(model, vocab, train_ids, valid_ids, out_dir, **cfg) -> Trainer:
    settings = dict(seq_len=8, batch_size=2, lr=1e-2, warmup=0, eval_every=1000, eval_tokens=None,
                    eval_batch=2)
    return Trainer(model, vocab, train_ids, valid_ids, TrainConfig(**(settings | cfg)), out_dir,
                   stream=io.StringIO())


@pytest.fixture(scope="module")
def fox(tmp_path_factory):
    """An LSTM that has learned FOX by heart (trained once for the whole module)."""
    vocab = Vocab.chars(FOX)
    ids = vocab.encode(FOX * 4)
    model = build_model(LMConfig("lstm", len(vocab), hidden=32), rng=0)
    trainer = quiet_trainer(model, vocab, ids, ids[:46], tmp_path_factory.mktemp("fox"), seq_len=22,
                            schedule="constant")
    result = trainer.run(steps=120, sample_length=0)
    return model, vocab, result


# ----------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "transformer"])
def test_models_map_ids_to_logits_and_state(kind):
    model = build_model(LMConfig(kind, vocab_size=11, hidden=8, layers=2, heads=2, context=6), rng=0)
    ids = np.random.default_rng(0).integers(0, 11, (5, 3))
    logits, state = model(ids)
    assert logits.shape == (5, 3, 11)
    if kind == "transformer":
        assert state is None and isinstance(model, TransformerLM) and model.context == 6
        with pytest.raises(ValueError, match="7 positions exceed its context of 6"):
            model(np.zeros((7, 1), dtype=np.int64))
    elif kind == "lstm":
        assert [s.shape for s in state] == [(2, 3, 8), (2, 3, 8)]
    else:
        assert state.shape == (2, 3, 8) and isinstance(model, RecurrentLM)
    if kind != "transformer":
        assert model.context is None  # reads any length: its state carries the past
        assert model(np.zeros((40, 1), dtype=np.int64))[0].shape == (40, 1, 11)


def test_lstm_forget_bias_starts_at_one_and_weights_can_be_tied():
    model = build_model(LMConfig("lstm", vocab_size=7, hidden=4, tie_weights=True), rng=0)
    assert np.all(model.rnn.bias_ih_l0.numpy()[4:8] == 1.0) and np.all(model.rnn.bias_hh_l0.numpy()[4:8] == 0)
    assert model.decoder.weight is model.embedding.weight
    names = [n for n, _ in model.named_parameters()]
    assert "decoder.weight" not in names and "embedding.weight" in names
    with pytest.raises(ValueError, match="embed == hidden"):
        LMConfig("gru", vocab_size=7, hidden=4, embed=3, tie_weights=True)


def test_transformer_is_causal():
    model = build_model(LMConfig("transformer", vocab_size=9, hidden=8, heads=2, context=6), rng=0)
    ids = np.random.default_rng(1).integers(0, 9, (6, 2))
    changed = ids.copy()
    changed[4:] = (changed[4:] + 1) % 9
    a, b = model(ids)[0].numpy(), model(changed)[0].numpy()
    np.testing.assert_array_equal(a[:4], b[:4])
    assert not np.allclose(a[4:], b[4:])
    with pytest.raises(ValueError, match="context of 6"):
        model(np.zeros((7, 1), dtype=np.int64))


def test_detaching_between_chunks_keeps_the_graph_flat():
    model = build_model(LMConfig("lstm", vocab_size=10, hidden=6), rng=0)
    data = batchify(np.random.default_rng(0).integers(0, 10, 400), 2)
    chunks = list(bptt_chunks(data, 5))

    def nodes_per_chunk(detach: bool) -> list[int]:
        state, sizes = None, []
        for x, y in chunks[:10]:
            loss, state = chunk_loss(model, x, y, state)
            sizes.append(len(toposort([loss])))
            state = detach_state(state) if detach else state
        return sizes

    detached = nodes_per_chunk(detach=True)
    assert detached[0] == detached[9] > 0
    attached = nodes_per_chunk(detach=False)
    assert attached[9] > 5 * attached[0]  # without the cut the graph keeps every earlier chunk


# ------------------------------------------------------------------------------------------ baselines


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_ngram_baselines_are_normalised(order):
    vocab = Vocab.chars(FOX + "XYZ")  # X, Y, Z never occur in training
    lm = NGramLM(order, len(vocab)).fit(vocab.encode(FOX * 3))
    for context in ["", "t", "th", "the", "XY", "qXZ", "og\n"]:
        p = lm.distribution(vocab.encode(context))
        assert p.shape == (len(vocab),) and np.all(p > 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_ngram_probabilities_match_the_counts_they_come_from():
    vocab = Vocab.chars(FOX)
    ids = vocab.encode(FOX * 5)
    tri = NGramLM(3, len(vocab)).fit(ids)
    p = tri.distribution(vocab.encode("th"))
    assert p.argmax() == vocab.stoi["e"] and p[vocab.stoi["e"]] > 0.8  # "th" is always followed by "e"
    data = batchify(ids, 2)
    total, count = tri.nll(data)
    by_hand = 0.0
    for column in data.T:
        for t in range(1, len(column)):
            by_hand -= math.log(tri.distribution(column[max(0, t - 2):t])[column[t]])
    assert count == data.size - 2 and total == pytest.approx(by_hand, rel=1e-10)


def test_baselines_get_better_with_order_on_real_text_and_uniform_is_log_v():
    vocab = Vocab.chars(FOX + WORDS)
    train, valid = vocab.encode(FOX * 3 + WORDS * 3), vocab.encode(WORDS + FOX)
    base = baselines(train, valid, len(vocab))
    assert base["uniform"].loss == pytest.approx(math.log(len(vocab)))
    losses = [base[k].loss for k in ("uniform", "unigram", "bigram", "trigram")]
    assert losses == sorted(losses, reverse=True)
    assert len({base[k].tokens for k in base}) == 1


# ------------------------------------------------------------------------------------------- evaluate


def test_evaluate_reports_nats_bits_and_perplexity():
    model = build_model(LMConfig("gru", vocab_size=6, hidden=5), rng=0)
    ids = np.random.default_rng(0).integers(0, 6, 41)
    result = evaluate(model, ids, batch_size=1, seq_len=100)
    logits, _ = model(ids[:-1, None])
    z = logits.numpy()[:, 0].astype(np.float64)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    expected = -logp[np.arange(40), ids[1:]].mean()
    assert result.tokens == 40 and result.loss == pytest.approx(expected, rel=1e-5)
    assert result.bits_per_token == pytest.approx(expected / math.log(2), rel=1e-5)
    assert result.perplexity == pytest.approx(math.exp(expected), rel=1e-5)
    chunked = evaluate(model, ids, batch_size=1, seq_len=7)  # the state carries across chunks
    assert chunked.loss == pytest.approx(result.loss, rel=1e-5)


# ----------------------------------------------------------------------------------------- training


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


def make_run(tmp_path, name, steps=None, **cfg):
    vocab = Vocab.chars(FOX)
    ids = vocab.encode(FOX * 3)
    model = build_model(LMConfig("lstm", len(vocab), hidden=8, layers=2, dropout=0.3), rng=3)
    trainer = quiet_trainer(model, vocab, ids, ids[:20], tmp_path / name, eval_every=3, **cfg)
    return trainer, vocab, ids


def resume_from(tmp_path, name, vocab, ids):
    model, _, ckpt = load_model(tmp_path / name / "checkpoint.npz")
    model.train()
    return Trainer.resume(ckpt, model, ids, ids[:20], tmp_path / name, stream=io.StringIO())


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


def test_checkpoint_round_trip(tmp_path):
    vocab = Vocab.words(WORDS)
    model = build_model(LMConfig("gru", len(vocab), hidden=6, layers=2), rng=0)
    path = tmp_path / "ckpt.npz"
    state = (Tensor(np.ones((2, 3, 6), dtype=np.float32)),)
    save_checkpoint(path, model, vocab, carry=state[0], meta={"step": 12, "note": "hello"})
    loaded, loaded_vocab, ckpt = load_model(path)
    assert loaded_vocab == vocab and ckpt.config == model.config and ckpt.step == 12
    assert ckpt.meta["note"] == "hello" and np.array_equal(ckpt.carry[0], state[0].numpy())
    ids = vocab.encode("the cat sat")[:, None]
    np.testing.assert_array_equal(loaded(ids)[0].numpy(), model(ids)[0].numpy())


def test_files_that_are_not_checkpoints_are_refused_clearly(tmp_path):
    model = build_model(LMConfig("lstm", 5, hidden=4), rng=0)
    model.save(tmp_path / "weights.npz")  # weights only, no metadata
    with pytest.raises(CheckpointError, match="not a language-model checkpoint"):
        load_model(tmp_path / "weights.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable .npz"):
        load_model(tmp_path / "junk.npz")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.npz")


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


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(tmp_path):
    trainer, _, _ = make_run(tmp_path, "run")
    trainer.stream = Terminal()
    trainer.run(steps=4, sample_length=0)
    text = trainer.stream.getvalue()
    assert "4/4" in text and "100%|" in text and "tok/s" in text and "loss " in text and "\r" in text


def test_prepare_data_splits_at_a_line_and_builds_word_vocab_from_training_text():
    text = "".join(f"line {i} says hello\n" for i in range(40)) + "zebra\n" * 4
    vocab, train, valid = prepare_data(text, TrainConfig(level="word", batch_size=2))
    assert "zebra" not in vocab.stoi and vocab.decode(valid).split("\n")[-2] == "<unk>"
    assert vocab.decode(train).startswith("line 0 says hello\n")
    with pytest.raises(TrainingError, match="too small"):
        prepare_data("a few words\n", TrainConfig(batch_size=32))


# --------------------------------------------------------------------------------------- generate, score


def biased_word_model(vocab: Vocab, **bias: float) -> RecurrentLM:
    model = build_model(LMConfig("lstm", len(vocab), hidden=4), rng=0)
    b = np.zeros(len(vocab), dtype=np.float32)
    for token, value in bias.items():
        b[vocab.stoi[f"<{token}>"]] = value
    model.decoder.bias.data = b
    return model


def test_generate_never_emits_unk_and_stops_at_eos():
    vocab = Vocab.words(WORDS)
    loves_unk = biased_word_model(vocab, unk=50.0, eos=-50.0)
    text = generate(loves_unk, vocab, "the", length=30, temperature=1.0, seed=0)
    assert "<unk>" not in text and len(text.split()) == 30
    loves_eos = biased_word_model(vocab, eos=50.0)
    assert generate(loves_eos, vocab, "the cat", length=30, temperature=1.0, seed=0) == ""


def test_generate_top_k_temperature_and_seed(fox):
    model, vocab, _ = fox
    logits = model(vocab.encode("\nthe q")[:, None])[0].numpy()[-1, 0]
    top2 = {vocab.itos[i] for i in np.argsort(logits)[-2:]}
    firsts = {generate(model, vocab, "the q", 1, temperature=5.0, top_k=2, seed=s) for s in range(40)}
    assert firsts <= top2 and len(firsts) == 2  # hot enough to pick both, never a third
    assert generate(model, vocab, "the q", 10, temperature=5.0, top_k=1, seed=3) == \
        generate(model, vocab, "the q", 10, temperature=0)
    a, b = (generate(model, vocab, "", 40, temperature=3.0, seed=s) for s in (1, 2))
    assert a == generate(model, vocab, "", 40, temperature=3.0, seed=1) and a != b


def test_score_ranks_a_corpus_sentence_above_its_scrambled_version(fox):
    model, vocab, _ = fox
    sentence = "the quick brown fox jumps over the lazy dog"
    scrambled = "the quick brown dog jumps over the lazy fox"
    good, bad = score(model, vocab, sentence), score(model, vocab, scrambled)
    assert good.total > bad.total + 10
    assert len(good.tokens) == len(sentence) and good.tokens[0][0] == "t"
    assert good.total == pytest.approx(sum(lp for _, lp in good.tokens))
    assert all(lp <= 0 for _, lp in good.tokens)


def test_score_at_word_level_includes_the_end_of_line():
    vocab = Vocab.words(WORDS)
    model = build_model(LMConfig("gru", len(vocab), hidden=5), rng=0)
    result = score(model, vocab, "the cat sat")
    assert [t for t, _ in result.tokens] == ["the", "cat", "sat", "<eos>"]


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_score_and_evaluate_tell_a_progress_bar_of_every_token_once(kind):
    vocab = Vocab.chars(FOX)
    model = build_model(LMConfig(kind, len(vocab), hidden=8, heads=2, context=8), rng=0)
    text = FOX * 3
    told: list[int] = []
    result = score(model, vocab, text, chunk=16, advance=told.append)
    assert sum(told) == len(result.logp) and len(told) > 1  # in pieces, each token counted once
    np.testing.assert_allclose(result.total, score(model, vocab, text, chunk=16).total)
    told.clear()
    ids = vocab.encode(text)
    evaluation = evaluate(model, ids, batch_size=2, seq_len=8, advance=told.append)
    assert sum(told) == evaluation.tokens and len(told) > 1
