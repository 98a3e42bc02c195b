"""nn.lm.checkpoint: a run's checkpoint round-trips (weights, vocabulary, config, step, state) and files that
are not checkpoints are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import WORDS

from tinygrad_seq import Tensor
from tinygrad_seq.nn.lm.checkpoint import CheckpointError, load_model, save_checkpoint
from tinygrad_seq.nn.lm.models import LMConfig, build_model
from tinygrad_seq.nn.lm.text import Vocab


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
