"""Weights out to PyTorch: `tinygrad-seq export` writes safetensors under torch.nn's names; the torch modules
shown in docs/pytorch.md load them and compute the same logits (when torch is installed)."""

from __future__ import annotations

import json
import os
import re
import sys

import numpy as np
import pytest

from tinygrad_seq.nn.lm.cli import EXIT_MISSING_DEPENDENCY, main
from tinygrad_seq.nn.lm.export import export_safetensors, torch_state_dict
from tinygrad_seq.nn.lm.models import LMConfig, build_model
from tinygrad_seq.nn.lm.text import Vocab

safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="safetensors (the lm extra) is missing")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT = "the cat sat on the mat .\nthe dog sat on the log .\n" * 20
CONFIGS = {
    "rnn": dict(model="rnn", hidden=8, layers=2),
    "lstm": dict(model="lstm", hidden=8, embed=6, layers=2, dropout=0.1),
    "gru-tied": dict(model="gru", hidden=8, tie_weights=True),
    "transformer": dict(model="transformer", hidden=8, layers=2, heads=2, context=12),
    "transformer-tied": dict(model="transformer", hidden=8, heads=2, context=12, tie_weights=True),
}


def small(name: str):
    vocab = Vocab.chars(TEXT)
    config = LMConfig(vocab_size=len(vocab), **CONFIGS[name])
    return build_model(config, rng=0), vocab


@pytest.mark.parametrize("name", CONFIGS)
def test_export_round_trips_through_safetensors_numpy(tmp_path, name):
    model, vocab = small(name)
    path = tmp_path / "model.safetensors"
    export_safetensors(model, vocab, path, step=7)
    loaded = safetensors_numpy.load_file(str(path))
    expected = model.state_dict()
    if model.config.tie_weights:  # torch's state dict lists a tied weight under both names
        head = "head" if name.startswith("transformer") else "decoder"
        expected[f"{head}.weight"] = expected["embedding.weight"]
    assert set(loaded) == set(expected)
    for key, array in expected.items():
        np.testing.assert_array_equal(loaded[key], array)
        assert loaded[key].dtype == array.dtype
    again, _ = small(name)
    again.load_state_dict({k: v for k, v in loaded.items() if k in dict(again.named_parameters())})
    ids = vocab.encode(TEXT[:10])[:, None]
    model.eval(), again.eval()
    np.testing.assert_array_equal(again(ids)[0].numpy(), model(ids)[0].numpy())
    from safetensors import safe_open

    with safe_open(str(path), "np") as f:
        meta = f.metadata()
    assert json.loads(meta["config"]) == as_built(model) and meta["step"] == "7"
    assert Vocab.from_dict(json.loads(meta["vocab"])) == vocab


def test_lstm_names_are_torch_names():
    model, _ = small("lstm")
    assert list(torch_state_dict(model)) == [
        "embedding.weight",
        "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
        "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
        "decoder.weight", "decoder.bias",
    ]
    assert torch_state_dict(model)["rnn.weight_ih_l0"].shape == (4 * 8, 6)  # (4H, E), gates i, f, g, o


def test_export_command_and_its_missing_extra(tmp_path, monkeypatch, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    run = tmp_path / "run"
    assert main(["train", "--corpus", str(corpus), "--hidden", "8", "--seq-len", "8", "--batch-size", "2",
                 "--steps", "2", "--warmup", "0", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["export", str(run), "-o", str(tmp_path / "m.safetensors")]) == 0
    assert "under torch.nn's names" in capsys.readouterr().out
    assert "rnn.weight_hh_l0" in safetensors_numpy.load_file(str(tmp_path / "m.safetensors"))
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    assert main(["export", str(run), "-o", str(tmp_path / "n.safetensors")]) == EXIT_MISSING_DEPENDENCY
    err = capsys.readouterr().err
    assert err.strip() == ('tinygrad-seq export: error: export needs safetensors, which is not installed: '
                           'pip install "tinygrad-seq[lm]"')
    assert not (tmp_path / "n.safetensors").exists()


def readme_torch_code() -> str:
    """The torch modules and loading code of docs/pytorch.md, section "Weights out to PyTorch"."""
    page = open(os.path.join(ROOT, "docs", "pytorch.md"), encoding="utf-8").read()
    section = page[page.index("## Weights out to PyTorch"):]
    return re.findall(r"```python\n(.*?)```", section, re.S)[0]


def as_built(model) -> dict:
    """The config an export records: dropout None (left to a training run that never came) is none."""
    return model.config.to_dict() | {"dropout": model.config.dropout or 0.0}


@pytest.mark.parametrize("name", CONFIGS)
def test_the_readme_torch_modules_load_the_export_and_agree(tmp_path, name):
    torch = pytest.importorskip("torch", reason="torch is not installed (it is never a dependency)")
    namespace: dict = {}
    exec(compile(readme_torch_code(), "docs/pytorch.md", "exec"), namespace)
    model, vocab = small(name)
    path = tmp_path / "model.safetensors"
    export_safetensors(model, vocab, path)
    theirs, config, itos = namespace["load_exported"](str(path))
    assert itos == list(vocab.itos) and config == as_built(model)
    ids = vocab.encode(TEXT[:12]).reshape(6, 2)  # (T, B)
    model.eval()
    theirs.eval()
    with torch.no_grad():
        logits, _ = theirs(torch.from_numpy(ids))
    np.testing.assert_allclose(logits.numpy(), model(ids)[0].numpy(), rtol=1e-4, atol=1e-5)
    theirs.train()  # and training goes on in PyTorch
    optimizer = torch.optim.Adam(theirs.parameters(), lr=1e-2)
    chunk = torch.from_numpy(vocab.encode(TEXT[:26]).reshape(13, 2))
    losses = []
    for _ in range(5):
        logits, _ = theirs(chunk[:-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
