"""nn.lm.models: the models map ids to logits and state, a Transformer is causal, detaching keeps the graph
flat, the baselines, `evaluate`."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import FOX, WORDS

from tinygrad_seq.autograd import toposort
from tinygrad_seq.nn import LSTM, Dropout, MultiheadAttention
from tinygrad_seq.nn.lm import models
from tinygrad_seq.nn.lm.models import LMConfig, baselines, build_model, chunk_loss, detach_state, evaluate
from tinygrad_seq.nn.lm.text import Vocab, batchify, bptt_chunks

# ----------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "transformer"])
def test_models_map_ids_to_logits_and_state(kind):
    model = build_model(LMConfig(kind, vocab_size=11, hidden=8, layers=2, heads=2, context=6), rng=0)
    ids = np.random.default_rng(0).integers(0, 11, (5, 3))
    logits, state = model(ids)
    assert logits.shape == (5, 3, 11)
    if kind == "transformer":
        assert state is None and isinstance(model, models.TransformerLM) and model.context == 6
        with pytest.raises(ValueError, match="7 positions exceed its context of 6"):
            model(np.zeros((7, 1), dtype=np.int64))
    elif kind == "lstm":
        assert [s.shape for s in state] == [(2, 3, 8), (2, 3, 8)]
    else:
        assert state.shape == (2, 3, 8) and isinstance(model, models.RecurrentLM)
    if kind != "transformer":
        assert model.context is None  # reads any length: its state carries the past
        assert model(np.zeros((40, 1), dtype=np.int64))[0].shape == (40, 1, 11)


def test_set_dropout_reaches_every_dropout_of_a_model_and_its_config():
    recurrent = build_model(LMConfig("lstm", 10, hidden=8, layers=2), rng=0)
    transformer = build_model(LMConfig("transformer", 10, hidden=8, heads=2, layers=2, context=8), rng=0)

    def rates(model):
        return ([m.p for m in model.modules() if isinstance(m, Dropout)]
                + [m.dropout for m in model.modules() if isinstance(m, (MultiheadAttention, LSTM))])

    for model, count in ((recurrent, 2), (transformer, 2 * 4)):  # a layer: 3 Dropouts, 1 attention
        assert model.config.dropout is None and rates(model) == [0.0] * count
        models.set_dropout(model, 0.3)
        assert model.config.dropout == 0.3 and rates(model) == [0.3] * count
    ids = np.arange(6).reshape(3, 2)
    recurrent.train()
    assert not np.allclose(recurrent(ids)[0].numpy(), recurrent(ids)[0].numpy())  # masks drawn afresh
    recurrent.eval()
    np.testing.assert_array_equal(recurrent(ids)[0].numpy(), recurrent(ids)[0].numpy())
    with pytest.raises(ValueError, match=r"set_dropout: p must be in \[0, 1\), got 1.0"):
        models.set_dropout(recurrent, 1.0)


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
