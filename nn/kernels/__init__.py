"""Fused kernels: one graph node for work the composed layers spread over many small ops, for speed.

Each kernel is a `Function` whose forward and first-order backward are written in NumPy (it sets
``first_order_only``, so asking it for a gradient of its gradient raises the engine's
`FirstOrderOnlyError`), and each is held equal to the composed reference it replaces by a test named
in its module docstring.
"""

from .recurrent import FusedSequence, fused_sequence

__all__ = ["FusedSequence", "fused_sequence"]
