"""What a picture of the computation graph shows about gradients, computed from the graph itself.

`Graph` holds the ops behind some roots in topological order, the tensor each op made, the leaves and
who reads what; `Graph.gradients` finds d(sum of roots)/d(every tensor) with
``grad(roots, every tensor, retain_graph=True)`` (after a backward that released the graph, only the
``.grad`` that backward stored), and `Graph.share` the part of a tensor's gradient that one op sends
back. `step_grads` splits a shared weight's gradient into what each time step (scope ``t=k``)
contributes; the shares add up to the gradient. `detach_sources` finds the tensor each detached leaf
was cut from. `tinygrad_seq.graph` draws all of this.

    >>> from tinygrad_seq import Tensor, scope
    >>> from tinygrad_seq.graph_analysis import step_grads
    >>> w, h = Tensor([2.0], requires_grad=True), Tensor([1.0])
    >>> for t in range(3):
    ...     with scope(f"t={t}"):
    ...         h = h * w
    >>> {k: v.tolist() for k, v in step_grads(h.sum(), tensor=w).items()}
    {'t=0': [4.0], 't=1': [4.0], 't=2': [4.0]}
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import autograd
from .autograd import Function, toposort
from .tensor import Tensor

__all__ = [
    "STEP", "Graph", "detach_sources", "norm_of", "param_names", "step_grads", "step_name", "time_step",
]

STEP = re.compile(r"t=(\d+)$")  # the scope name of one time step of an unrolled layer


@functools.lru_cache(maxsize=4096)  # every op of a step shares one scope tuple
def time_step(scope: tuple[str, ...]) -> tuple[tuple[str, ...], int] | None:
    """(scope of the unrolled layer, k) for the deepest ``t=k`` in `scope`, or None."""
    for j in range(len(scope) - 1, -1, -1):
        m = STEP.match(scope[j])
        if m:
            return scope[:j], int(m.group(1))
    return None


@functools.lru_cache(maxsize=4096)
def step_name(scope: tuple[str, ...]) -> str | None:
    """The dotted name of the time step an op ran in ("lstm.l0.t=3"), or None."""
    s = time_step(scope)
    return None if s is None else ".".join(s[0] + (f"t={s[1]}",))


class Graph:
    """The ops behind `roots` in topological order, the tensor each op made, the leaves, who reads what.

    `out` maps each op to one tensor it made (the one a picture's box stands for), `outputs` to every
    output found, by output index (an op with several outputs: see `Function`).
    """

    def __init__(self, roots: Sequence[Tensor]) -> None:
        self.roots = list(roots)
        self.order: list[Function] = toposort(self.roots)
        self.pos = {id(fn): i for i, fn in enumerate(self.order)}
        self.out: dict[int, Tensor] = {}
        self.outputs: dict[int, dict[int, Tensor]] = {}
        for r in self.roots:
            if r.grad_fn is not None:
                self._add_output(r)
        self.leaves: dict[int, Tensor] = {}  # in order of first use
        self.users: dict[int, list[Function]] = {}  # id(tensor) -> the ops that read it, each once
        for fn in self.order:
            for x in fn.inputs:
                if x.grad_fn is not None:
                    self._add_output(x)
                else:
                    self.leaves.setdefault(id(x), x)
                users = self.users.setdefault(id(x), [])
                if not users or users[-1] is not fn:
                    users.append(fn)
        for r in self.roots:
            if r.grad_fn is None:
                self.leaves.setdefault(id(r), r)
        self.released = any(fn.released for fn in self.order)
        self._parts: dict[int, tuple] = {}
        self._grads: tuple[dict[int, np.ndarray], str] | None = None
        self._reaches: set[int] | None = None

    def _add_output(self, t: Tensor) -> None:
        self.out.setdefault(id(t.grad_fn), t)
        self.outputs.setdefault(id(t.grad_fn), {}).setdefault(t.output_index, t)

    def gradients(self) -> tuple[dict[int, np.ndarray], str]:
        """id(tensor) -> d(sum of roots)/d(tensor), and a note on where the numbers come from (found once)."""
        if self._grads is None:
            self._grads = self._gradients()
        return self._grads

    def _gradients(self) -> tuple[dict[int, np.ndarray], str]:
        if self.released:
            grads = {id(t): t.grad.numpy() for t in self.leaves.values() if t.grad is not None}
            grads.update((id(t), t.grad.numpy()) for t in self.out.values() if t.grad is not None)
            return grads, (
                "the graph was released by backward(): only .grad of leaves (and retained tensors) is "
                "shown; render before backward(), or call backward(retain_graph=True)"
            )
        outputs = [r for r in self.roots if r.grad_fn is not None]
        wanted = [t for fn in self.order for t in self.outputs[id(fn)].values()]
        wanted += [t for t in self.leaves.values() if t.requires_grad]
        if not outputs:
            return {}, "nothing in this graph requires grad"
        seeds = [np.ones(r.shape, dtype=r.dtype) for r in outputs]
        try:
            found = autograd.grad(outputs, wanted, grad_outputs=seeds, retain_graph=True)
        except (RuntimeError, FloatingPointError) as err:
            return {}, f"no gradients: {err}"
        what = "loss" if len(outputs) == 1 and outputs[0].size == 1 else "(sum of the roots)"
        return {id(t): g.numpy() for t, g in zip(wanted, found)}, f"‖g‖ = norm of d{what} / d(tensor)"

    def share(self, fn: Function, x: Tensor, grads: dict[int, np.ndarray]) -> np.ndarray | None:
        """The gradient that `fn`'s backward sends to its input `x` (its share of x's gradient)."""
        if id(fn) not in self._parts:
            outs = self.outputs[id(fn)]
            found = [grads.get(id(outs[i])) if i in outs else None for i in range(fn.n_outputs)]
            if all(g is None for g in found):
                return None
            out_grads = [np.zeros_like(fn.results[i]) if g is None else g for i, g in enumerate(found)]
            self._parts[id(fn)] = autograd.node_backward(fn, out_grads)
        total = np.zeros(x.shape, dtype=x.dtype)
        for y, part in zip(fn.inputs, self._parts[id(fn)]):
            if y is x and part is not None:
                total += part
        return total

    def step_grads(self, tensor: Tensor) -> dict[str, np.ndarray]:
        """`step_grads` (below) on this graph: d(sum of roots)/d(tensor) split by time step."""
        if self.released:
            raise RuntimeError(
                "step_grads: the graph was released by backward(); call it before backward(), or call "
                "backward(retain_graph=True)"
            )
        if not tensor.requires_grad:
            raise ValueError(f"step_grads: the tensor of shape {tensor.shape} does not require grad")
        grads, _ = self.gradients()
        reaches = self._reaches_steps()
        # walk forward from `tensor` through the ops preparing it for the steps; any other read is a boundary
        boundary, seen, stack = [], {id(tensor)}, [tensor]
        while stack:
            u = stack.pop()
            for fn in self.users.get(id(u), []):
                if time_step(fn.scope) is None and id(fn) in reaches:
                    for out in self.outputs[id(fn)].values():
                        if id(out) not in seen:
                            seen.add(id(out))
                            stack.append(out)
                else:
                    boundary.append((u, fn))
        seeds: dict[str, dict[int, list]] = {}  # step name -> id(u) -> [u, gradient the step sends to u]
        for u, fn in sorted(boundary, key=lambda e: self.pos[id(e[1])]):
            part = self.share(fn, u, grads)
            if part is not None:
                key = step_name(fn.scope) or ".".join(fn.scope)
                entry = seeds.setdefault(key, {}).setdefault(id(u), [u, 0])
                entry[1] = entry[1] + part
        result = {}
        for key, by_u in seeds.items():
            total = np.zeros(tensor.shape, dtype=tensor.dtype)
            direct = by_u.pop(id(tensor), None)
            if direct is not None:
                total += direct[1]
            if by_u:  # pull the step's part back through the preparing ops
                us = [u for u, _ in by_u.values()]
                seeds_u = [s for _, s in by_u.values()]
                (pulled,) = autograd.grad(us, [tensor], grad_outputs=seeds_u, retain_graph=True)
                total += pulled.numpy()
            result[key] = total
        return result


    def _reaches_steps(self) -> set[int]:
        """The ids of the ops in a time step, or with a path into one (computed once)."""
        if self._reaches is None:
            self._reaches = set()
            for fn in reversed(self.order):
                users = [u for out in self.outputs[id(fn)].values() for u in self.users.get(id(out), [])]
                if time_step(fn.scope) or any(id(u) in self._reaches for u in users):
                    self._reaches.add(id(fn))
        return self._reaches


def norm_of(a: np.ndarray) -> float:
    """The L2 norm of an array, summed in float64."""
    return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))


def param_names(params: Any) -> dict[int, str]:
    """id(tensor) -> name, from anything with `named_parameters()` (a Module) or a dict name -> Tensor."""
    if params is None:
        return {}
    pairs = params.named_parameters() if hasattr(params, "named_parameters") else params.items()
    return {id(t): str(name) for name, t in pairs}


def step_grads(*roots: Tensor, tensor: Tensor) -> dict[str, np.ndarray]:
    """Split d(sum of roots)/d(tensor) into what each time step contributes; the parts add up to it.

    This is BPTT's sum over time for a shared weight: ``{"rnn.t=0": dW_0, "rnn.t=1": dW_1, ...}``,
    keyed by the dotted name of the step's scope. A step's part is the gradient that the ops of that
    step send back to `tensor`, also through ops outside the steps that prepare it (``W_hh.T``, or an
    input projection computed once for all steps). Gradient that reaches `tensor` without passing
    through a time step (an output layer) is keyed by the dotted scope of the op that reads it ("" at
    the top level). Needs the graph: call it before ``backward()`` or after ``backward(retain_graph=True)``.
    `Graph.step_grads` does the same for several tensors of one graph without walking it again.

    Example: ``sum(step_grads(loss, tensor=w_hh).values())`` equals ``w_hh.grad`` after backward.
    """
    return Graph(roots).step_grads(tensor)


def detach_sources(leaves: Iterable[Tensor]) -> dict[int, Tensor | None]:
    """For each of `leaves` made by ``detach()``: id(leaf) -> the tensor it was cut from (None: freed).

    Reads ``leaf.detached_from``, which `Tensor.detach` sets (and indexing keeps: ``h.detach()[0]`` is
    cut too). A leaf made by hand from an op's values (``Tensor(h.numpy())``) records no source and is
    left out, like every leaf cut from nothing.
    """
    sources: dict[int, Tensor | None] = {}
    for x in leaves:
        if x.detached_from is not None:
            sources[id(x)] = x.detached_from()
    return sources
