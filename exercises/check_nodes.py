"""The checks of the exercises written as engine `Function`s: LSTM and GRU cells, attention, layer norm."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_seq import Function, Tensor, scope
from tinygrad_seq import functional as F
from tinygrad_seq.nn.attention import scaled_dot_product_attention
from tinygrad_seq.nn.recurrent import gru_step, lstm_step

from .checking import Context, Signature, check_forward_backward, draw_wrong_node, sizes
from .compare import Axis, layout
from .report import Failed

__all__ = ["check_attention", "check_gru_cell", "check_layer_norm", "check_lstm_cell"]

BH = layout("batch", "unit")


def _cell_cases(rng: np.random.Generator, gates: int, states: int, split_bias: bool
                ) -> list[dict[str, np.ndarray]]:
    cases = []
    for s in sizes(rng, {"B": 2, "D": 3, "H": 4}, {"B": (1, 4), "D": (1, 5), "H": (2, 5)}):
        B, D, H = s["B"], s["D"], s["H"]
        case = {"x": rng.standard_normal((B, D)), "h_prev": rng.standard_normal((B, H)) * 0.5}
        if states == 2:
            case["c_prev"] = rng.standard_normal((B, H))
        case["W_x"] = rng.standard_normal((D, gates * H)) * 0.5
        case["W_h"] = rng.standard_normal((H, gates * H)) * 0.5
        if split_bias:
            case |= {"b_x": rng.standard_normal(gates * H) * 0.5, "b_h": rng.standard_normal(gates * H) * 0.5}
        else:
            case["b"] = rng.standard_normal(gates * H) * 0.5
        cases.append(case)
    return cases


def _cell_signature(gates: str, names: list[str], outputs: list[str]) -> Signature:
    packed = {"W_x": layout("row", Axis("column", gates)), "W_h": layout("row", Axis("column", gates))}
    inputs = {n: packed.get(n, layout(Axis("entry", gates)) if n.startswith("b") else BH) for n in names}
    inputs["x"] = layout("batch", "input")
    return Signature(inputs=inputs, outputs={o: BH for o in outputs})


def lstm_reference(x: Tensor, h: Tensor, c: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor,
                   forget_bias: float = 1.0) -> tuple[Tensor, Tensor]:
    """The project's LSTM step (nn.recurrent.lstm_step) in this layout, forget bias added to f's block."""
    H = h.shape[1]
    shift = np.zeros(4 * H)
    shift[H:2 * H] = forget_bias
    h_next, c_next = lstm_step(x @ W_x + b + shift, (h, c), W_h, None)
    return h_next, c_next


def gru_reference(x: Tensor, h: Tensor, W_x: Tensor, W_h: Tensor, b_x: Tensor, b_h: Tensor) -> Tensor:
    """The project's GRU step (nn.recurrent.gru_step) in this layout."""
    (h_next,) = gru_step(x @ W_x + b_x, (h,), W_h, b_h)
    return h_next


def _unroll(cls: type[Function], states: int, params: dict[str, Any]) -> Callable[..., Tensor]:
    """A loss over three steps of a learner's cell, each step in its scope t=k (for the picture)."""

    def run(xs: Tensor, *rest: Tensor) -> Tensor:
        state, weights = rest[:states], rest[states:]
        for t in range(xs.shape[0]):
            with scope(f"t={t}"):
                out = cls.apply(xs[t], *state, *weights, **params)
                state = out if isinstance(out, tuple) else (out,)
        loss = state[0].sum()
        for s in state[1:]:
            loss = loss + s.sum()
        return loss

    return run


def _check_cell(ctx: Context, name: str, cls: type[Function], sig: Signature, reference: Callable[..., Any],
                cases: list[dict[str, np.ndarray]], states: int, params: dict[str, Any],
                known: Callable[[dict[str, np.ndarray], str], list[tuple[np.ndarray, str]]]) -> list[str]:
    try:
        return check_forward_backward(sig, cls, reference, cases, params, known)
    except Failed as wrong:
        if not wrong.lines[0].startswith("backward"):
            raise
        case = cases[0]
        xs = np.stack([case["x"], -0.5 * case["x"], 0.8 * case["x"]])  # three steps
        named = {"xs": xs} | {k: case[k] for k in list(case)[1:]}
        draw_wrong_node(ctx, name, _unroll(cls, states, params), named)
        raise


def check_lstm_cell(ns: dict[str, Any], ctx: Context) -> list[str]:
    """LSTMCell against nn.recurrent's lstm_step with the forget bias, forward then each gradient."""
    names = ["x", "h_prev", "c_prev", "W_x", "W_h", "b"]
    sig = _cell_signature("ifgo", names, ["h_next", "c_next"])
    cases = _cell_cases(ctx.rng(7), 4, 2, False)

    def known(case: dict[str, np.ndarray], name: str) -> list[tuple[np.ndarray, str]]:
        if name not in sig.outputs:
            return []
        x, h, c, W_x, W_h, b = (Tensor(a) for a in case.values())
        plain = lstm_reference(x, h, c, W_x, W_h, b, forget_bias=0.0)[list(sig.outputs).index(name)]
        return [(plain.numpy(), "the forget bias is missing: add it to the f gate's pre-activation, f = "
                                "sigmoid(a_f + forget_bias)")]

    return _check_cell(ctx, "lstm_cell", ns["LSTMCell"], sig, lstm_reference, cases, 2, {"forget_bias": 1.0},
                       known)


def check_gru_cell(ns: dict[str, Any], ctx: Context) -> list[str]:
    """GRUCell against nn.recurrent's gru_step, forward then each gradient."""
    names = ["x", "h_prev", "W_x", "W_h", "b_x", "b_h"]
    sig = _cell_signature("rzn", names, ["h_next"])

    def known(case: dict[str, np.ndarray], name: str) -> list[tuple[np.ndarray, str]]:
        if name != "h_next":
            return []
        h, mixed = case["h_prev"], gru_reference(*[Tensor(a) for a in case.values()]).numpy()
        # h_next = (1 - z) n + z h  =>  z = (h_next - n) / (h - n); swapping z and 1 - z gives n + h - h_next
        H = h.shape[1]
        ax, ah = case["x"] @ case["W_x"] + case["b_x"], h @ case["W_h"] + case["b_h"]
        r = 1 / (1 + np.exp(-(ax[:, :H] + ah[:, :H])))
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        return [(n + h - mixed, "z and 1 - z are swapped: h_next = (1 - z) * n + z * h_prev keeps h_prev "
                                "where z is near 1")]

    cases = _cell_cases(ctx.rng(8), 3, 1, True)
    return _check_cell(ctx, "gru_cell", ns["GRUCell"], sig, gru_reference, cases, 1, {}, known)


POSITIONS = Axis("position", time="each")
QKV = layout("batch", POSITIONS, "feature")


def attention_reference(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """nn.attention.scaled_dot_product_attention with is_causal=True: the output only."""
    out, _ = scaled_dot_product_attention(q, k, v, is_causal=True, need_weights=False)
    return out


def check_attention(ns: dict[str, Any], ctx: Context) -> list[str]:
    """CausalAttention against nn.attention.scaled_dot_product_attention(is_causal=True)."""
    rng = ctx.rng(9)
    cases = [{n: rng.standard_normal((s["B"], s["T"], s["d"])) for n in ("q", "k", "v")}
             for s in sizes(rng, {"B": 2, "T": 3, "d": 4}, {"B": (1, 3), "T": (2, 5), "d": (1, 6)})]
    sig = Signature(inputs={"q": QKV, "k": QKV, "v": QKV}, outputs={"out": QKV})
    cls = ns["CausalAttention"]

    def known(case: dict[str, np.ndarray], name: str) -> list[tuple[np.ndarray, str]]:
        if name != "out":
            return []
        q, k, v = (Tensor(case[n]) for n in ("q", "k", "v"))
        unmasked, _ = scaled_dot_product_attention(q, k, v, need_weights=False)
        return [(unmasked.numpy(), "the future is not masked: position t may only look at positions 0..t "
                                   "(set the scores S[b, t, s] with s > t to -inf before the softmax)")]

    return check_forward_backward(sig, cls, attention_reference, cases, known=known)


def layer_norm_reference(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """functional.layer_norm over the last axis."""
    return F.layer_norm(x, (x.shape[-1],), gamma, beta, eps=eps)


def check_layer_norm(ns: dict[str, Any], ctx: Context) -> list[str]:
    """LayerNorm against functional.layer_norm, forward then dx, dgamma, dbeta."""
    rng = ctx.rng(10)
    cases = [{"x": rng.standard_normal((s["N"], s["E"])) * 2 + 1, "gamma": rng.standard_normal(s["E"]),
              "beta": rng.standard_normal(s["E"])}
             for s in sizes(rng, {"N": 3, "E": 4}, {"N": (1, 5), "E": (2, 6)})]
    rows, features = layout("row", "feature"), layout("feature")
    sig = Signature(inputs={"x": rows, "gamma": features, "beta": features},
                    outputs={"y": layout("row", "feature")})
    cls = ns["LayerNorm"]

    def known(case: dict[str, np.ndarray], name: str) -> list[tuple[np.ndarray, str]]:
        x, gamma, beta = case["x"], case["gamma"], case["beta"]
        xc = x - x.mean(axis=1, keepdims=True)
        if name == "y":
            unbiased = xc / np.sqrt((xc ** 2).sum(axis=1, keepdims=True) / (x.shape[1] - 1) + 1e-5)
            return [(gamma * unbiased + beta, "the variance divides by E - 1: layer norm divides by E")]
        if name != "dx":
            return []
        r = 1 / np.sqrt((xc ** 2).mean(axis=1, keepdims=True) + 1e-5)
        g = np.random.default_rng(1).standard_normal(x.shape) * gamma  # the upstream gradient of case 1
        return [(r * (g - g.mean(axis=1, keepdims=True)), "dx leaves out the term that comes through the "
                                                          "variance: - xhat * mean(g * xhat)")]

    return check_forward_backward(sig, cls, layer_norm_reference, cases, known=known)
