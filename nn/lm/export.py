"""Weights out to PyTorch: a language model's parameters under torch.nn's names, as a safetensors file.

The layers already use torch.nn's parameter names and layouts (``rnn.weight_ih_l0``, ``layers.0.self_attn
.in_proj_weight``, ...), so the state dict is what the equivalent torch modules expect; tied weights are
written under both names, as torch's own state dict lists them. The file's metadata holds the model's
config and vocabulary (JSON), so a PyTorch script can rebuild the model and decode its samples, and
``sha256``: the SHA-256 of the tensors (`tensors_sha256`), which `read_safetensors` (and the README's
torch loader) checks, so a damaged file is refused instead of loading wrong weights.

`tinygrad-seq export` never replaces a file unless told to (``--force``): `write_output` writes a new
file atomically, refuses an existing one, and writes to a device or a pipe (``-o /dev/stdout``) directly.

    >>> export_safetensors(model, vocab, "model.safetensors")  # then torch: load_file + load_state_dict
    >>> arrays, metadata = read_safetensors("model.safetensors")   # checks the SHA-256

Needs the ``safetensors`` package (the ``lm`` extra); it writes through its NumPy API, so torch is not
needed to export. docs/pytorch.md ("Weights out to PyTorch") shows the torch modules and the loading code.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_seq.extras import require

from ..module import atomic_write
from .models import RecurrentLM, TransformerLM
from .text import Vocab

__all__ = ["ExportError", "export_safetensors", "read_safetensors", "tensors_sha256", "torch_state_dict",
           "write_output"]

FORMAT = "tinygrad_seq lm, torch.nn names"


class ExportError(Exception):
    """An exported file that cannot be written where asked, or read back whole."""


def tensors_sha256(arrays: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over the tensors in name order: each name in UTF-8, a NUL byte, its bytes (C order)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode() + b"\0" + np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()


def write_output(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> None:
    """Write `data` to `path`: a new file atomically; an existing one only if `overwrite` (FileExistsError
    otherwise); a device or a pipe (``/dev/stdout``, ``/dev/null``, a FIFO) directly, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        with open(path, "wb") as f:  # a device or a pipe: written through, never renamed over
            f.write(data)
        return
    if mode is not None and not overwrite:
        raise FileExistsError(17, "the file exists; pass --force to replace it", os.fspath(path))
    with atomic_write(path) as f:
        f.write(data)


def torch_state_dict(model: RecurrentLM | TransformerLM) -> dict[str, np.ndarray]:
    """The model's arrays by torch.nn name, tied weights under both names, each array contiguous."""
    arrays = {name: np.ascontiguousarray(p.numpy()) for name, p in model.named_parameters()}
    if model.config.tie_weights:
        head = "head" if isinstance(model, TransformerLM) else "decoder"
        arrays[f"{head}.weight"] = arrays["embedding.weight"]
    return arrays


def export_safetensors(model: RecurrentLM | TransformerLM, vocab: Vocab, path: str | os.PathLike,
                       step: int | None = None, overwrite: bool = False) -> dict[str, np.ndarray]:
    """Write `torch_state_dict(model)` to `path` (`write_output`), config, vocabulary and the tensors'
    SHA-256 in the metadata."""
    safetensors_numpy = require("safetensors.numpy", "export")
    arrays = torch_state_dict(model)
    config = model.config.to_dict() | {"dropout": model.config.dropout or 0.0}  # as built: None is none
    metadata = {"format": FORMAT, "config": json.dumps(config),
                "vocab": json.dumps(vocab.to_dict()), "sha256": tensors_sha256(arrays)}
    if step is not None:
        metadata["step"] = str(step)
    data = safetensors_numpy.save(arrays, metadata=metadata)  # a tied weight is stored twice
    write_output(path, data, overwrite)
    return arrays


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(arrays, metadata) of a file `export_safetensors` wrote; ExportError if its tensors do not match
    the SHA-256 it carries (a damaged file) or it carries none."""
    safetensors_numpy = require("safetensors.numpy", "reading an exported model")
    from safetensors import safe_open

    path = os.fspath(path)
    try:
        with safe_open(path, "np") as f:
            metadata = f.metadata() or {}
        arrays = safetensors_numpy.load_file(path)
    except Exception as error:  # the parser's errors (SafetensorError, ValueError, OSError) vary by version
        raise ExportError(f"{path!r} is not a readable safetensors file ({error})") from None
    if "sha256" not in metadata:
        raise ExportError(f"{path!r} carries no SHA-256 of its tensors: not written by this version's export")
    if tensors_sha256(arrays) != metadata["sha256"]:
        raise ExportError(f"{path!r}: the tensors do not match the SHA-256 in the metadata (the file is "
                          "damaged); export it again")
    return arrays, metadata
