"""The check shared by every exercise with a forward and a backward: outputs first, then each gradient.

The learner's forward is compared with the project's own reference (an `nn` layer or a composition of
engine ops) on small shapes in float64; then each gradient their backward returns, by its name in the
stub (``dW_hh``), against the engine's gradient of the reference, quoting central differences of the
learner's own forward at the wrong element. A `Function` is run the way the engine runs it in a
first-order pass (arrays in, arrays out), so the check does not depend on the engine's internals.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_seq import Function, Tensor, grad

from .compare import Layout, compare
from .report import Failed, call

__all__ = ["Context", "Signature", "check_forward_backward", "draw_wrong_node", "new_node", "outputs_of",
           "raise_first", "sizes"]

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Signature:
    """The positional inputs of forward (name -> layout) and its outputs, in order."""

    inputs: dict[str, Layout]
    outputs: dict[str, Layout]

    @property
    def grads(self) -> list[str]:
        return [f"d{name}" for name in self.inputs]


def sizes(rng: np.random.Generator, first: dict[str, int], ranges: dict[str, tuple[int, int]]
          ) -> list[dict[str, int]]:
    """The shape cases: `first` (small, every size different so a transpose shows), then one drawn."""
    drawn = {k: int(rng.integers(lo, hi + 1)) for k, (lo, hi) in ranges.items()}
    return [first, drawn]


def new_node(cls: type[Function], inputs: int) -> Function:
    """A fresh node of a learner's Function, set up as `apply` sets one up before a first-order pass."""
    node = cls.__new__(cls)
    node.needs_input_grad = (True,) * inputs  # every input is checked
    node.create_graph = False
    return node


def outputs_of(result: Any, names: Sequence[str], what: str) -> tuple[np.ndarray, ...]:
    """A forward's result as a tuple of arrays, one per expected output (or Failed saying what came back)."""
    values = result if isinstance(result, tuple | list) else (result,)
    if len(values) != len(names):
        raise Failed([f"{what} returned {len(values)} value{'s' * (len(values) != 1)}, it should return "
                      f"{len(names)}: {', '.join(names)}"])
    return tuple(np.asarray(v.data if isinstance(v, Tensor) else v, dtype=np.float64) for v in values)


def raise_first(wrong: dict[str, Failed], names: Sequence[str], first: str | None = None, prefix: str = "",
                *tail: str) -> None:
    """Raise the failure of `first` (else the first wrong one of `names`), naming the wrong and right ones."""
    if not wrong:
        return
    shown = wrong[first or next(n for n in names if n in wrong)]
    right = [n for n in names if n not in wrong]
    summary = f"  wrong: {', '.join(n for n in names if n in wrong)}"
    summary += f"; right: {', '.join(right)}" if right else ""
    said: dict[str, list[str]] = {}  # what the numbers say about the others -> which ones
    for n, f in wrong.items():
        notes = [t.strip() for t in f.lines[1:] if not t.strip().startswith("central differences")]
        text = notes[0] if notes else ""
        if f is not shown and text and not text.startswith(("wrong at", "only time", "(")) \
                and not text.endswith("elements are wrong"):
            said.setdefault(text, []).append(n)
    said_first = next((t.strip() for t in shown.lines[1:] if not t.startswith("  central differences")), "")
    others = [f"  {', '.join(ns)}: the same" if text == said_first else f"  {', '.join(ns)}: {text}"
              for text, ns in said.items()]
    raise Failed([prefix + shown.lines[0], *shown.lines[1:], summary, *others[:3], *tail])


def _central(forward: Callable[..., tuple[np.ndarray, ...]], arrays: list[np.ndarray], which: int,
             douts: tuple[np.ndarray, ...], eps: float = 1e-6) -> Callable[[tuple[int, ...]], float]:
    """index -> (L(x + eps e) - L(x - eps e)) / 2 eps of L = sum(outputs * douts), along input `which`."""

    def at(index: tuple[int, ...]) -> float:
        total = 0.0
        for sign in (1.0, -1.0):
            moved = [a.copy() for a in arrays]
            moved[which][index] += sign * eps
            outs = forward(*moved)
            total += sign * sum(float(np.sum(o * d)) for o, d in zip(outs, douts))
        return total / (2 * eps)

    return at


def check_forward_backward(sig: Signature, cls: type[Function], reference: Callable[..., Any],
                           cases: Sequence[Arrays], params: dict[str, Any] | None = None,
                           known: Callable[[Arrays, str], list[tuple[np.ndarray, str]]] | None = None,
                           ) -> list[str]:
    """Check forward, then backward, of the learner's Function `cls` on each case; the lines a pass prints.

    `reference(*tensors, **params)` computes the same outputs with engine ops. `known(case, name)` lists
    wrong answers the exercise knows a mistake for.
    """
    params = params or {}
    names_in, names_out = list(sig.inputs), list(sig.outputs)

    def make_node() -> Function:
        return new_node(cls, len(names_in))

    for number, case in enumerate(cases, 1):
        shapes = ", ".join(f"{k} {v.shape}" for k, v in case.items())
        arrays = [case[k] for k in names_in]
        node = make_node()
        mine = outputs_of(call("forward", node.forward, *[a.copy() for a in arrays], **params), names_out,
                          "forward")
        tensors = [Tensor(a, requires_grad=True) for a in arrays]
        ref = reference(*tensors, **params)
        ref = ref if isinstance(ref, tuple) else (ref,)
        try:
            for name, out, want in zip(names_out, mine, ref):
                compare(name, out, want.data, sig.outputs[name], known=known(case, name) if known else ())
        except Failed as failure:
            where = f"  (case {number}: {shapes})"
            raise Failed([f"forward: {failure.lines[0]}", *failure.lines[1:], where]) from None
        rng = np.random.default_rng(number)
        douts = tuple(rng.standard_normal(w.shape) for w in ref)
        want_grads = grad(list(ref), tensors, grad_outputs=[Tensor(d) for d in douts])
        returned = call("backward", node.backward, *[d.copy() for d in douts])
        got: tuple[Any, ...] = tuple(returned) if isinstance(returned, tuple | list) else (returned,)
        if len(got) != len(names_in):
            raise Failed([f"backward returned {len(got)} gradient{'s' * (len(got) != 1)}; it must return "
                          f"one per input of forward, in order: {', '.join(sig.grads)}"])

        def fresh_forward(*xs: np.ndarray) -> tuple[np.ndarray, ...]:
            return outputs_of(make_node().forward(*xs, **params), names_out, "forward")

        wrong: dict[str, Failed] = {}
        for k, (name, g, w) in enumerate(zip(sig.grads, got, want_grads)):
            lay = Layout(sig.inputs[names_in[k]].axes, of=f"{names_in[k]} {arrays[k].shape}")
            try:
                compare(name, g, w.data, lay, numeric=_central(fresh_forward, arrays, k, douts),
                        known=known(case, name) if known else ())
            except Failed as failure:
                wrong[name] = failure
        # a gradient packed by gate says which gate is wrong: show that one first
        gated = [n for n in wrong if any(a.gates for a in sig.inputs[n[1:]].axes)]
        case_line = f"  (case {number}: {shapes})"
        raise_first(wrong, sig.grads, gated[0] if gated else None, "backward: ", case_line)
    return [f"forward ({', '.join(names_out)}) and every gradient ({', '.join(sig.grads)}) match the "
            f"reference on {len(cases)} shape cases in float64"]


@dataclass
class Context:
    """What a check may use besides the learner's code: where to draw pictures (None: draw none)."""

    pictures: str | None = None
    seed: int = 0  # another seed draws other shapes and values (the tests vary it)
    picture: str | None = None  # set by a check that drew one
    notes: list[str] | None = None

    def rng(self, stream: int) -> np.random.Generator:
        """The generator of one check's random stream (`stream`: which one), under this context's seed."""
        return np.random.default_rng(stream if self.seed == 0 else [stream, self.seed])


def draw_wrong_node(ctx: Context, name: str, run: Callable[..., Tensor],
                    arrays: dict[str, np.ndarray]) -> None:
    """Gradcheck `run` (a loss over an unrolled graph, its inputs by name) with localization; draw it, the
    wrong node in red, its inputs named.

    Adds to ctx.notes the engine's one-line verdict (which op, in which scope) and sets ctx.picture.
    """
    from tinygrad_seq import gradcheck  # noqa: PLC0415
    from tinygrad_seq.graph import GraphvizNotFound, render  # noqa: PLC0415

    try:
        report = gradcheck(run, list(arrays.values()), localize=True, raise_exception=False)
    except Exception:  # the learner's code failed inside the engine: the check's own message says why
        return
    if report or report.localized is None or not report.localized.failed:
        return
    node = report.localized.failed[0]
    steps = len(next(iter(arrays.values())))
    ctx.notes = [f"the engine's check of {name} unrolled over {steps} steps: op '{node.op}' in scope "
                 f"'{node.scope_name}' is the first whose backward disagrees with its own forward"]
    if ctx.pictures is None:
        return
    tensors = {k: Tensor(a, requires_grad=True) for k, a in arrays.items()}
    path = os.path.join(ctx.pictures, f"{name}.svg")
    try:
        loss = run(*tensors.values())
        ctx.picture = render(loss, path=path, highlight=report, show_grad=False, params=tensors)
    except GraphvizNotFound:
        ctx.picture = os.path.splitext(path)[0] + ".dot"
