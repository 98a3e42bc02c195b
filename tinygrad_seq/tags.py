"""Tags: a layer names what a tensor holds, for whoever reads the graph (the BPTT explorer).

``tag(h, "h")`` appends ``(scope, "h")`` to ``h.tags``, the scope being the one active at the call
(`current_scope`), and returns `h`. Nothing else happens: no op, no node, no copy; a tensor that nobody
tags keeps the class's empty tuple. A reader walks the graph and reads ``tensor.tags``; the scope says
where the name applies: ``(("lstm", "l0", "t=3"), "h")`` is the hidden state made by step 3 of the layer
in scope ``lstm.l0``, and ``(("lstm", "l0"), "input")`` the time-major input of that layer.

The names the explorer reads (`NAMES`):

- ``"h"``, ``"c"``: the state a time step passes on (hidden state, and an LSTM's cell state);
- ``"i"``, ``"f"``, ``"g"``, ``"o"`` (LSTM) and ``"r"``, ``"z"``, ``"n"`` (GRU): each gate's values, (B, H);
- ``"input"``: what a step reads, in the step's scope, or what all steps read, time-major ((T, B, ...)
  or (T * B, ...)), in the scope of the loop;
- ``"logits"``: the unnormalised scores whose softmax is the output distribution, laid out as
  `functional.cross_entropy` reads them ((C,) or (N, C, ...): the class axis is axis 1), which tags
  its input;
- ``"loss"``: a loss value, which `functional.cross_entropy` tags on its result: a scalar tagged inside
  a step is that step's own loss L_t, which the explorer can show the gradient of alone.

The recurrent layers and cells of `tinygrad_seq.nn` tag their states, gates and input; a hand-written
loop tags its own:

    >>> import numpy as np
    >>> from tinygrad_seq import Tensor, scope, tag
    >>> x, h, w = Tensor(np.ones((3, 2))), Tensor(np.zeros(2)), Tensor(np.eye(2), requires_grad=True)
    >>> for t in range(3):
    ...     with scope(f"t={t}"):
    ...         h = tag((tag(x[t], "input") + h @ w).tanh(), "h")
    >>> h.tags
    ((('t=2',), 'h'),)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .autograd import current_scope

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["GATES", "NAMES", "tag"]

GATES = ("i", "f", "g", "o", "r", "z", "n")  # an LSTM's gates, then a GRU's, in PyTorch's stacking order
NAMES = ("h", "c", *GATES, "input", "logits", "loss")


def tag(tensor: Tensor, name: str) -> Tensor:
    """Record that `tensor` holds `name` in the current scope: ``tensor.tags += ((scope, name),)``.

    Returns `tensor` itself, so a tag wraps an expression: ``h = tag((x + h @ w).tanh(), "h")``. The same
    (scope, name) is recorded once, however often a tensor is tagged (a loop's input, read on every call).
    """
    entry = (current_scope(), name)
    tags = tensor.tags
    if not tags:
        tensor.tags = (entry,)
    elif entry not in tags:
        tensor.tags = tags + (entry,)
    return tensor
