"""The one schema of a checkpoint's metadata (the JSON in ``meta``): every key's type, range and whether it
must be there, checked when a checkpoint is loaded, so that a damaged or crafted file gets one line naming
the first problem instead of a traceback somewhere later.

    >>> check_meta({"format": FORMAT, "config": {...}, "vocab": {...}, "step": "abc"})
    MetadataError: metadata 'step': expected an integer in [0, 1e+15], got the str 'abc'

Reading a model (sample, score, eval, export) needs `MODEL_KEYS`; resuming its training needs the
`RUN_KEYS` too (`check_meta(meta, resume=True)`). A spec is a type (``int``, ``float``, ``str``,
``bool``), a `Num` range, `Opt` (the value may be null), `Of` (one of some strings), `ListOf`, or `Obj`
(a JSON object: its fields' specs, which of them may be missing; other keys are allowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MODEL_KEYS", "RUN_KEYS", "SCHEMA", "MetadataError", "check_meta"]


class MetadataError(ValueError):
    """The metadata does not follow `SCHEMA`; the message names the first key that does not."""


@dataclass(frozen=True)
class Num:
    """An int (``integer=True``) or a finite number in [lo, hi]."""

    lo: float
    hi: float
    integer: bool = True


@dataclass(frozen=True)
class Opt:
    """`spec`, or null."""

    spec: Any


@dataclass(frozen=True)
class Of:
    """One of these strings."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Obj:
    """A JSON object: each field's spec; the fields in `optional` may be missing."""

    fields: dict[str, Any]
    optional: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ListOf:
    """A list of at most `most` items, each following `spec`."""

    spec: Any
    most: int = 10**8


BIG = 10**15  # counts of steps, tokens, positions: far beyond any run, far below float precision trouble
SIZE = Num(1, 10**7)
SCHEMA: dict[str, Any] = {
    "format": str,
    "config": Obj({"model": Of(("rnn", "lstm", "gru", "transformer")), "vocab_size": SIZE, "hidden": SIZE,
                   "layers": Num(1, 10**4), "dropout": Opt(Num(0, 1, integer=False)), "embed": Opt(SIZE),
                   "tie_weights": bool, "heads": SIZE, "ff": Opt(SIZE), "context": SIZE},
                  frozenset({"layers", "dropout", "embed", "tie_weights", "heads", "ff", "context"})),
    "vocab": Obj({"level": Of(("char", "word")), "lower": bool, "itos": ListOf(str)}),
    "generators": ListOf(dict, 10**4),
    "carry": Of(("none", "tensor", "tuple")),
    "step": Num(0, BIG), "epoch": Num(0, BIG), "position": Num(0, BIG),
    "seconds": Num(0, 1e12, integer=False), "tokens": Num(0, BIG * 10**3),
    "train": Obj({"corpus": str, "level": Of(("char", "word")), "seq_len": SIZE, "batch_size": SIZE,
                  "lr": Num(0, 1e6, integer=False), "clip": Num(0, 1e12, integer=False),
                  "warmup": Num(0, BIG), "schedule": Of(("cosine", "constant")),
                  "min_lr_ratio": Num(0, 1e6, integer=False), "valid_fraction": Num(0, 1, integer=False),
                  "eval_every": Num(1, BIG), "eval_tokens": Opt(Num(1, BIG)), "eval_batch": SIZE,
                  "seed": Num(0, 2**63), "min_freq": Num(1, BIG), "max_vocab": Opt(SIZE), "lower": bool},
                 frozenset({"level", "seq_len", "batch_size", "lr", "clip", "warmup", "schedule",
                            "min_lr_ratio", "valid_fraction", "eval_every", "eval_tokens", "eval_batch",
                            "seed", "min_freq", "max_vocab", "lower"})),
    "schedule": Obj({"warmup": Num(0, BIG), "planned": Num(0, BIG), "base_lr": Num(0, 1e6, integer=False),
                     "last_step": Num(0, BIG), "total_steps": Num(0, BIG), "knot_step": Num(0, BIG),
                     "knot_q": Num(0, 1, integer=False)},
                    frozenset({"base_lr", "last_step", "total_steps", "knot_step", "knot_q"})),
    "history": Obj({k: ListOf(Num(-1e300, 1e300, integer=False)) for k in
                    ("step", "loss", "grad_norm", "lr", "val_step", "val_loss")}),
    "corpus_fingerprint": str,
    "trigram_valid": Opt(float),
}
MODEL_KEYS = ("format", "config", "vocab")
RUN_KEYS = ("step", "epoch", "position", "seconds", "tokens", "train", "schedule", "history", "generators",
            "carry")


def check_meta(meta: Any, resume: bool = False) -> None:
    """Raise MetadataError naming the first key of `meta` that breaks `SCHEMA` (or is missing); a
    checkpoint to resume from must also hold `RUN_KEYS`."""
    if not isinstance(meta, dict):
        raise MetadataError(f"metadata: expected a JSON object, got {_shown(meta)}")
    for key in MODEL_KEYS + (RUN_KEYS if resume else ()):
        if key not in meta:
            what = "to resume training" if key in RUN_KEYS else "to rebuild the model"
            raise MetadataError(f"metadata: the key {key!r} is missing (needed {what})")
    for key, value in meta.items():
        if key in SCHEMA:
            _check(value, SCHEMA[key], f"metadata {key!r}")


def _check(value: Any, spec: Any, where: str) -> None:
    if isinstance(spec, Opt):
        if value is not None:
            _check(value, spec.spec, where)
    elif isinstance(spec, Num):
        number = isinstance(value, int) if spec.integer else isinstance(value, int | float)
        if isinstance(value, bool) or not number or not spec.lo <= value <= spec.hi:
            kind = "an integer" if spec.integer else "a number"
            raise MetadataError(f"{where}: expected {kind} in [{spec.lo:g}, {spec.hi:g}], "
                                f"got {_shown(value)}")
    elif isinstance(spec, Of):
        if value not in spec.values:
            raise MetadataError(f"{where}: expected one of {', '.join(spec.values)}, got {_shown(value)}")
    elif isinstance(spec, ListOf):
        if not isinstance(value, list) or len(value) > spec.most:
            raise MetadataError(f"{where}: expected a list of at most {spec.most:,} items, "
                                f"got {_shown(value)}")
        for i, item in enumerate(value):
            _check(item, spec.spec, f"{where}[{i}]")
    elif isinstance(spec, Obj):
        if not isinstance(value, dict):
            raise MetadataError(f"{where}: expected a JSON object, got {_shown(value)}")
        for key, sub in spec.fields.items():
            if key in value:
                _check(value[key], sub, f"{where}.{key}")
            elif key not in spec.optional:
                raise MetadataError(f"{where}: the key {key!r} is missing")
    elif spec is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MetadataError(f"{where}: expected a number, got {_shown(value)}")
    elif isinstance(value, bool) and spec is not bool or not isinstance(value, spec):
        raise MetadataError(f"{where}: expected {spec.__name__}, got {_shown(value)}")


def _shown(value: Any) -> str:
    """`value` named by its type and, shortened, its text: ``the str 'abc'``, ``a list of 3 items``."""
    if isinstance(value, list | dict):
        return f"a {type(value).__name__} of {len(value):,} items"
    text = repr(value)
    return f"the {type(value).__name__} {text[:40] + '...' if len(text) > 40 else text}"
