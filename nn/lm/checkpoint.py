"""Language-model checkpoints: one .npz holding everything needed to sample from a model or resume training.

Arrays (written atomically through ``nn.module.save_arrays``: a temporary file, then a rename):

    model.<name>    the model's state dict (weights, buffers)
    optim.<key>     the optimizer's state dict (hyperparameters, step counts, moment estimates)
    carry.<i>       the recurrent state carried into the next training chunk (h, or h and c)
    meta            one JSON string: format, config, vocab, step, the states of the random generators,
                    the training settings, the schedule, where in the data training stands, the history

No pickle anywhere: ``np.load(path, allow_pickle=False)`` reads it all.

    >>> save_checkpoint("out/checkpoint.npz", model, vocab, meta={"step": 100})
    >>> model, vocab, ckpt = load_model("out/checkpoint.npz")
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_seq.tensor import Tensor

from ..module import Module, declared_sizes, load_arrays, save_arrays
from .memory import MemoryBudgetError, available_bytes, check_fits, parameter_count
from .metadata import check_meta
from .models import LMConfig, RecurrentLM, TransformerLM, build_model
from .text import Vocab

__all__ = [
    "FORMAT", "Checkpoint", "CheckpointError", "generator_states", "generators", "load_checkpoint",
    "load_model", "restore_carry", "save_checkpoint", "set_generator_states",
]

FORMAT = "tinygrad_seq.lm/1"
META_BYTES = 2**28  # the most JSON metadata read: a word vocabulary of millions of words fits in far less


class CheckpointError(Exception):
    """A file that is not a readable language-model checkpoint, or one that does not fit the model."""


@dataclass
class Checkpoint:
    """What `load_checkpoint` read: the model's config and vocabulary, its arrays, and the metadata."""

    path: str
    config: LMConfig
    vocab: Vocab
    model_state: dict[str, np.ndarray]
    optim_state: dict[str, np.ndarray] = field(default_factory=dict)
    carry: list[np.ndarray] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def step(self) -> int:
        return int(self.meta.get("step", 0))


def generators(model: Module) -> list[np.random.Generator]:
    """Every random Generator the model's modules hold (dropout masks), each once, in module order."""
    found: dict[int, np.random.Generator] = {}
    for module in model.modules():
        for value in vars(module).values():
            if isinstance(value, np.random.Generator):
                found.setdefault(id(value), value)
    return list(found.values())


def generator_states(model: Module) -> list[dict[str, Any]]:
    """The bit-generator states of `generators(model)`: plain JSON (dicts of ints and strings)."""
    return [dict(g.bit_generator.state) for g in generators(model)]


def set_generator_states(model: Module, states: list[dict[str, Any]]) -> None:
    """Put back what `generator_states` saved, so dropout draws the same masks as before."""
    gens = generators(model)
    if len(gens) != len(states):
        raise CheckpointError(f"the model holds {len(gens)} random generators, the checkpoint {len(states)}")
    for g, state in zip(gens, states):
        try:
            g.bit_generator.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            raise CheckpointError(f"a random generator's saved state is unreadable ({error!r})") from None


def save_checkpoint(path: str | os.PathLike, model: RecurrentLM | TransformerLM, vocab: Vocab,
                    optimizer: Any = None, carry: Any = None, meta: Mapping[str, Any] | None = None) -> None:
    """Write model, vocabulary, config, optimizer state, carried state and `meta` to one .npz, atomically.

    If writing fails (disk full, Ctrl-C) the previous file at `path` is left as it was.
    """
    info = dict(meta or {})
    info |= {"format": FORMAT, "config": model.config.to_dict(), "vocab": vocab.to_dict(),
             "generators": generator_states(model)}
    arrays: dict[str, np.ndarray] = {f"model.{k}": v for k, v in model.state_dict().items()}
    if optimizer is not None:
        arrays |= {f"optim.{k}": np.asarray(v) for k, v in optimizer.state_dict().items()}
    carried = [] if carry is None else [carry] if isinstance(carry, Tensor) else list(carry)
    info["carry"] = "none" if carry is None else "tensor" if isinstance(carry, Tensor) else "tuple"
    arrays |= {f"carry.{i}": t.numpy() for i, t in enumerate(carried)}
    arrays["meta"] = np.array(json.dumps(info))
    save_arrays(path, arrays)


def load_checkpoint(path: str | os.PathLike, resume: bool = False) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`; a clear CheckpointError for anything else.

    The metadata is checked against `nn.lm.metadata.SCHEMA` (with ``resume=True``: it must also hold
    what resuming training needs), the first problem named in one line."""
    path = os.fspath(path)
    try:
        sizes = declared_sizes(path)
        if sizes.get("meta", 0) > META_BYTES:
            raise CheckpointError(f"{path!r} declares {sizes['meta']:,} bytes of metadata, more than the "
                                  f"{META_BYTES:,} a checkpoint's JSON can need; nothing was loaded")
        arrays = load_arrays(path, ["meta"])
    except (FileNotFoundError, ValueError) as error:
        raise CheckpointError(str(error)) from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path!r} is an .npz file but not a language-model checkpoint (no metadata; "
                              "it was not written by `tinygrad-seq train`)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
        if not isinstance(meta, dict):
            raise CheckpointError(f"{path!r} has unreadable metadata (a JSON {type(meta).__name__}, "
                                  "not an object)")
        if meta.get("format") != FORMAT:
            raise CheckpointError(
                f"{path!r} has format {meta.get('format')!r}; this version reads {FORMAT!r}")
        check_meta(meta, resume=resume)
        config = LMConfig.from_dict(meta["config"])
        vocab = Vocab.from_dict(meta["vocab"])
    except RecursionError:
        raise CheckpointError(f"{path!r} has unreadable metadata (JSON nested too deeply)") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:  # MetadataError included
        raise CheckpointError(f"{path!r} has unreadable metadata ({error})") from None
    most = min(16 * 8 * parameter_count(config) + 2**20, available_bytes())  # weights, Adam, carry: float64
    try:
        arrays = load_arrays(path, [k for k in sizes if k != "meta"], max_bytes=most)
    except ValueError as error:
        raise CheckpointError(f"{error} (a {config.model} of this config holds at most {most:,})") from None
    part = lambda prefix: {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    carry = part("carry.")
    return Checkpoint(path, config, vocab, part("model."), part("optim."),
                      [carry[str(i)] for i in range(len(carry))], meta)


def restore_carry(ckpt: Checkpoint, batch_size: int) -> Any:
    """The carried state as the model returns it: None, a Tensor (h), or a tuple (h, c) for an LSTM;
    each (layers, batch_size, hidden), else a CheckpointError."""
    kind = ckpt.meta.get("carry", "none")
    if kind == "none" or not ckpt.carry:
        return None
    c = ckpt.config
    count = 0 if c.model == "transformer" else 2 if c.model == "lstm" else 1
    shape = (c.layers, batch_size, c.hidden)
    shapes = [a.shape for a in ckpt.carry]
    if kind != ("tuple" if count == 2 else "tensor") or shapes != [shape] * count or \
            any(a.dtype.kind != "f" for a in ckpt.carry):
        raise CheckpointError(f"{ckpt.path!r}: the carried state ({kind}, shapes {shapes}) does not fit a "
                              f"{c.model} trained with batch size {batch_size}: {count} of {shape}")
    tensors = [Tensor(a) for a in ckpt.carry]
    return tensors[0] if kind == "tensor" else tuple(tensors)


def load_model(path: str | os.PathLike,
               resume: bool = False) -> tuple[RecurrentLM | TransformerLM, Vocab, Checkpoint]:
    """(model with the checkpoint's weights, in eval mode; its vocabulary; the checkpoint itself)."""
    ckpt = load_checkpoint(path, resume)
    try:  # a damaged or crafted config must not make us allocate terabytes before the weights are compared
        check_fits(ckpt.config, 1, 1, f"the model that {ckpt.path!r} describes", training=False)
    except MemoryBudgetError as error:
        raise CheckpointError(str(error)) from None
    model = build_model(ckpt.config, rng=0)
    try:
        model.load_state_dict(ckpt.model_state)
    except KeyError as error:
        raise CheckpointError(f"{ckpt.path!r}: the weights do not fit a {ckpt.config.model} model "
                              f"({error.args[0]})") from None
    if len(ckpt.vocab) != ckpt.config.vocab_size:
        raise CheckpointError(f"{ckpt.path!r}: the vocabulary has {len(ckpt.vocab)} tokens but the model "
                              f"{ckpt.config.vocab_size}")
    model.eval()
    return model, ckpt.vocab, ckpt
