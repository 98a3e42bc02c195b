"""Weights out to PyTorch: a language model's parameters under torch.nn's names, as a safetensors file.

The layers already use torch.nn's parameter names and layouts (``rnn.weight_ih_l0``, ``layers.0.self_attn
.in_proj_weight``, ...), so the state dict is what the equivalent torch modules expect; tied weights are
written under both names, as torch's own state dict lists them. The file's metadata holds the model's
config and vocabulary (JSON), so a PyTorch script can rebuild the model and decode its samples.

    >>> export_safetensors(model, vocab, "model.safetensors")  # then torch: load_file + load_state_dict

Needs the ``safetensors`` package (the ``lm`` extra); it writes through its NumPy API, so torch is not
needed to export. README.md ("Weights out to PyTorch") shows the torch modules and the loading code.
"""

from __future__ import annotations

import json
import os

import numpy as np

from tinygrad_seq.extras import require

from ..module import atomic_write
from .models import RecurrentLM, TransformerLM
from .text import Vocab

__all__ = ["export_safetensors", "torch_state_dict"]

FORMAT = "tinygrad_seq lm, torch.nn names"


def torch_state_dict(model: RecurrentLM | TransformerLM) -> dict[str, np.ndarray]:
    """The model's arrays by torch.nn name, tied weights under both names, each array contiguous."""
    arrays = {name: np.ascontiguousarray(p.numpy()) for name, p in model.named_parameters()}
    if model.config.tie_weights:
        head = "head" if isinstance(model, TransformerLM) else "decoder"
        arrays[f"{head}.weight"] = arrays["embedding.weight"]
    return arrays


def export_safetensors(model: RecurrentLM | TransformerLM, vocab: Vocab, path: str | os.PathLike,
                       step: int | None = None) -> dict[str, np.ndarray]:
    """Write `torch_state_dict(model)` to `path` (atomically), config and vocabulary in the metadata."""
    safetensors_numpy = require("safetensors.numpy", "export")
    arrays = torch_state_dict(model)
    metadata = {"format": FORMAT, "config": json.dumps(model.config.to_dict()),
                "vocab": json.dumps(vocab.to_dict())}
    if step is not None:
        metadata["step"] = str(step)
    data = safetensors_numpy.save(arrays, metadata=metadata)  # a tied weight is stored twice
    with atomic_write(path) as f:
        f.write(data)
    return arrays
