"""Checks of the toolkit's layers and models: gradients against finite differences, and the size of a graph.

`gradcheck_layer` checks a small float64 recurrent or attention layer with respect to its input and every
parameter; `gradcheck_model` a language model's loss on one chunk with respect to every parameter (both
return a `GradcheckReport`, truthy when it passes; ``localize=True`` names the failing nodes).
`unroll_nodes` counts the nodes of a model's graph per unrolled step, on a small copy of the model, so that
a size can be refused before a large graph is built. The `tinygrad-seq gradcheck` and `graph` commands
print what these return.

    >>> import numpy as np
    >>> bool(gradcheck_layer("gru", np.random.default_rng(0)))
    True
    >>> unroll_nodes(LMConfig("lstm", vocab_size=10, hidden=8)).per_step > 0
    True
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tinygrad_seq import GradcheckReport, gradcheck
from tinygrad_seq import functional as F
from tinygrad_seq.autograd import toposort

from ..attention import MultiheadAttention
from ..module import Module, functional_call
from ..recurrent import GRU, LSTM, RNN
from .models import LMConfig, build_model, chunk_loss, unfused

__all__ = ["LAYERS", "UnrollNodes", "gradcheck_layer", "gradcheck_model", "unroll_nodes"]

LAYERS = ("rnn", "lstm", "gru", "mha")  # the layers `gradcheck_layer` builds


def gradcheck_layer(kind: str, rng: np.random.Generator, localize: bool = False) -> GradcheckReport:
    """Gradcheck a small float64 layer (2 deep if recurrent) with respect to its input and parameters.

    `kind` is one of `LAYERS`: an RNN, LSTM or GRU over (T, B, I) = (4, 2, 3) with hidden size 4, or causal
    self-attention with 2 heads over (4, 2, 4). ``localize=True`` names the failing nodes.

    Example: ``print(gradcheck_layer("lstm", np.random.default_rng(0)))``
    """
    if kind not in LAYERS:
        raise ValueError(f"gradcheck_layer: kind must be one of {', '.join(LAYERS)}, got {kind!r}")
    T, B, I, H = 4, 2, 3, 4
    layer: Module
    if kind == "mha":
        I = 4
        layer = MultiheadAttention(I, 2, rng=rng).astype(np.float64)
        forward = lambda x, w: functional_call(layer, w, x, x, x, need_weights=False, is_causal=True)[0]
    else:
        layer = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[kind](I, H, num_layers=2, rng=rng).astype(np.float64)
        forward = lambda x, w: functional_call(layer, w, x)[0]
    names = [name for name, _ in layer.named_parameters()]
    x = rng.standard_normal((T, B, I))
    fn = lambda x_, *ps: forward(x_, dict(zip(names, ps)))
    report = gradcheck(fn, [x, *[p.numpy() for p in layer.parameters()]], raise_exception=False,
                       localize=localize)
    report.title = f"{kind} (T={T}, B={B}, input {I}): gradcheck of the input and {len(names)} parameters"
    report.notes.append("inputs: " + ", ".join(f"{i} = {n}" for i, n in enumerate(["x", *names])))
    return report


def gradcheck_model(model: Module, x: np.ndarray, y: np.ndarray, localize: bool = False,
                    seed: int = 0) -> GradcheckReport:
    """Gradcheck a language model's mean cross-entropy on one (T, B) chunk with respect to every parameter.

    The model is converted to float64 in place and checked in eval mode by random projections (its
    parameters are too many for a full Jacobian); ``localize=True`` names the failing nodes (run it inside
    ``with unfused(model):`` to name them per time step rather than as a fused layer).

    Example: ``gradcheck_model(build_model(config, rng=0), ids[:-1, None], ids[1:, None])``
    """
    model.astype(np.float64).eval()
    names = [name for name, _ in model.named_parameters()]

    def loss_of(*weights: Any) -> Any:
        logits, _ = functional_call(model, dict(zip(names, weights)), x)  # (T, B, V)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), fused=True)  # (T*B, V)

    report = gradcheck(loss_of, [p.numpy() for p in model.parameters()], fast=True, localize=localize,
                       raise_exception=False, seed=seed)
    report.notes.append("inputs: " + ", ".join(f"{i} = {n}" for i, n in enumerate(names)))
    return report


@dataclasses.dataclass(frozen=True)
class UnrollNodes:
    """How many nodes the graph of a model's loss has: `first` for one step, `per_step` for each further."""

    first: int
    per_step: int

    def at(self, steps: int) -> int:
        """Nodes of the loss over `steps` tokens: first + (steps - 1) * per_step."""
        return self.first + (steps - 1) * self.per_step

    def most_steps(self, nodes: int) -> int:
        """The most steps whose graph has at most `nodes` nodes."""
        return 1 + (nodes - self.first) // max(self.per_step, 1)


def unroll_nodes(config: LMConfig) -> UnrollNodes:
    """The node count of the loss's graph per step, for a model of `config` run unfused (op by op).

    Counted on a small copy (2 positions, at most 64 tokens in the vocabulary), by building the graph of
    one step and of two: nodes grow linearly with the steps, so the difference is what each step adds.
    """
    probe = build_model(dataclasses.replace(config, context=2, vocab_size=min(config.vocab_size, 64)), rng=0)
    ids = np.zeros((3, 1), dtype=np.int64)
    with unfused(probe):
        one, two = (len(toposort([chunk_loss(probe, ids[:T], ids[1:T + 1])[0]])) for T in (1, 2))
    return UnrollNodes(one, two - one)
