"""Lessons 9-11 (inside the hidden state, attention, language models) run in --quick mode, write their
pictures, and their claims hold: each test checks the number the lesson prints."""

from __future__ import annotations

import html
import importlib
import os
import re
import sys

import numpy as np

DEMOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demos")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def lesson(name: str):
    """Import demos/<name>.py (its name starts with a digit, so not with an import statement)."""
    if DEMOS not in sys.path:
        sys.path.insert(0, DEMOS)
    return importlib.import_module(name)


def assert_png(path) -> None:
    with open(path, "rb") as f:
        head = f.read(8)
    assert head == PNG_MAGIC, f"{path} is not a PNG"
    assert os.path.getsize(path) > 5000, f"{path} is suspiciously small"


def test_hidden_state_quote_unit(tmp_path, capsys):
    demo = lesson("09_hidden_state")
    result = demo.main(["--quick", "--out", str(tmp_path)])
    for name in ("quote_unit.png", "gates.png", "loss_curve.png"):
        assert_png(tmp_path / name)
    # the chosen unit is a switch: its mean inside quotes differs from its mean outside by a clear margin
    difference = result["mean_inside"] - result["mean_outside"]
    assert abs(difference) > 1.0, result
    assert abs(difference) > 10 * abs(result["untrained_difference"]), result
    assert result["valid_loss"] < 3.0  # it learned something (the uniform loss is ln 51 = 3.9 nats)
    out = capsys.readouterr().out
    assert f"{result['mean_inside']:+.3f}" in out and f"{result['mean_outside']:+.3f}" in out

    # the page reads back as the text it colours, one coloured span per character
    page = (tmp_path / "quote_unit.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    first = re.search(r"<pre>(.*?)</pre>", page, re.S).group(1)
    fresh = demo.make_corpus(1500, np.random.default_rng(1000))[:1500]
    assert html.unescape(re.sub(r"<[^>]+>", "", first)) == fresh.replace("\n", "\u21b5\n")
    assert first.count('<span style="background:rgb(') == len(fresh)
    explorer = open(result["explorer"], encoding="utf-8").read()  # 40 characters, two LSTMs side by side
    assert explorer.count('class="fwd"') == 2 * demo.EXPLORED and 'id="m1-step-39"' in explorer


def test_hidden_state_helpers():
    demo = lesson("09_hidden_state")
    text = 'a "BC" (d [e]) "F"'
    inside = demo.inside_quotes(text)
    assert "".join(c for c, i in zip(text, inside) if i) == '"BC"F'  # the state after each opening mark
    assert demo.bracket_depth(text).tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 1, 0, 0, 0, 0, 0]
    h = np.array([[1.0, 0.2], [1.0, -0.2], [-1.0, 0.1], [-1.0, 0.0]])
    unit, m_in, m_out = demo.quote_unit(h, np.array([True, True, False, False]))
    assert (unit, m_in, m_out) == (0, 1.0, -1.0)


def test_attention_claims(tmp_path):
    demo = lesson("10_attention")
    result = demo.main(["--quick", "--out", str(tmp_path)])
    for name in ("retrieval.png", "cross_attention.png", "causal_mask.png", "lm_comparison.png"):
        assert_png(tmp_path / name)
    assert result["retrieval_accuracy"] == 1.0 and result["weight_on_match"] > 0.8
    # the reversing model reads the mirrored position: most cross-attention weight on the anti-diagonal
    assert result["reverse_accuracy"] > 0.9
    assert result["anti_diagonal"] > 0.5, result["anti_diagonal_per_head"]
    # causal outputs do not move at all when the future changes; without the mask they do
    assert result["causal_change_before"] == 0.0
    assert result["unmasked_change_before"] > 1e-3
    assert abs(result["lstm_params"] - result["transformer_params"]) < 0.1 * result["lstm_params"]


def test_attention_reverser_weights_are_the_layers():
    """decoder_weights re-runs the decoder layer step by step; its rows are distributions, causal ones
    lower-triangular."""
    demo = lesson("10_attention")
    model = demo.Reverser(5, 6, d=8, heads=2, rng=np.random.default_rng(0))
    source = np.random.default_rng(1).integers(0, 5, (3, 6))
    self_w, cross_w = demo.decoder_weights(model, source, model.shift(source[:, ::-1]))
    assert self_w.shape == cross_w.shape == (3, 2, 6, 6)
    np.testing.assert_allclose(cross_w.sum(-1), 1.0, atol=1e-5)
    assert np.all(self_w[..., np.triu_indices(6, 1)[0], np.triu_indices(6, 1)[1]] == 0.0)


def test_language_model_claims(tmp_path, capsys):
    demo = lesson("11_language_model")
    result = demo.main(["--quick", "--out", str(tmp_path)])
    for name in ("perplexity.png", "temperature.png", "scores.png", "loss_curve.png"):
        assert_png(tmp_path / name)
    # the model knows pears go in salads and pairs come in shoes
    assert result["logp_pear"] > result["logp_pair"] + 2.0, result
    # perplexity: a die far smaller than the vocabulary, smaller than the unigram counts' die
    assert result["perplexity"] < result["unigram_perplexity"] / 5 < result["vocab_size"]
    assert 0 < result["unk_share"] < 0.05  # rare names became <unk>
    stats = result["temperature_stats"]
    assert stats[0.5]["valid"] > stats[1.5]["valid"] and stats[0.5]["distinct"] <= stats[1.5]["distinct"]
    out = capsys.readouterr().out
    assert f"fair die with {result['perplexity']:.1f} faces" in out


def test_language_model_patterns():
    """The validity check accepts every line the corpus generator writes, and rejects scrambled ones."""
    demo = lesson("11_language_model")
    regexes = demo.pattern_regexes()
    lines = demo.make_corpus(300, np.random.default_rng(3)).splitlines()
    assert all(demo.follows_a_pattern(line, regexes) for line in lines)
    assert not demo.follows_a_pattern("the apple and pair salad was sweet", regexes)
    assert not demo.follows_a_pattern("she bought a pair of", regexes)
