"""The one guard every fused kernel shares: its backward is NumPy, so it has no gradient of its own."""

from __future__ import annotations

from tinygrad_seq.autograd import Function, is_grad_enabled

__all__ = ["FirstOrderOnlyError", "first_order_only"]


class FirstOrderOnlyError(RuntimeError):
    """A fused kernel was asked for a gradient of its gradient; its backward is NumPy (first order)."""


def first_order_only(fn: Function, kernel: str, fix: str) -> None:
    """Raise FirstOrderOnlyError when `fn`'s backward runs under create_graph=True (grad mode on).

    `kernel` names the fused kernel, `fix` says how to build the composed reference instead.
    """
    if is_grad_enabled():
        raise FirstOrderOnlyError(
            f"{fn.name}: {kernel} has a first-order backward only (written in NumPy), so it cannot give a "
            f"gradient of a gradient (create_graph=True, gradgradcheck). {fix}"
        )
