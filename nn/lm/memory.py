"""How much memory a language model and one step of it need, and how much there is: sizes that cannot
fit are refused before anything is allocated, with the estimate in the message.

    >>> check_fits(LMConfig("transformer", 65, hidden=256, context=10**6), tokens=10**6, batch=64,
    ...            what="one training step")
    MemoryBudgetError: one training step needs about 3.3e+04 GB (...); this machine has 16 GB ...

The estimates are rough (within a small factor) on purpose: they only have to tell a run that fits from
one that cannot, never to predict a peak.
"""

from __future__ import annotations

import os
import resource

from .models import LMConfig

__all__ = ["MemoryBudgetError", "available_bytes", "check_fits", "describe", "parameter_count", "step_bytes"]

GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # weight blocks per recurrent layer


class MemoryBudgetError(ValueError):
    """A size that cannot fit in this machine's memory; the message has the estimate."""


def parameter_count(config: LMConfig) -> int:
    """The number of parameters `build_model(config)` makes, computed without building it."""
    V, H, L = config.vocab_size, config.hidden, config.layers
    E = config.embed or H  # LMConfig fills both in; None only before that
    head = (0 if config.tie_weights else H * V) + V
    if config.model == "transformer":
        d, ff = H, config.ff or 4 * H
        layer = (3 * d * d + 3 * d) + (d * d + d) + (d * ff + ff) + (ff * d + d) + 4 * d  # attn, FF, norms
        return V * d + config.context * d + L * layer + 2 * d + head
    G = GATES[config.model]
    recurrent = G * H * (E + H + 2) + (L - 1) * G * H * (2 * H + 2)  # the first layer reads E, the rest H
    return V * E + recurrent + head


def step_bytes(config: LMConfig, tokens: int, batch: int, training: bool = True) -> int:
    """Bytes (float32) for the weights and one forward (and backward, if `training`) over (tokens, batch).

    Training keeps the weights, their gradients and Adam's two moments (4 copies) and every activation
    the backward pass needs; evaluation keeps one layer's worth at a time.
    """
    P, V, H, L = parameter_count(config), config.vocab_size, config.hidden, config.layers
    TB = tokens * batch
    if config.model == "transformer":
        per_layer = TB * H * 12 + 3 * config.heads * tokens * tokens * batch  # (T, B, d) pieces, T x T scores
    else:
        per_layer = TB * H * GATES[config.model] * 3
    activations = (L if training else 1) * per_layer + TB * ((config.embed or H) + 3 * V)
    return 4 * ((4 if training else 1) * P + activations)


def available_bytes() -> int:
    """The memory this process may use: the machine's RAM, or the address-space limit if that is lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: assume a laptop
        total = 16 * 2**30
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return min(total, soft) if soft != resource.RLIM_INFINITY else total


def describe(n_bytes: float) -> str:
    """1.5e9 -> '1.4 GB'; 3e13 -> '2.8e+04 GB'."""
    gb = n_bytes / 2**30
    return f"{gb:.2g} GB" if gb < 1e4 else f"{gb:.1e} GB"


def check_fits(config: LMConfig, tokens: int, batch: int, what: str, training: bool = True) -> int:
    """The estimate of `step_bytes`; raises MemoryBudgetError naming it if it exceeds the memory there is."""
    need, have = step_bytes(config, tokens, batch, training), available_bytes()
    if need > have:
        c = config
        shape = (f"{c.model}, {c.hidden} hidden x {c.layers} layer(s), vocabulary {c.vocab_size:,}, "
                 f"{tokens:,} steps x {batch:,} streams, {parameter_count(c):,} parameters")
        raise MemoryBudgetError(f"{what} needs about {describe(need)} ({shape}); this machine has "
                                f"{describe(have)}: choose smaller sizes")
    return need
