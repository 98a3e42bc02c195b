"""nn.lm.sampling: `generate` (temperature, top-k, seeds, never <unk>, stops at <eos>) and `score` (ranks
text, in pieces, telling a progress bar of every token once)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FOX, WORDS

from tinygrad_seq.nn.lm.models import LMConfig, RecurrentLM, build_model, evaluate
from tinygrad_seq.nn.lm.sampling import generate, prompted_samples, score
from tinygrad_seq.nn.lm.text import Vocab


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



def test_prompted_samples_put_each_sample_after_its_prompt_with_consecutive_seeds():
    vocab = Vocab.words(WORDS)
    model = biased_word_model(vocab, eos=-50.0)
    texts = prompted_samples(model, vocab, 3, 5, temperature=1.0, top_k=None, seed=4, prompt="the cat")
    assert texts == [f"the cat {generate(model, vocab, 'the cat', 5, 1.0, None, 4 + i)}" for i in range(3)]
    spaced = prompted_samples(model, vocab, 1, 5, 1.0, None, 4, "the cat ")[0]  # ends in a space already
    assert spaced.startswith("the cat ") and not spaced.startswith("the cat  ")
    loves_eos = biased_word_model(vocab, eos=50.0)  # nothing generated: the prompt alone, no space after it
    assert prompted_samples(loves_eos, vocab, 2, 5, 1.0, None, 0, "the cat") == ["the cat", "the cat"]

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
