"""The checks of the RNN exercises: a step forward, its backward, BPTT, clipping, truncated BPTT."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_seq import Tensor, grad, scope
from tinygrad_seq import functional as F
from tinygrad_seq.nn import RNNCell
from tinygrad_seq.nn.recurrent import rnn_tanh_step
from tinygrad_seq.nn.utils import clip_grad_norm_

from .checking import (
    Context,
    Signature,
    check_forward_backward,
    draw_wrong_node,
    outputs_of,
    raise_first,
    sizes,
)
from .compare import Axis, compare, layout
from .report import Failed, call

__all__ = ["check_bptt", "check_clipping", "check_rnn_step", "check_rnn_step_backward",
           "check_truncated_bptt"]

BH = layout("batch", "unit")
STEPS = Axis("time step", time="backward")


def _rnn_case(rng: np.random.Generator, B: int, D: int, H: int,
              T: int | None = None) -> dict[str, np.ndarray]:
    lead = (B,) if T is None else (T, B)
    return {"x": rng.standard_normal((*lead, D)), "h_prev": rng.standard_normal((B, H)) * 0.5,
            "W_xh": rng.standard_normal((D, H)) * 0.5, "W_hh": rng.standard_normal((H, H)) * 0.5,
            "b": rng.standard_normal(H) * 0.5}


def _cases(rng: np.random.Generator, T: int | None = None) -> list[dict[str, np.ndarray]]:
    shapes = sizes(rng, {"B": 2, "D": 3, "H": 4}, {"B": (1, 4), "D": (1, 5), "H": (2, 6)})
    return [_rnn_case(rng, **s, T=T) for s in shapes]


def rnn_reference(x: Tensor, h_prev: Tensor, W_xh: Tensor, W_hh: Tensor, b: Tensor) -> Tensor:
    """The project's own RNN step (nn.recurrent), in this exercise's layout (x @ W_xh, not W_ih x)."""
    (h,) = rnn_tanh_step(x @ W_xh + b, (h_prev,), W_hh, None)
    return h


def check_rnn_step(ns: dict[str, Any], ctx: Context) -> list[str]:
    """one_hot against functional.one_hot; rnn_step_forward against nn.RNNCell with the same weights."""
    ids = np.array([2, 0, 3, 3])
    got = call("one_hot", ns["one_hot"], ids.copy(), 5)
    compare("one_hot(ids, 5)", got, F.one_hot(ids, 5, dtype=np.float64).numpy(), layout("row", "token"))
    for number, case in enumerate(_cases(ctx.rng(1)), 1):
        n_in, n_hidden = case["W_xh"].shape
        cell = RNNCell(n_in, n_hidden, dtype=np.float64)
        cell.load_state_dict({"weight_ih": case["W_xh"].T, "weight_hh": case["W_hh"].T, "bias_ih": case["b"],
                              "bias_hh": np.zeros_like(case["b"])})
        want = cell(Tensor(case["x"]), Tensor(case["h_prev"])).numpy()
        args = [a.copy() for a in case.values()]
        mine = outputs_of(call("rnn_step_forward", ns["rnn_step_forward"], *args),
                          ["h_next"], "rnn_step_forward")[0]
        try:
            compare("h_next", mine, want, BH)
        except Failed as wrong:
            raise Failed([*wrong.lines, f"  (case {number}: x {case['x'].shape}, h_prev "
                                        f"{case['h_prev'].shape})"]) \
                from None
    return ["one_hot and h_next match nn.RNNCell with the same weights, on 2 shape cases"]


RNN_SIGNATURE = Signature(
    inputs={"x": layout("batch", "input"), "h_prev": BH, "W_xh": layout("row", "column"),
            "W_hh": layout("row", "column"), "b": layout("unit")},
    outputs={"h_next": BH})


def check_rnn_step_backward(ns: dict[str, Any], ctx: Context) -> list[str]:
    """RNNStep's forward and each gradient of its backward; on failure, the unrolled graph drawn."""
    cls = ns["RNNStep"]
    cases = _cases(ctx.rng(2))
    try:
        return check_forward_backward(RNN_SIGNATURE, cls, rnn_reference, cases)
    except Failed as wrong:
        if not wrong.lines[0].startswith("backward"):
            raise
        case = cases[0]
        xs = np.stack([case["x"]] * 3) * np.array([1.0, -0.5, 0.8])[:, None, None]

        def unrolled(xs: Tensor, h: Tensor, W_xh: Tensor, W_hh: Tensor, b: Tensor) -> Tensor:
            for t in range(xs.shape[0]):
                with scope(f"t={t}"):
                    h = cls.apply(xs[t], h, W_xh, W_hh, b)
            return h.sum()

        draw_wrong_node(ctx, "rnn_step_backward", unrolled, {"xs": xs} | {k: case[k] for k in list(case)[1:]})
        raise


def _unrolled(xs: Tensor, h0: Tensor, W_xh: Tensor, W_hh: Tensor, b: Tensor) -> list[Tensor]:
    hs, h = [], h0
    for t in range(xs.shape[0]):
        h = rnn_reference(xs[t], h, W_xh, W_hh, b)
        hs.append(h)
    return hs


def check_bptt(ns: dict[str, Any], ctx: Context) -> list[str]:
    """rnn_forward's hs, then rnn_backward's gradients by time step; weight gradients by each step's share."""
    names = ["dxs", "dh0", "dW_xh", "dW_hh", "db"]
    for number, case in enumerate(_cases(ctx.rng(3), T=4), 1):
        T = case["x"].shape[0]
        xs, h0 = Tensor(case["x"], requires_grad=True), Tensor(case["h_prev"], requires_grad=True)
        weights = {k: [Tensor(case[k], requires_grad=True) for _ in range(T)] for k in ("W_xh", "W_hh", "b")}
        hs, h = [], h0  # each step its own copy of the weights: their gradients are the steps' shares
        for t in range(T):
            h = rnn_reference(xs[t], h, weights["W_xh"][t], weights["W_hh"][t], weights["b"][t])
            hs.append(h)
        args = [case["x"], case["h_prev"], case["W_xh"], case["W_hh"], case["b"]]
        mine = outputs_of(call("rnn_forward", ns["rnn_forward"], *[a.copy() for a in args]), ["hs"],
                          "rnn_forward")
        compare("hs", mine[0], np.stack([x.numpy() for x in hs]), layout(Axis("time step", time="forward"),
                                                                          "batch", "unit"))
        dhs = np.random.default_rng(number).standard_normal(mine[0].shape)
        wanted = [xs, h0] + [w for k in ("W_xh", "W_hh", "b") for w in weights[k]]
        found = grad(hs, wanted, grad_outputs=[Tensor(d) for d in dhs])
        shares = {k: [g.numpy() for g in found[2 + i * T: 2 + (i + 1) * T]] for i, k in enumerate(weights)}
        want = [found[0].numpy(), found[1].numpy()] + [np.sum(shares[k], axis=0) for k in weights]
        got = call("rnn_backward", ns["rnn_backward"], case["x"].copy(), case["h_prev"].copy(),
                   mine[0].copy(), case["W_xh"].copy(), case["W_hh"].copy(), dhs.copy())
        got = outputs_of(got, names, "rnn_backward")
        lays = [layout(STEPS, "batch", "input"), BH, layout("row", "column"), layout("row", "column"),
                layout("unit")]
        wrong = {}
        for k, (name, g, w, lay) in enumerate(zip(names, got, want, lays)):
            parts = shares[["W_xh", "W_hh", "b"][k - 2]] if k >= 2 else ()
            try:
                compare(name, g, w, lay, parts=parts)
            except Failed as failure:
                wrong[name] = failure
        raise_first(wrong, names)
    return [f"hs and every gradient ({', '.join(names)}) match the engine's BPTT on 2 shape cases, T = 4"]


def check_clipping(ns: dict[str, Any], ctx: Context) -> list[str]:
    """clip_grad_norm against nn.utils.clip_grad_norm_, above and below the threshold."""
    rng = ctx.rng(4)
    grads = [rng.standard_normal((2, 3)), rng.standard_normal(4), rng.standard_normal((3, 1))]
    for max_norm in (1.0, 100.0):
        params = [Tensor(g.copy(), requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = Tensor(g.copy())
        total = clip_grad_norm_(params, max_norm)
        got = call("clip_grad_norm", ns["clip_grad_norm"], [g.copy() for g in grads], max_norm)
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise Failed(["clip_grad_norm must return two things: (the clipped list, the total norm)"])
        clipped, norm = got
        compare("the total norm", norm, np.array(total), layout(),
                known=[(np.array(max(float(np.linalg.norm(g)) for g in grads)),
                        "it is the largest norm of one array: the global norm takes all arrays together")])
        if len(clipped) != len(grads):
            raise Failed([f"clip_grad_norm returned {len(clipped)} arrays for {len(grads)} gradients"])
        own = [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads]
        always = [g * max_norm / (total + 1e-6) for g in grads]
        for i, (c, p) in enumerate(zip(clipped, params)):
            assert p.grad is not None
            when = f"with max_norm {max_norm} (the total norm is {total:.4g})"
            try:
                compare(f"grads[{i}]", c, p.grad.numpy(), layout("row", "column"),
                        known=[(own[i], "each array was clipped by its own norm: scale them all by max_norm "
                                        "/ (total norm + 1e-6), the norm of all of them together"),
                       (always[i], "it scales the gradients although their norm is below max_norm: leave "
                                   "them as they are then")])
            except Failed as wrong:
                raise Failed([*wrong.lines, f"  ({when})"]) from None
    return ["the clipped gradients and the total norm match nn.utils.clip_grad_norm_, above and below "
            "max_norm"]


def check_truncated_bptt(ns: dict[str, Any], ctx: Context) -> list[str]:
    """truncated_bptt's gradient per chunk against each chunk's own backward, state carried and detached."""
    rng = ctx.rng(5)
    T, B, D, H = 7, 2, 3, 4
    xs, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    readout = rng.standard_normal((T, B, H))
    for k in (3, 2):
        cell = RNNCell(D, H, dtype=np.float64, rng=np.random.default_rng(6))
        weights = {n: p.numpy().copy() for n, p in cell.named_parameters()}
        want, parts, h = [], [], Tensor(h0)
        for start in range(0, T, k):
            w = Tensor(weights["weight_hh"], requires_grad=True)
            terms = []
            for t in range(start, min(start + k, T)):
                state = (xs[t] @ weights["weight_ih"].T + weights["bias_ih"] + weights["bias_hh"])
                (h,) = rnn_tanh_step(Tensor(state), (h,), w.T, None)
                terms.append((h * Tensor(readout[t])).sum())
            # each step's term of the loss on its own: its share of the chunk's gradient
            step_grads = [grad(term, [w], retain_graph=True)[0].numpy() for term in terms]
            parts.append(step_grads)
            want.append(np.sum(step_grads, axis=0))
            h = h.detach()
        try:
            got = call("truncated_bptt", ns["truncated_bptt"], cell, Tensor(xs), Tensor(h0), k,
                       Tensor(readout))
        except Failed as wrong:
            if "second time" in wrong.lines[0]:
                wrong.lines.insert(1, f"  the second chunk's backward (at t={k}) went on into the first "
                                      "chunk's graph: the h carried into a chunk must be cut from the old "
                                      "graph with h.detach()")
            raise
        if not isinstance(got, list | tuple) or len(got) != len(want):
            count = len(got) if isinstance(got, list | tuple) else type(got).__name__
            raise Failed([f"with k = {k} over T = {T} steps there are {len(want)} chunks, so truncated_bptt "
                          f"must return {len(want)} gradients; it returned {count}"])
        for c, (g, w) in enumerate(zip(got, want)):
            steps = range(c * k, min((c + 1) * k, T))
            shares = [np.zeros_like(w)] * steps[0] + list(parts[c])
            before = np.sum(want[:c], axis=0)
            try:
                compare(f"the gradient of chunk {c} (steps {steps[0]}-{steps[-1]})", g, w,
                        layout("row", "column"), parts=shares,
                        known=[(before + w, "it holds the earlier chunks' gradients too: zero the gradients "
                                            "after each chunk (cell.zero_grad())")] if c else ())
            except Failed as wrong:
                raise Failed([*wrong.lines, f"  (k = {k}, T = {T})"]) from None
    return ["every chunk's gradient matches its own truncated backward, for k = 3 and k = 2 over 7 steps"]
