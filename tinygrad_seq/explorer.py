"""The BPTT explorer: one self-contained HTML page to step through a recurrent model unrolled over time.

`explore` reads everything from the graph behind the loss. Two contracts say what is what, and the
explorer guesses nothing beyond them: the time steps of a loop run inside ``scope("t=k")``, and the
tensors it shows are tagged (`tinygrad_seq.tag`, see `tinygrad_seq.tags`): the state each step passes
on ("h", and "c" for an LSTM), the gates ("i", "f", "g", "o" / "r", "z", "n"), what the steps read
("input", per step or time-major for the loop) and the logits of the output distribution ("logits",
which `cross_entropy` tags, in the step or time-major after the loop). Every recurrent layer and cell
of `tinygrad_seq.nn` tags them; a hand-written loop tags its own. From the graph it then computes the
gradient reaching each step's state, and each parameter's gradient split by step with
`Graph.step_grads` (BPTT's sum: the shares add up to the gradient). `explore_page` draws the page.

    >>> from tinygrad_seq import graph
    >>> graph.explore(loss, params=model, path="out/bptt.html")  # doctest: +SKIP
    >>> graph.explore(loss_rnn, params=rnn, name="RNN", compare={"LSTM": (loss_lstm, lstm)},
    ...               path="out/rnn_vs_lstm.html")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .graph_analysis import Graph, norm_of, param_names, time_step
from .tags import GATES
from .tensor import Tensor

__all__ = ["analyse", "explore"]

_STATES = ("h", "c")  # the tags of the state a step passes on, in the order drawn
_LOW = {"g": -1.0, "n": -1.0}  # the candidates are tanh, in (-1, 1); the other gates sigmoids, in (0, 1)
_SHOWN_STATE_DIGITS = 4  # state, gate and input values are drawn as colours: 4 significant digits suffice


def explore(
    *roots: Tensor,
    params: Any = None,
    path: str | os.PathLike,
    name: str = "model",
    tokens: Sequence[str] | None = None,
    vocab: Sequence[str] | None = None,
    compare: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> str:
    """Write one self-contained HTML page exploring the unrolled graph behind `roots`; returns the path.

    The page needs no server and no network (the SVG, its data as JSON and a small script are inline).
    A time slider runs the forward pass step by step (the input, the hidden state as a colour strip,
    the output distribution), then the backward pass from the loss (the gradient norm reaching each
    step lights up as it arrives). A click on a parameter shows each step's share of its gradient as
    bars that add up to the whole gradient; a click on a step shows its gates and the gradient there.

    Example: ``explore(loss, params=model, path="out/bptt.html", tokens=list("hello"))``

    Parameters
    ----------
    roots
        the loss (or tensors whose sum is differentiated). Call before ``backward()``, or after
        ``backward(retain_graph=True)``: the page needs the graph.
    params
        a Module or a dict name -> Tensor naming the parameters.
    path
        the .html file to write (folders are created).
    name
        what to call this model on the page.
    tokens
        a label per time step (the characters read), shown above the steps.
    vocab
        labels of the output classes, for the output distribution.
    compare
        more models on the same input, drawn next to this one with the same slider:
        ``{"LSTM": (loss_lstm, lstm)}`` (name -> (root or tuple of roots, params)).
    title
        the page's title.
    """
    from .explore_page import page

    models = [analyse(*roots, params=params, name=name, tokens=tokens, vocab=vocab)]
    for other, (other_roots, other_params) in (compare or {}).items():
        other_roots = other_roots if isinstance(other_roots, tuple | list) else (other_roots,)
        models.append(analyse(*other_roots, params=other_params, name=other, tokens=tokens, vocab=vocab))
    text = page(models, title or "BPTT explorer: " + " vs ".join(m["name"] for m in models))
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def analyse(
    *roots: Tensor,
    params: Any = None,
    name: str = "model",
    tokens: Sequence[str] | None = None,
    vocab: Sequence[str] | None = None,
) -> dict:
    """What the explorer shows of one model, as plain JSON-able data (lists and floats).

    Keys: name, loss, T, steps ("t=0", ...), keys (their `step_grads` names), tokens, states (name,
    values per step (batch element 0), grad_norm per step), inputs and outputs per step (or None),
    gates per step ([{label, values, low}], low: -1 for the tanh candidates g and n, else 0),
    params ([{name, shape, total, shares: [{key, label, along, norm}]}]) where ``along`` is the share's
    component along the whole gradient: the ``along`` of the shares add up to ``total``
    (= ||gradient||), and ``norm`` is the share's own norm.
    """
    g = Graph(roots)
    if g.released:
        raise RuntimeError(
            "explore: the graph was released by backward(); call explore before backward(), or call "
            "backward(retain_graph=True)"
        )
    parent, ks = _unroll(g)
    T = len(ks)
    if tokens is not None and len(tokens) != T:
        raise ValueError(f"explore: {len(tokens)} tokens for {T} time steps")
    per_step, whole, outside = _tagged(g, parent, ks)
    states = [(s, [per_step[s].get(k) for k in ks]) for s in _STATES if s in per_step]
    if not states:
        where = ".".join(parent) or "the top level"
        raise ValueError(
            f"explore: the steps of {where} tag no state. Tag the state each step passes on, inside the "
            "step: h = tinygrad_seq.tag(h, 'h') (and 'c' for a cell state); the recurrent layers and "
            "cells of tinygrad_seq.nn do"
        )
    first = next(t for _, per in states for t in per if t is not None)
    batch = first.shape[0] if first.ndim > 1 else 1  # states are (B, H) or (H,)
    grads, _ = g.gradients()
    keys = [".".join(parent + (f"t={k}",)) for k in ks]
    loss = roots[0].item() if len(roots) == 1 and roots[0].size == 1 else None
    return {
        "name": name,
        "loss": loss,
        "T": T,
        "steps": [f"t={k}" for k in ks],
        "keys": keys,
        "tokens": None if tokens is None else [str(t) for t in tokens],
        "states": [
            {
                "name": state_name,
                "values": [None if t is None else _row(t.numpy(), batch) for t in per],
                "grad_norm": [None if t is None or id(t) not in grads else norm_of(grads[id(t)])
                              for t in per],
            }
            for state_name, per in states
        ],
        "inputs": _inputs(per_step.get("input", {}), whole.get("input"), ks, batch),
        "outputs": _outputs(per_step.get("logits", {}), outside, ks, batch, vocab),
        "gates": [
            [
                {"label": gate, "values": _row(per_step[gate][k].numpy(), batch), "low": _LOW.get(gate, 0.0)}
                for gate in GATES
                if k in per_step.get(gate, {})
            ]
            for k in ks
        ],
        "params": _shares(g, params, keys),
    }


# ---------------------------------------------------------------------------------------------
# reading the unroll and its tags from the graph
# ---------------------------------------------------------------------------------------------


def _unroll(g: Graph) -> tuple[tuple[str, ...], list[int]]:
    """(scope of the unrolled loop, its steps k in order) for the loop with the most steps."""
    unrolls: dict[tuple[str, ...], dict[int, None]] = {}
    for fn in g.order:
        s = time_step(fn.scope)
        if s:
            unrolls.setdefault(s[0], {})[s[1]] = None
    if not unrolls:
        fused = [".".join(scope) or "the top level" for t in _tensors(g) for scope, n in t.tags if n == "h"]
        raise ValueError(
            "explore: no time steps in this graph. The explorer shows recurrent models unrolled over time: "
            "each step's ops must run inside scope('t=k'), as the recurrent layers of tinygrad_seq.nn do"
            + (f"; the layer in {fused[0]} ran fused, as one node: set layer.fused = False to run the "
               "same weights step by step" if fused else "")
        )
    parent = max(unrolls, key=lambda p: len(unrolls[p]))  # the first of the longest, in topological order
    return parent, sorted(unrolls[parent])


def _tensors(g: Graph) -> list[Tensor]:
    """Every tensor of the graph once: the roots, then what the ops read, in topological order."""
    found = {id(t): t for t in g.roots}
    for fn in g.order:
        for x in fn.inputs:
            found.setdefault(id(x), x)
    return list(found.values())


def _tagged(
    g: Graph, parent: tuple[str, ...], ks: list[int]
) -> tuple[dict[str, dict[int, Tensor]], dict[str, Tensor], list[Tensor]]:
    """The tagged tensors (`tinygrad_seq.tags`) of one unroll: name -> step k -> tensor (the last in graph
    order, should a step tag a name twice), name -> the first tensor tagged in the loop's own scope, and
    the tensors tagged "logits" outside every step, in graph order."""
    per_step: dict[str, dict[int, Tensor]] = {}
    whole: dict[str, Tensor] = {}
    outside: list[Tensor] = []
    steps = set(ks)
    for t in _tensors(g):
        for scope, tag_name in t.tags:
            s = time_step(scope)
            if s is not None and s[0] == parent and s[1] in steps:
                per_step.setdefault(tag_name, {})[s[1]] = t
            elif scope == parent:
                whole.setdefault(tag_name, t)
            if s is None and tag_name == "logits":
                outside.append(t)
    return per_step, whole, outside


def _inputs(per_step: dict[int, Tensor], whole: Tensor | None, ks: list[int], batch: int) -> list | None:
    """The input of each step (batch element 0): the tensor tagged "input" in the step, or row k of the
    time-major one tagged in the loop's scope; None when neither is tagged."""
    if all(k in per_step for k in ks):
        return [_row(per_step[k].numpy(), batch) for k in ks]
    if whole is None:
        return None
    rows = [_time_row(whole.numpy(), k, len(ks), batch) for k in ks]
    return None if any(r is None for r in rows) else rows


def _time_row(a: np.ndarray, k: int, T: int, batch: int) -> list[float] | None:
    """Row k of a time-major array, batch element 0: a[k, 0] of (T, B, ...), a[k * B] of (T * B, ...)."""
    if a.shape and a.shape[0] == T:
        row = a[k]
        row = row[0] if row.ndim > 1 else row
    elif a.shape and a.shape[0] == T * batch:
        row = a[k * batch]
    else:
        return None
    return _round(np.ravel(row))


def _outputs(
    per_step: dict[int, Tensor], outside: list[Tensor], ks: list[int], batch: int, vocab: Sequence[str] | None
) -> list | None:
    """Each step's output distribution (batch element 0): the softmax of the tensor tagged "logits" in
    the step, or of time-major logits tagged after the loop ((T, ...) or (T * B, ...) rows)."""
    rows: list[np.ndarray | None] = [None] * len(ks)
    if all(k in per_step for k in ks):
        rows = [_probabilities(per_step[k])[0] for k in ks]
    else:
        for t in outside:
            probs = _probabilities(t)
            if len(probs) in (len(ks), len(ks) * batch):
                stride = len(probs) // len(ks)
                rows = [probs[j * stride] for j in range(len(ks))]
                break
    if all(r is None for r in rows):
        return None
    labels = [str(v) for v in vocab] if vocab is not None else None
    return [
        None
        if r is None
        else {
            "probs": _round(r),
            "labels": labels if labels and len(labels) == len(r) else [str(i) for i in range(len(r))],
        }
        for r in rows
    ]


def _probabilities(logits: Tensor) -> np.ndarray:
    """softmax(logits) over the class axis as `cross_entropy` reads it (axis 1; 0 for one example),
    as rows (N, classes)."""
    x = logits.numpy().astype(np.float64)
    axis = 0 if x.ndim == 1 else 1
    p = np.exp(x - x.max(axis=axis, keepdims=True))
    p = np.moveaxis(p / p.sum(axis=axis, keepdims=True), axis, -1)
    return p.reshape(-1, p.shape[-1])


def _shares(g: Graph, params: Any, keys: list[str]) -> list[dict]:
    """Each parameter's gradient split by time step (`Graph.step_grads`), with the shares' components.

    A parameter used in the steps lists every step (zero where a step sends it nothing), then any part
    that reaches it from outside the steps (an output layer); one used only outside lists those parts.
    Named parameters come in the order of `params`, the others after them in the graph's order.
    """
    names = param_names(params)
    rank = {i: j for j, i in enumerate(names)}
    found = [t for t in g.leaves.values() if t.requires_grad]
    found.sort(key=lambda t: rank.get(id(t), len(rank)))  # stable: unnamed ones keep the graph's order
    out = []
    for j, p in enumerate(found):
        parts = g.step_grads(p)
        total = sum(parts.values(), np.zeros(p.shape, dtype=np.float64))
        size = norm_of(total)
        shown = (keys if any(key in parts for key in keys) else []) + [
            key for key in parts if key not in keys
        ]
        shares = []
        for key in shown:
            part = parts.get(key, np.zeros(p.shape))
            along = float(np.vdot(part.astype(np.float64), total) / size) if size > 0 else 0.0
            label = key.rsplit(".", 1)[-1] if key in keys else key or "outside the steps"
            shares.append({"key": key, "label": label, "along": along, "norm": norm_of(part)})
        out.append(
            {
                "name": names.get(id(p), f"parameter {j}"),
                "shape": list(p.shape),
                "total": size,
                "shares": shares,
            }
        )
    return out


def _row(a: np.ndarray, batch: int) -> list[float]:
    """Batch element 0 of a state (B, H) (or the state itself when it has no batch axis), rounded."""
    return _round(np.ravel(a[0] if a.ndim > 1 and a.shape[0] == batch else a))


def _round(a: np.ndarray) -> list[float]:
    return [float(f"{v:.{_SHOWN_STATE_DIGITS}g}") for v in np.asarray(a, dtype=np.float64)]
