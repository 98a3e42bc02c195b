"""Fault injection, numbers that must not be silently wrong: an evaluation that does not depend on the
batch size, the share of <unk> next to every loss, and the edge values of cross-entropy and state dicts.
Run alone with `pytest -m faults`.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from faults_common import run, train
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_seq import Tensor
from tinygrad_seq import functional as F
from tinygrad_seq.nn import Linear
from tinygrad_seq.nn.lm import models
from tinygrad_seq.nn.lm.models import LMConfig, baselines, build_model, evaluate
from tinygrad_seq.nn.module import StateDictError

pytestmark = pytest.mark.faults


def _token_by_token(model, ids: np.ndarray) -> float:
    """The mean -log p of ids[1:] read as one stream, one token per forward pass (recurrent models)."""
    total, state = 0.0, None
    model.eval()
    for t in range(len(ids) - 1):
        logits, state = model(ids[t : t + 1, None], state)  # (1, 1) -> (1, 1, V)
        z = logits.numpy()[0, 0].astype(np.float64)
        total -= z[ids[t + 1]] - z.max() - np.log(np.exp(z - z.max()).sum())
    return total / (len(ids) - 1)


# ----------------------------------------------------------- case 1: eval independent of the batch size


@settings(max_examples=8, deadline=None)
@given(
    kind=st.sampled_from(["rnn", "lstm", "gru", "transformer"]),
    hidden=st.sampled_from([4, 8]),
    vocab=st.integers(2, 9),
    length=st.integers(2, 300),
    seed=st.integers(0, 2**16),
)
def test_eval_is_the_same_for_batch_sizes_1_7_and_64(kind, hidden, vocab, length, seed):
    rng = np.random.default_rng(seed)
    model = build_model(LMConfig(kind, vocab, hidden=hidden, heads=2, context=16), rng=seed)
    model.astype(np.float64)
    ids = rng.integers(0, vocab, length)
    results = [evaluate(model, ids, batch_size=b) for b in (1, 7, 64)]
    assert {r.tokens for r in results} == {length - 1}  # every token but the first predicted once
    losses = [r.loss for r in results]
    assert max(losses) - min(losses) <= 1e-9 * max(1.0, abs(losses[0])), losses
    chunked = evaluate(model, ids, batch_size=7, seq_len=5)  # tokens per pass: speed only
    assert chunked.loss == pytest.approx(losses[0], rel=1e-9)
    if kind != "transformer":  # the context of one stream: the whole text before each token
        assert losses[0] == pytest.approx(_token_by_token(model, ids), rel=1e-9)


def test_the_count_baselines_predict_the_same_tokens_for_any_split(tmp_path):
    ids = np.random.default_rng(0).integers(0, 5, 200)
    base = baselines(ids, ids[:50], 5)
    assert {e.tokens for e in base.values()} == {49}
    huge = baselines(np.arange(10), np.arange(10), 2_000_000)  # 1.71M words: no int64 keys for a trigram
    assert "unigram" in huge and "trigram" not in huge


def test_eval_command_gives_one_number_whatever_the_batch_size(tmp_path, capsys):
    _, out = train(tmp_path)
    found = set()
    for b in ("1", "3", "64", "800"):
        code, text, _ = run(capsys, "eval", out, "--json", "--batch-size", b)
        assert code == 0
        result = json.loads(text)
        trigram = result["baselines"]["trigram"]["loss"]
        found.add((round(result["loss"], 5), result["tokens"], round(trigram, 9)))
    assert len(found) == 1, found


# --------------------------------------------------------------- case 2: <unk> reported next to the loss

WORDS = "the cat sat on the mat .\nthe dog sat on the log .\n" * 30


def test_word_level_eval_reports_the_unk_share_and_warns(tmp_path, capsys):
    _, out = train(tmp_path, "--level", "word", corpus_text=WORDS)
    strange = tmp_path / "strange.txt"
    strange.write_text("the zebra ate the quince near a yak .\n" * 20)  # 6 of 10 tokens unknown
    code, text, _ = run(capsys, "eval", out, "--corpus", strange)
    assert code == 0
    assert "<unk>: 60.3% of the predicted tokens (120)" in text and "'zebra'" in text, text
    assert "warning: 60% of the tokens are <unk>" in text
    code, text, _ = run(capsys, "eval", out, "--corpus", strange, "--json")
    result = json.loads(text)
    assert result["unk"] == 120 and result["tokens"] == 199 and result["unknown_types"] == 6
    assert result["unk_warning"] is True
    code, text, _ = run(capsys, "eval", out)  # its own validation split: no unknown word, no warning
    assert "<unk>: 0.0%" in text and "warning" not in text


def test_sample_names_the_prompt_words_read_as_unk(tmp_path, capsys):
    _, out = train(tmp_path, "--level", "word", corpus_text=WORDS)
    code, text, err = run(capsys, "sample", out, "--prompt", "the zebra", "--length", "5")
    assert code == 0 and "'zebra' is not in the vocabulary" in err and "<unk>" in err


# --------------------------------------------------- case 3: empty batches, booleans, overflowing weights


def test_cross_entropy_of_nothing_is_nan_as_torch():
    for fused in (False, True):
        empty = F.cross_entropy(Tensor(np.zeros((0, 3))), np.zeros(0, dtype=np.int64), fused=fused)
        assert math.isnan(empty.item())
        ignored = F.cross_entropy(Tensor(np.zeros((2, 3))), np.full(2, -100), fused=fused)
        assert math.isnan(ignored.item())
    assert F.cross_entropy(Tensor(np.zeros((0, 3))), np.zeros(0, dtype=np.int64), reduction="sum").item() == 0


def test_load_state_dict_refuses_booleans_and_values_that_overflow_naming_the_key():
    model = Linear(3, 2)
    before = [p.numpy().copy() for p in model.parameters()]
    with pytest.raises(StateDictError, match="'weight'.*bool values, not numbers"):
        model.load_state_dict({"weight": np.ones((2, 3), dtype=bool), "bias": np.zeros(2)})
    with pytest.raises(StateDictError, match="'bias'.*1e\\+300.*float32 cannot hold"):
        model.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.array([0.0, 1e300])})
    assert all(np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters()))


def test_a_long_stream_is_read_in_lanes_each_warmed_up_on_the_text_before_it(monkeypatch):
    model = build_model(LMConfig("lstm", 7, hidden=6), rng=1).astype(np.float64)
    ids = np.random.default_rng(1).integers(0, 7, 230)
    whole = models.token_logp(model, ids)  # one lane: the whole text before each token
    monkeypatch.setattr(models, "LANE_TOKENS", 50)
    monkeypatch.setattr(models, "WARMUP_TOKENS", 20)
    lanes = models.token_logp(model, ids, chunk=13)
    np.testing.assert_allclose(lanes[:50], whole[:50], rtol=1e-12)  # lane 0 starts at the start
    monkeypatch.setattr(models, "LANE_TOKENS", 10**6)
    for start in (50, 100, 150, 200):  # lane k: the text from its 20 tokens of warm-up on, read alone
        alone = models.token_logp(model, ids[start - 20 :])[20:]
        np.testing.assert_allclose(lanes[start : start + 50], alone[:50], rtol=1e-12)
    assert [evaluate(model, ids, batch_size=b).loss for b in (1, 64)] == [-whole.mean()] * 2


def test_a_vocabulary_too_large_for_a_trigram_trains_and_evaluates_without_it(tmp_path, capsys, monkeypatch):
    from tinygrad_seq.nn.lm.ngram import NGramLM

    no_trigram = staticmethod(lambda order, vocab_size: order < 3)  # as for a vocabulary of 1.71M words
    monkeypatch.setattr(NGramLM, "fits", no_trigram)
    corpus = tmp_path / "c.txt"
    corpus.write_text(WORDS)
    code, text, err = run(capsys, "train", "--corpus", corpus, "--hidden", "8", "--steps", "2", "--out",
                          tmp_path / "run")
    assert code == 0 and "with no trigram baseline" in text and "Traceback" not in err
    code, text, _ = run(capsys, "eval", tmp_path / "run")
    assert code == 0 and "bigram" in text and "trigram" not in text
