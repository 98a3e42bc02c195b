"""Which node of a graph has a wrong backward: every node's backward checked against its own forward.

When ``gradcheck(fn, inputs, localize=True)`` fails, `localize` runs fn once, walks the graph behind its
output in topological order (iteratively) and gradchecks each node alone, on the input values that node
saw: the analytic gradient from the node's backward against central differences of the node's forward
(its op run again, with the same keyword arguments, on float64 copies of those inputs). Small nodes
compare their whole Jacobian, large ones a random projection <u, J v> (then the worst element is found
coordinate by coordinate). Since every node is checked on its own inputs, an error upstream cannot leak
into it: the first failing node in topological order is the op to fix. A node whose one-sided
differences disagree (relu at 0, a tie in max, abs at 0, clip at a bound) is not differentiable at that
point and is skipped, not failed. Each node is named by its op, its scope (``lstm/l0/t=3``) and the line
of user code that created it.

    >>> import numpy as np
    >>> from tinygrad_seq import Function, Tensor, gradcheck
    >>> class Cube(Function):
    ...     def forward(self, x):
    ...         self.save_for_backward(x)
    ...         return x ** 3
    ...     def backward(self, grad):
    ...         (x,) = self.saved_tensors
    ...         return grad * 2 * x ** 2    # should be 3 x^2
    >>> report = gradcheck(lambda x: Cube.apply(x.tanh()).sum(), [np.array([0.5, -1.0])],
    ...                    localize=True, raise_exception=False)
    >>> [(n.op, n.status) for n in report.localized.failed]
    [('Cube', 'failed')]
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .autograd import Function, enable_grad, record_sites
from .finite_differences import call_with, check_inputs, prepare_inputs
from .gradcheck_report import InputCheck
from .graph_analysis import Graph
from .tensor import Tensor, concatenate

__all__ = ["Localization", "NodeCheck", "localize"]

_FULL_OUT, _FULL_IN = 64, 128  # a node with at most this many output / checked input elements: full Jacobian
_SHOW = 3  # failing (and skipped) nodes described in full; the rest are listed by scope


@dataclass
class NodeCheck:
    """The local check of one node that failed or was skipped.

    `position` is its place in topological order; (`op`, `scope`, `ordinal`) names the same node in
    another run of the same code (`ordinal`: its rank among the nodes with that op and scope).
    """

    position: int
    op: str
    scope: tuple[str, ...]
    ordinal: int
    created_at: str | None
    status: str  # "failed" or "skipped"
    reason: str  # one line: what disagreed, or why it could not be checked
    check: InputCheck | None = None  # the input and element that went wrong (None: the check raised)

    @property
    def key(self) -> tuple[str, tuple[str, ...], int]:
        return self.op, self.scope, self.ordinal

    @property
    def scope_name(self) -> str:
        return "/".join(self.scope) or "<top level>"

    def describe(self, total: int) -> list[str]:
        """The lines that say which node, where it was made, what disagreed and what to look at."""
        lines = [f"{self.status.upper()} node {self.position} of {total}: op '{self.op}' in scope "
                 f"'{self.scope_name}'", f"  created at {_short(self.created_at)}", f"  {self.reason}"]
        if self.status == "failed" and self.check is not None:
            c = self.check
            ratio = f" (backward / differences = {c.analytic / c.numeric:.4g} there)" if c.numeric else ""
            lines.append(f"  look at {self.op}.backward, the gradient it returns for input {c.index}{ratio}: "
                         "this op's own forward, checked alone on the values it saw, disagrees with it, so "
                         "the error is in this op, not upstream")
        elif self.status == "failed":
            lines.append(f"  look at {self.op}.backward")
        return lines


@dataclass
class Localization:
    """Every node of fn's graph checked alone: the ones that failed and the ones skipped, in order."""

    nodes: int = 0  # nodes checked
    projected: int = 0  # of them, checked by random projections (large nodes)
    seconds: float = 0.0
    failed: list[NodeCheck] = field(default_factory=list)
    skipped: list[NodeCheck] = field(default_factory=list)
    problem: str | None = None

    def __str__(self) -> str:
        if self.problem is not None:
            return f"  localization: {self.problem}"
        how = f"; {self.projected} large ones by random projections" if self.projected else ""
        lines = [f"  localization: each of the {self.nodes} nodes of fn's graph checked alone (its backward "
                 f"against central differences of its own forward, on the inputs it saw{how}) in "
                 f"{self.seconds:.2g} s: {len(self.failed)} failed, {len(self.skipped)} skipped"]
        groups = _groups(self.failed)  # one per op and line of code, in order of their first node
        for nodes in groups[:_SHOW]:
            lines += ["    " + s for s in nodes[0].describe(self.nodes)]
            if len(nodes) > 1:
                more = len(nodes) - 1
                lines.append(f"      the same op fails at {more} more node{'s' * (more > 1)}, "
                             f"in {_scopes(nodes[1:])}")
        lines += _rest("also failed", [n for nodes in groups[_SHOW:] for n in nodes])
        if not self.failed and self.skipped:
            lines.append("    no node's backward disagrees with its own forward, but the nodes skipped below "
                         "sit on a kink, where no gradient matches both sides: check fn at another point")
        elif not self.failed:
            lines.append("    no node's backward disagrees with its own forward: look at how fn joins them, "
                         "where the value flows but the gradient does not (.detach(), arithmetic on .data or "
                         ".numpy(), a Tensor built from another's values) or at randomness")
        groups = _groups(self.skipped)
        for nodes in groups[:_SHOW]:
            n = nodes[0]
            others = f" (and {len(nodes) - 1} more, in {_scopes(nodes[1:])})" if len(nodes) > 1 else ""
            head = f"SKIPPED node {n.position}: op '{n.op}' in scope '{n.scope_name}'{others}"
            lines.append(f"    {head} created at {_short(n.created_at)}: {n.reason}")
        lines += _rest("also skipped", [n for nodes in groups[_SHOW:] for n in nodes])
        return "\n".join(lines)

    def marks(self, order: Sequence[Function]) -> dict[int, NodeCheck]:
        """id(node) -> its check, for the nodes of `order` (a topological order, possibly of another run of
        the same code) that failed or were skipped."""
        wanted = {n.key: n for n in self.skipped + self.failed}
        seen: Counter = Counter()
        found = {}
        for fn in order:
            key = (fn.name, fn.scope)
            if key + (seen[key],) in wanted:
                found[id(fn)] = wanted[key + (seen[key],)]
            seen[key] += 1
        return found


def _short(where: str | None) -> str:
    """A creation site with its file relative to the working directory when it lies below it."""
    if not where:
        return "<unknown>"
    path, sep, rest = where.partition(":")
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return (rel if not rel.startswith("..") else path) + sep + rest


def _groups(nodes: list[NodeCheck]) -> list[list[NodeCheck]]:
    """The nodes grouped by op and creation line, groups in the order of their first node."""
    groups: dict[tuple, list[NodeCheck]] = {}
    for n in nodes:
        groups.setdefault((n.op, n.created_at), []).append(n)
    return list(groups.values())


def _scopes(nodes: list[NodeCheck], shown: int = 8) -> str:
    names = [n.scope_name for n in nodes]
    return ", ".join(names[:shown]) + (f", ... ({len(names) - shown} more)" if len(names) > shown else "")


def _rest(what: str, nodes: list[NodeCheck]) -> list[str]:
    """One line per op listing the scopes of nodes not described in full."""
    by_op: dict[str, list[NodeCheck]] = {}
    for n in nodes:
        by_op.setdefault(n.op, []).append(n)
    return [f"    {what}: {len(ns)} node{'s' * (len(ns) > 1)} of op '{op}', in {_scopes(ns)}"
            for op, ns in by_op.items()]


def _check_node(node: Function, eps: float, atol: float, rtol: float, fast: bool,
                seed: int) -> tuple[str, str, InputCheck | None] | None:
    """(status, reason, the failing input's check) when `node` fails or is skipped; None when it passes."""
    op, params = type(node), node.params

    def run(*xs: Any) -> Tensor:
        out = op.apply(*xs, **params)
        if isinstance(out, tuple):  # several outputs: checked together, as one flat vector
            return concatenate([o.reshape(-1) for o in out if o.dtype.kind == "f"])
        return out

    try:
        report = check_inputs(run, list(node.inputs), eps, atol, rtol, fast, seed, title=node.name)
    except Exception as err:  # a backward that raises is as wrong as one that returns a wrong number
        return "failed", f"checking it raised {type(err).__name__}: {err}", None
    if report.problems:
        return "skipped", f"cannot be checked alone: {report.problems[0]}", None
    kinked = next((c for c in report.checks if c.kink is not None), None)
    if kinked is not None:
        at = f"element {kinked.kink}" if isinstance(kinked.kink, tuple) else kinked.kink
        left, right = kinked.slopes
        return "skipped", (f"not differentiable at the point it saw: input {kinked.index} (shape "
                           f"{kinked.shape}) {at}, one-sided differences {left:.4g} from the left and "
                           f"{right:.4g} from the right"), kinked
    if report.failures:
        return "failed", report.failures[0].describe("backward", "differences"), report.failures[0]
    return None


def localize(fn: Callable[..., Tensor], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
             rtol: float = 1e-3, seed: int = 0) -> Localization:
    """Check every node of fn's graph alone, on the inputs it saw; list those that fail or are skipped.

    Inputs as for `gradcheck` (copied to float64). Nodes whose output has at most 64 elements and whose
    checked inputs at most 128 compare their whole Jacobian; larger ones compare a random projection
    (`seed`). Usually reached through ``gradcheck(fn, inputs, localize=True)``.

    Example: ``localize(lambda x, w: model(x, w).sum(), [x, w]).failed[0].scope``
    """
    start = time.perf_counter()
    inputs = [inputs] if isinstance(inputs, Tensor | np.ndarray) else list(inputs)
    values, kinds, _ = prepare_inputs(inputs)
    with enable_grad(), record_sites():
        out, _ = call_with(fn, values, kinds)
    found = Localization()
    if not isinstance(out, Tensor) or out.grad_fn is None:
        found.problem = "fn's output has no graph behind it (nothing it returns depends on a checked input)"
        return found
    ordinals: Counter = Counter()
    with np.errstate(all="ignore"):  # perturbed points may leave an op's domain; the check reports it
        graph = Graph([out])
        for position, node in enumerate(graph.order):
            ordinal = ordinals[node.name, node.scope]
            ordinals[node.name, node.scope] += 1
            checked = sum(x.size for x in node.inputs if x.requires_grad)
            large = sum(t.size for t in graph.outputs[id(node)].values()) > _FULL_OUT or checked > _FULL_IN
            found.nodes += 1
            found.projected += large
            result = _check_node(node, eps, atol, rtol, large, seed + position)
            if result is not None:
                status, reason, check = result
                entry = NodeCheck(position, node.name, node.scope, ordinal, node.created_at, status, reason,
                                  check)
                (found.failed if status == "failed" else found.skipped).append(entry)
    found.seconds = time.perf_counter() - start
    return found

