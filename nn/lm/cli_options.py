"""The `tinygrad-seq` command's arguments: how each is read, the options of `train` (one per config field,
its default read from the dataclass), the training directory a command names, and `UsageError`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from typing import Any

from .models import MODELS, LMConfig
from .training import CHECKPOINT, TrainConfig, dropout_rule

PROG = "tinygrad-seq"
EXIT_MISSING_DEPENDENCY = 3  # an optional package (an extra) or Graphviz's `dot` is not installed


class UsageError(Exception):
    """Input the command cannot work with; the message is printed as one line, exit code 2."""


def checkpoint_path(directory: str) -> str:
    """DIR/checkpoint.npz (or the .npz file itself); a clear error if there is none."""
    if os.path.isfile(directory) and not directory.endswith(".npz"):
        raise UsageError(f"{directory!r} is a file, not a training directory: give the directory that holds "
                         f"{CHECKPOINT} (or the checkpoint .npz itself)")
    path = directory if directory.endswith(".npz") else os.path.join(directory, CHECKPOINT)
    if not os.path.exists(path):
        exists = os.path.isdir(directory)
        where = f"{directory!r} has no {CHECKPOINT}" if exists else f"{directory!r} does not exist"
        raise UsageError(f"{where}; train a model first: {PROG} train --out {directory}")
    return path


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def seed_value(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be >= 0 (NumPy's generators take no negative seed), "
                                         f"got {text}")
    return value


def layout_value(text: str) -> str | int:
    """--layout: "auto", "row" or a positive number of steps per row."""
    if text in ("auto", "row"):
        return text
    return positive_int(text)


# The options of `train` that set a field of LMConfig or TrainConfig, in the order `--help` lists them:
# how to read each and what it means. Defaults are the dataclasses' own, shown as [value]; None given
# means "not given", so a resumed run can tell a clash from a default.
CONFIG_OPTIONS: dict[str, dict[str, Any]] = {
    "corpus": dict(help="pydoc (built in), tinyshakespeare (downloaded once) or a file"),
    "level": dict(choices=["char", "word"], help="tokens"),
    "model": dict(choices=MODELS, help="architecture"),
    "hidden": dict(type=positive_int, help="hidden size (d_model of the transformer)"),
    "layers": dict(type=positive_int, help="stacked layers"),
    "embed": dict(type=positive_int, help="embedding size [= hidden]"),
    "tie_weights": dict(action=argparse.BooleanOptionalAction, help="share embedding and output weights"),
    "heads": dict(type=positive_int, help="attention heads (transformer)"),
    "dropout": dict(type=float, help=f"dropout probability [chosen by the run: {dropout_rule()}]"),
    "seq_len": dict(type=positive_int, help="BPTT length T (transformer: context)"),
    "batch_size": dict(type=positive_int, help="parallel streams B"),
    "lr": dict(type=positive_float, help="peak learning rate of Adam"),
    "clip": dict(type=positive_float, help="max global gradient norm"),
    "warmup": dict(type=int, help="warm-up steps (at most a tenth of the run)"),
    "schedule": dict(choices=["cosine", "constant"], help="lr after warm-up"),
    "eval_every": dict(type=positive_int, help="validate, checkpoint every N steps"),
    "valid_fraction": dict(type=float, help="held-out share of the corpus"),
    "min_freq": dict(type=positive_int, help="word level: rarer words become <unk>"),
    "max_vocab": dict(type=positive_int, help="word level: keep at most this many tokens"),
    "lower": dict(action="store_true", help="word level: lower-case the text"),
    "seed": dict(type=seed_value, help="seed for the weights and dropout"),
}


def option_fields(config: type) -> dict[str, dataclasses.Field]:
    """The fields of `config` (LMConfig or TrainConfig) that `train` has an option for, by name."""
    return {f.name: f for f in dataclasses.fields(config) if f.name in CONFIG_OPTIONS}


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per entry of CONFIG_OPTIONS, its default read from the field it sets (never repeated)."""
    fields = option_fields(LMConfig) | option_fields(TrainConfig)
    for name, spec in CONFIG_OPTIONS.items():
        spec, default = dict(spec), fields[name].default
        shown = (default is not None and default is not False) or _per_kind(name)  # 0 is a default
        if shown and "[" not in spec["help"]:
            spec["help"] += f" [{default}{_per_kind(name)}]"
        parser.add_argument("--" + name.replace("_", "-"), default=None, **spec)


def _per_kind(name: str) -> str:
    """'; transformer: 128' for a field that some kinds of model default differently, else ''."""
    table = LMConfig.PER_KIND if name in LMConfig.__dataclass_fields__ else TrainConfig.PER_KIND
    values: dict[Any, list[str]] = {}
    for kind, own in table.items():
        if name in own:
            values.setdefault(own[name], []).append(kind)
    return "".join(f"; {', '.join(kinds)}: {value:g}" if isinstance(value, float) else
                   f"; {', '.join(kinds)}: {value}" for value, kinds in values.items())
