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
    targets: Sequence[int] | np.ndarray | None = None,
    loss_text: str | None = None,
    compare: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> str:
    """Write one self-contained HTML page exploring the unrolled graph behind `roots`; returns the path.

    The page needs no server and no network (the SVG, its data as JSON and a small script are inline).
    A time slider runs the forward pass step by step (the input, the hidden state as a colour strip,
    the output distribution), then the backward pass from the loss (the gradient norm reaching each
    step lights up as it arrives). A click on a parameter shows each step's share of its gradient as
    bars that add up to the whole gradient; a click on a step shows its gates and the gradient there.
    Hovering a cell names its unit and value; a click on a cell of h or c follows that unit over time.
    The page states the loss and each step's equations; when the steps have losses of their own
    (cross-entropies inside the steps), a choice of one term L_t shows its gradient alone.

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
    targets
        the class each step should predict (batch element 0), marked in its output distribution.
    loss_text
        what the loss is, in words, shown on the page (every model); by default it is read from the
        graph: a cross-entropy (or a sum of the steps' cross-entropies) is named as such.
    compare
        more models on the same input, drawn next to this one with the same slider:
        ``{"LSTM": (loss_lstm, lstm)}`` (name -> (root or tuple of roots, params)).
    title
        the page's title.
    """
    from .explore_page import page

    shared: dict[str, Any] = {"tokens": tokens, "vocab": vocab, "targets": targets, "loss_text": loss_text}
    models = [analyse(*roots, params=params, name=name, **shared)]
    for other, (other_roots, other_params) in (compare or {}).items():
        other_roots = other_roots if isinstance(other_roots, tuple | list) else (other_roots,)
        models.append(analyse(*other_roots, params=other_params, name=other, **shared))
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
    targets: Sequence[int] | np.ndarray | None = None,
    loss_text: str | None = None,
) -> dict:
    """What the explorer shows of one model, as plain JSON-able data (lists and floats).

    Keys: name, loss, loss_text (what the loss is), equations (a step's, as lines of text), T, steps
    ("t=0", ...), keys (their `step_grads` names), tokens, targets (class per step, or None), states
    (name, values per step (batch element 0), grad_norm per step), inputs and outputs per step (or
    None), gates per step ([{label, values, low}], low: -1 for the tanh candidates g and n, else 0),
    params ([{name, shape, total, in_loop, shares: [{key, label, along, norm}]}]) where ``along`` is the
    share's component along the whole gradient: the ``along`` of the shares add up to ``total``
    (= ||gradient||), and ``norm`` is the share's own norm; terms: the steps' own losses L_t (tagged
    "loss" inside the steps), each [{label, step, value, grad_norm per state, params: [{total,
    shares: [[along, norm]]}]}] as if it alone were the loss, in the order of ``params``' shares.
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
    if targets is not None and len(targets) != T:
        raise ValueError(f"explore: {len(targets)} targets for {T} time steps (one class per step)")
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
    params_found = _shares(g, params, keys)
    terms = _terms(per_step.get("loss", {}), ks, states, params, keys, params_found)
    return {
        "name": name,
        "loss": loss,
        "loss_text": loss_text or _loss_text(roots, loss, terms),
        "equations": _equations(per_step, states),
        "T": T,
        "steps": [f"t={k}" for k in ks],
        "keys": keys,
        "tokens": None if tokens is None else [str(t) for t in tokens],
        "targets": None if targets is None else [int(t) for t in targets],
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
        "params": params_found,
        "terms": terms,
    }


# ---------------------------------------------------------------------------------------------
# what the loss and the steps compute, in words
# ---------------------------------------------------------------------------------------------

_EQUATIONS = {
    "lstm": ("i, f, o = σ(W_i·[x_t, h_(t-1)] + b), one each; g = tanh(W_g·[x_t, h_(t-1)] + b_g)",
             "c_t = f ⊙ c_(t-1) + i ⊙ g   (the forget gate f keeps the old cell, the input gate i writes g)",
             "h_t = o ⊙ tanh(c_t)   (the output gate o decides what the cell shows)"),
    "gru": ("r, z = σ(W_r·[x_t, h_(t-1)] + b_r), σ(W_z·[x_t, h_(t-1)] + b_z)",
            "n = tanh(W_n x_t + b_n + r ⊙ (U_n h_(t-1) + c_n))   (the reset gate r forgets the old state)",
            "h_t = (1 − z) ⊙ n + z ⊙ h_(t-1)   (the update gate z near 1 copies the old state)"),
}


def _equations(per_step: dict[str, dict[int, Tensor]], states: list) -> list[str]:
    """A step's equations, from its tags: an LSTM's (i, f, g, o), a GRU's (r, z, n), else a plain RNN's
    with the activation read from the op that made h."""
    if all(gate in per_step for gate in "ifgo"):
        lines = list(_EQUATIONS["lstm"])
    elif all(gate in per_step for gate in "rzn"):
        lines = list(_EQUATIONS["gru"])
    else:
        h = next((t for t in states[0][1] if t is not None and t.grad_fn is not None), None)
        act = type(h.grad_fn).__name__.lower() if h is not None else "f"
        act = act if act in ("tanh", "relu", "sigmoid") else "f"
        lines = [f"h_t = {act}(W_ih x_t + W_hh h_(t-1) + b)   (a plain RNN: no gates)"]
    if "logits" in per_step:
        lines.append("p_t = softmax(logits_t), logits_t a linear map of h_t: the next class's probabilities")
    return lines


def _loss_text(roots: Sequence[Tensor], loss: float | None, terms: list[dict]) -> str:
    """What the loss is, from the graph: a tagged cross-entropy, a sum of the steps' ones, or unnamed."""
    if loss is None:
        return "the sum of the roots given (no single loss value)"
    if any(name == "loss" for _, name in roots[0].tags):
        return (f"L = {loss:.4g}: the cross-entropy, the mean over the predictions of −log p(target) "
                "(in nats; 0 when every target gets probability 1, so never negative)")
    if terms and np.isclose(loss, sum(term["value"] for term in terms), rtol=1e-9, atol=1e-12):
        last = terms[-1]["label"]
        return (f"L = {loss:.4g} = L_0 + … + {last}: the sum of the steps' losses, each L_t the "
                "cross-entropy −log p_t(target) of step t's prediction (in nats, never negative)")
    op = type(roots[0].grad_fn).__name__.lower() if roots[0].grad_fn is not None else "a leaf"
    return (f"L = {loss:.4g}: the graph's root (its last op: {op}); not a cross-entropy, so it can be any "
            "number, negative too: only its gradient matters here")


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
                "in_loop": any(key in parts for key in keys),
                "shares": shares,
            }
        )
    return out


_MOST_TERMS = 64  # a term costs a backward pass of its own: beyond this many the page offers none


def _terms(losses: dict[int, Tensor], ks: list[int], states: list, params: Any, keys: list[str],
           whole: list[dict]) -> list[dict]:
    """The steps' own losses (scalars tagged "loss" inside the steps), each differentiated alone: the
    gradient norm reaching each state and each parameter's step shares, aligned with `whole`'s shares."""
    found = [(k, losses[k]) for k in ks if k in losses and losses[k].size == 1]
    if len(found) < 2 or len(found) > _MOST_TERMS:
        return []
    out = []
    for k, term in found:
        g = Graph((term,))
        grads, _ = g.gradients()
        by_name = {p["name"]: {s["key"]: (s["along"], s["norm"]) for s in p["shares"]}
                   for p in _shares(g, params, keys)}
        out.append({
            "label": f"L_{k}",
            "step": ks.index(k),
            "value": term.item(),
            "grad_norm": [[None if t is None else norm_of(grads[id(t)]) if id(t) in grads else 0.0
                           for t in per] for _, per in states],
            "params": [{"total": _total(by_name.get(p["name"], {})),  # 0 for one this term never reaches
                        "shares": [list(by_name.get(p["name"], {}).get(s["key"], (0.0, 0.0)))
                                   for s in p["shares"]]}
                       for p in whole],
        })
    return out


def _total(shares: dict[str, tuple[float, float]]) -> float:
    """||gradient|| from its shares: the components along the gradient add up to its norm."""
    return float(sum(along for along, _ in shares.values()))


def _row(a: np.ndarray, batch: int) -> list[float]:
    """Batch element 0 of a state (B, H) (or the state itself when it has no batch axis), rounded."""
    return _round(np.ravel(a[0] if a.ndim > 1 and a.shape[0] == batch else a))


def _round(a: np.ndarray) -> list[float]:
    return [float(f"{v:.{_SHOWN_STATE_DIGITS}g}") for v in np.asarray(a, dtype=np.float64)]
