"""Recurrent cells and layers: RNN, LSTM, GRU with PyTorch's names, shapes, gate order and defaults.

A cell is a stateless function of (input, state). Each kind of cell is one *step function*

    step(gi, state, w_hh_t, b_hh) -> new state

where ``gi`` is the input's share of the gates (x @ W_ih^T + biases, computed for all time steps at
once before the loop) and ``w_hh_t`` is W_hh^T. One loop, `scan`, runs any step over time; the
backward direction of a bidirectional layer is the same loop over the positions in reverse order.

Gate formulas (H = hidden_size; weights are (gates * H, in) as in PyTorch, gates stacked in this order):

    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)           (or relu)
    LSTM  i, f, g, o = sigma, sigma, tanh, sigma of (W_ih x + b_ih + W_hh h + b_hh)
          c' = f * c + i * g;   h' = o * tanh(c')
    GRU   r, z = sigma(W_ir x + b_ir + W_hr h + b_hr), sigma(W_iz x + b_iz + W_hz h + b_hz)
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn));   h' = (1 - z) * n + z * h

Every time step runs inside ``scope("t=k")`` (k is the position the step reads) and every layer and
direction inside ``scope("l0")`` / ``scope("l0_reverse")``, so a graph drawn from a layer's output
groups its nodes as ("lstm", "l0", "t=3"). What the BPTT explorer shows is tagged (`tinygrad_seq.tag`):
each step's gates ("i", "f", "g", "o" / "r", "z", "n") and the state it passes on ("h", "c"), the rows
the steps read ("input"), and each layer's outputs, every step's h time-major ("h" in the layer's scope).

    >>> lstm = LSTM(8, 16, num_layers=2, rng=np.random.default_rng(0))
    >>> out, (h_n, c_n) = lstm(Tensor(np.zeros((5, 3, 8), dtype=np.float32)))   # (T, B, I)
    >>> out.shape, h_n.shape
    ((5, 3, 16), (2, 3, 16))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_seq import functional as F
from tinygrad_seq.autograd import ShapeError, scope
from tinygrad_seq.seeding import generator
from tinygrad_seq.tags import tag
from tinygrad_seq.tensor import Tensor, concatenate, stack, where

from . import init
from .kernels.recurrent import fused_sequence
from .module import Module, Parameter

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "scan"]

State = tuple[Tensor, ...]
Step = Callable[[Tensor, State, Tensor, "Tensor | None"], State]


# ---------------------------------------------------------------------------------------------
# step functions: one time step of each cell, given the input's share of the gates
# ---------------------------------------------------------------------------------------------


def rnn_tanh_step(gi: Tensor, state: State, w_hh_t: Tensor, b_hh: Tensor | None) -> State:
    """h' = tanh(gi + h @ W_hh^T); gi already holds x @ W_ih^T + b_ih + b_hh."""
    (h,) = state
    return ((gi + h @ w_hh_t).tanh(),)


def rnn_relu_step(gi: Tensor, state: State, w_hh_t: Tensor, b_hh: Tensor | None) -> State:
    """h' = relu(gi + h @ W_hh^T); gi already holds x @ W_ih^T + b_ih + b_hh."""
    (h,) = state
    return ((gi + h @ w_hh_t).relu(),)


def lstm_step(gi: Tensor, state: State, w_hh_t: Tensor, b_hh: Tensor | None) -> State:
    """(h, c) -> (h', c') with gates i, f, g, o; gi already holds x @ W_ih^T + b_ih + b_hh."""
    h, c = state
    H = h.shape[-1]
    gates = gi + h @ w_hh_t  # (B, 4H)
    i = tag(gates[..., :H].sigmoid(), "i")
    f = tag(gates[..., H : 2 * H].sigmoid(), "f")
    g = tag(gates[..., 2 * H : 3 * H].tanh(), "g")
    o = tag(gates[..., 3 * H :].sigmoid(), "o")
    c = f * c + i * g
    return o * c.tanh(), c


def gru_step(gi: Tensor, state: State, w_hh_t: Tensor, b_hh: Tensor | None) -> State:
    """h -> h' with gates r, z, n; gi holds x @ W_ih^T + b_ih (b_hh stays apart: b_hn is gated by r)."""
    (h,) = state
    H = h.shape[-1]
    gh = h @ w_hh_t  # (B, 3H)
    if b_hh is not None:
        gh = gh + b_hh
    rz = (gi[..., : 2 * H] + gh[..., : 2 * H]).sigmoid()  # (B, 2H): r then z
    r, z = tag(rz[..., :H], "r"), tag(rz[..., H:], "z")
    n = tag((gi[..., 2 * H :] + r * gh[..., 2 * H :]).tanh(), "n")
    return (n + z * (h - n),)  # = (1 - z) * n + z * h, one op fewer


@dataclass(frozen=True)
class CellKind:
    """What differs between RNN, LSTM and GRU: gate count, step, and which biases join the projection."""

    name: str
    num_gates: int
    num_states: int  # 2 for LSTM: (h, c)
    step: Step
    hh_bias_in_projection: bool  # b_hh can be added once with b_ih unless a gate multiplies it (GRU)


KINDS = {
    "rnn_tanh": CellKind("rnn_tanh", 1, 1, rnn_tanh_step, True),
    "rnn_relu": CellKind("rnn_relu", 1, 1, rnn_relu_step, True),
    "lstm": CellKind("lstm", 4, 2, lstm_step, True),
    "gru": CellKind("gru", 3, 1, gru_step, False),
}


def project(x: Tensor, weight_ih: Tensor, bias: Tensor | None) -> Tensor:
    """x @ W_ih^T + bias for every leading position at once: (..., I) -> (..., G*H), one matmul."""
    lead = x.shape[:-1]
    rows = tag(x.reshape(-1, x.shape[-1]), "input")  # (T, B, I) -> (T*B, I): what the steps read
    out = rows @ weight_ih.T  # (T*B, I) @ (I, G*H) -> (T*B, G*H)
    out = out.reshape(*lead, out.shape[-1])  # (T*B, G*H) -> (T, B, G*H)
    return out if bias is None else out + bias


def _biases(kind: CellKind, b_ih: Tensor | None, b_hh: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
    """(bias added in the projection, bias left for the step)."""
    if b_ih is None:
        return None, None
    if kind.hh_bias_in_projection:
        return b_ih + b_hh, None
    return b_ih, b_hh


# ---------------------------------------------------------------------------------------------
# the one loop over time
# ---------------------------------------------------------------------------------------------


def scan(
    step: Step,
    gi: Tensor,
    state: State,
    w_hh_t: Tensor,
    b_hh: Tensor | None = None,
    *,
    reverse: bool = False,
    lengths: np.ndarray | None = None,
) -> tuple[Tensor, State]:
    """Run `step` over the time axis of gi (T, B, G*H) from `state`; returns (outputs (T, B, H), final state).

    ``reverse=True`` visits positions T-1, ..., 0 (the backward half of a bidirectional layer).
    With ``lengths`` (B,), position t of sequence b is padding when t >= lengths[b]: there the state
    is carried unchanged (h_t = where(t < len, new, old)) and the output is zero. So the forward
    direction ends with each sequence's state at its own last step, and the reverse direction starts
    from the initial state at each sequence's own last step. The state each step passes on is tagged
    "h" (and "c") for the explorer (`tinygrad_seq.tags`).
    """
    T = gi.shape[0]
    outputs: list[Tensor] = [None] * T  # type: ignore[list-item]
    shortest = T if lengths is None else int(lengths.min(initial=T))
    for t in range(T - 1, -1, -1) if reverse else range(T):
        with scope(f"t={t}"):
            new = step(gi[t], state, w_hh_t, b_hh)
            if t < shortest:  # every sequence is still running: no mask needed
                state = _tag_states(new)
                outputs[t] = new[0]
            else:
                assert lengths is not None  # shortest < T only with lengths
                running = (t < lengths)[:, None]  # (B, 1)
                state = _tag_states(tuple(where(running, n, s) for n, s in zip(new, state)))
                outputs[t] = where(running, new[0], 0.0)
    return stack(outputs, axis=0), state  # T x (B, H) -> (T, B, H)


def _tag_states(state: State) -> State:
    """Tag the state a step passes on: h (and c), for the explorer (`tinygrad_seq.tags`)."""
    for s, name in zip(state, ("h", "c")):
        tag(s, name)
    return state


# ---------------------------------------------------------------------------------------------
# cells
# ---------------------------------------------------------------------------------------------


def _uniform_init(module: Module, hidden_size: int, rng: np.random.Generator) -> None:
    """Every parameter from U(-1/sqrt(H), 1/sqrt(H)), drawn in registration order (PyTorch's init)."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound, rng)


def _set_forget_bias(b_ih: Tensor | None, b_hh: Tensor | None, hidden_size: int, value: float | None) -> None:
    """The f-gate slice (second quarter) of b_ih := value and of b_hh := 0, so f starts at sigma(value)."""
    if value is None:
        return
    if b_ih is None or b_hh is None:
        raise ValueError("forget_bias needs bias=True (there is no bias to set)")
    H = hidden_size
    data_ih, data_hh = b_ih.data.copy(), b_hh.data.copy()
    data_ih[H : 2 * H], data_hh[H : 2 * H] = value, 0.0
    b_ih.data, b_hh.data = data_ih, data_hh


class _CellBase(Module):
    """Parameters weight_ih (G*H, I), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,)."""

    kind: CellKind

    def __init__(self, kind: CellKind, input_size: int, hidden_size: int, bias: bool, rng: Any,
                 dtype: Any) -> None:
        super().__init__()
        self.kind = kind
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"{type(self).__name__}: input_size and hidden_size must be positive, "
                             f"got {input_size} and {hidden_size}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gh = self.kind.num_gates * hidden_size
        self.weight_ih = Parameter(np.empty((gh, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((gh, hidden_size), dtype=dtype))
        self.bias_ih = Parameter(np.empty(gh, dtype=dtype)) if bias else None
        self.bias_hh = Parameter(np.empty(gh, dtype=dtype)) if bias else None
        _uniform_init(self, hidden_size, generator(rng))

    def _run(self, x: Tensor, hx: State | None) -> State:
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(f"{type(self).__name__}: input must be (batch, {self.input_size}) or "
                             f"({self.input_size},), got {x.shape}")
        expected = x.shape[:-1] + (self.hidden_size,)
        if hx is None:
            dtype = np.result_type(x.dtype, self.weight_hh.dtype)
            hx = tuple(Tensor(np.zeros(expected, dtype=dtype)) for _ in range(self.kind.num_states))
        for s in hx:
            if s.shape != expected:
                raise ShapeError(f"{type(self).__name__}: for input {x.shape} the state must be {expected}, "
                                 f"got {s.shape}")
        in_bias, step_bias = _biases(self.kind, self.bias_ih, self.bias_hh)
        gi = project(x, self.weight_ih, in_bias)  # (B, G*H)
        return _tag_states(self.kind.step(gi, hx, self.weight_hh.T, step_bias))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu): input (B, I) or (I,) -> h' (B, H) or (H,).

    Example::

        >>> cell = RNNCell(3, 5, rng=np.random.default_rng(0))
        >>> cell(Tensor(np.ones((2, 3), dtype=np.float32))).shape
        (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 rng: np.random.Generator | None = None, dtype: Any = np.float32) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(KINDS[f"rnn_{nonlinearity}"], input_size, hidden_size, bias, rng, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        return self._run(input, None if hx is None else (hx,))[0]


class LSTMCell(_CellBase):
    """One LSTM step: (x, (h, c)) -> (h', c') with gates i, f, g, o stacked in weight_ih's rows.

    ``forget_bias`` (an extension; PyTorch has none): when given, the f-gate slice of bias_ih starts at
    that value and of bias_hh at 0, so the cell remembers by default (the usual choice is 1.0).

    Example::

        >>> cell = LSTMCell(3, 5, rng=np.random.default_rng(0))
        >>> h, c = cell(Tensor(np.ones((2, 3), dtype=np.float32)))
        >>> h.shape, c.shape
        ((2, 5), (2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, forget_bias: float | None = None,
                 rng: np.random.Generator | None = None, dtype: Any = np.float32) -> None:
        super().__init__(KINDS["lstm"], input_size, hidden_size, bias, rng, dtype)
        self.forget_bias = forget_bias
        _set_forget_bias(self.bias_ih, self.bias_hh, hidden_size, forget_bias)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        h, c = self._run(input, None if hx is None else tuple(hx))
        return h, c


class GRUCell(_CellBase):
    """One GRU step: (x, h) -> h' with gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

    Example::

        >>> cell = GRUCell(3, 5, rng=np.random.default_rng(0))
        >>> cell(Tensor(np.ones(3, dtype=np.float32))).shape
        (5,)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 rng: np.random.Generator | None = None, dtype: Any = np.float32) -> None:
        super().__init__(KINDS["gru"], input_size, hidden_size, bias, rng, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        return self._run(input, None if hx is None else (hx,))[0]


# ---------------------------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------------------------


class _RecurrentBase(Module):
    """Stacked, optionally bidirectional layers of one cell kind, with PyTorch's flat parameter names.

    Input (T, B, input_size), or (B, T, input_size) with ``batch_first=True``, or unbatched
    (T, input_size). Output (T, B, D * hidden_size) (batch_first: (B, T, D * hidden_size)), D = 2 if
    bidirectional else 1: the last layer's hidden state at every step, directions concatenated
    (forward first). Final states (num_layers * D, B, H), ordered l0, l0_reverse, l1, ...

    Parameters ``weight_ih_l{k}`` (G*H, in), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (G*H,), then the same with ``_reverse`` for the backward direction, layer by
    layer: PyTorch's order, so its state dict (converted with ``.numpy()``) loads unchanged. All start
    from U(-1/sqrt(H), 1/sqrt(H)). ``dropout`` applies to the input of every layer but the first, in
    training mode only.

    Extension ``lengths=`` (B ints) for padded batches: past each sequence's end the state stops
    updating and the output is zero, so h_n holds each sequence's state at its own end, and the
    reverse direction starts at each sequence's own last valid step.

    ``fused=True`` (for speed) runs each layer and direction as one graph node written in NumPy
    (nn/kernels/recurrent.py) instead of a scope of small ops per time step: the same results (held
    equal in float64 by tests/test_kernels_recurrent.py), several times faster to train, but drawn as one
    box and first-order only (no ``create_graph=True``). The default, False, is the reference; the
    attribute can be switched on a built layer (``layer.fused = False`` to draw its steps).
    """

    kind: CellKind

    def __init__(self, kind: CellKind, input_size: int, hidden_size: int, num_layers: int, bias: bool,
                 batch_first: bool, dropout: float, bidirectional: bool, rng: Any, dtype: Any,
                 fused: bool) -> None:
        super().__init__()
        self.kind = kind
        name = type(self).__name__
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{name}: input_size, hidden_size and num_layers must be positive, "
                             f"got {input_size}, {hidden_size}, {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.fused = bidirectional, bool(fused)
        self.num_directions = 2 if bidirectional else 1
        self.rng = generator(rng)  # for the initial weights, then for dropout masks
        gh = self.kind.num_gates * hidden_size
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * self.num_directions
            shapes: dict[str, tuple[int, ...]] = {"weight_ih": (gh, layer_in), "weight_hh": (gh, hidden_size)}
            if bias:
                shapes |= {"bias_ih": (gh,), "bias_hh": (gh,)}
            for suffix in self._suffixes():
                for weight, shape in shapes.items():
                    setattr(self, f"{weight}_l{layer}{suffix}", Parameter(np.empty(shape, dtype=dtype)))
        _uniform_init(self, hidden_size, self.rng)

    def _suffixes(self) -> list[str]:
        return ["", "_reverse"][: self.num_directions]

    def _weights(self, layer: int, suffix: str) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        get = lambda kind: self._parameters.get(f"{kind}_l{layer}{suffix}")
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _forward(self, x: Tensor, hx: State | None, lengths: Any) -> tuple[Tensor, State]:
        name = type(self).__name__
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(batch, seq, input)" if self.batch_first else "(seq, batch, input)"
            raise ShapeError(f"{name}: input must be {layout} or (seq, input) with input = "
                             f"{self.input_size}, got {x.shape}")
        input_shape, batched = x.shape, x.ndim == 3
        if not batched:
            x = x.expand_dims(1)  # (T, I) -> (T, 1, I)
        elif self.batch_first:
            x = x.swapaxes(0, 1)  # (B, T, I) -> (T, B, I)
        T, B = x.shape[0], x.shape[1]
        if T == 0:
            raise ShapeError(f"{name}: the input sequence is empty (shape {input_shape})")
        lengths = self._check_lengths(lengths, T, B)
        n_states = self.num_layers * self.num_directions
        if hx is None:
            dtype = np.result_type(x.dtype, self.weight_hh_l0.dtype)
            zero = Tensor(np.zeros((B, self.hidden_size), dtype=dtype))
            initial = [(zero,) * self.kind.num_states] * n_states
        else:
            want = (n_states, B, self.hidden_size) if batched else (n_states, self.hidden_size)
            for s in hx:
                if s.shape != want:
                    raise ShapeError(f"{name}: for {'this' if batched else 'unbatched'} input the initial "
                                     f"state must be (num_layers * num_directions, ...) = {want}, "
                                     f"got {s.shape}")
            if not batched:
                hx = tuple(s.expand_dims(1) for s in hx)  # (L*D, H) -> (L*D, 1, H)
            initial = [tuple(s[j] for s in hx) for j in range(n_states)]

        finals: list[State] = []
        layer_input = x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                layer_input = F.dropout(layer_input, self.dropout, True, self.rng)
            outputs = []
            for d, suffix in enumerate(self._suffixes()):
                with scope(f"l{layer}{suffix}"):
                    out, state = self._run_direction(layer_input, layer, suffix,
                                                     initial[layer * self.num_directions + d],
                                                     reverse=d == 1, lengths=lengths)
                outputs.append(out)
                finals.append(state)
            # (T, B, H) per direction -> (T, B, D*H)
            layer_input = outputs[0] if len(outputs) == 1 else concatenate(outputs, axis=-1)

        output = layer_input
        # L*D states (B, H) -> (L*D, B, H), for h (and c)
        last = tuple(stack([s[i] for s in finals], axis=0) for i in range(self.kind.num_states))
        if not batched:
            output = output.squeeze(1)  # (T, 1, D*H) -> (T, D*H)
            last = tuple(s.squeeze(1) for s in last)  # (L*D, 1, H) -> (L*D, H)
        elif self.batch_first:
            output = output.swapaxes(0, 1)  # (T, B, D*H) -> (B, T, D*H)
        return output, last

    def _run_direction(self, x: Tensor, layer: int, suffix: str, state: State, *, reverse: bool,
                       lengths: np.ndarray | None) -> tuple[Tensor, State]:
        """One layer and direction over x (T, B, in) -> (outputs (T, B, H), final state): the composed
        `project` + `scan`, or with ``fused`` the same maths as one node (nn/kernels/recurrent.py)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, suffix)
        if self.fused and x.shape[1] > 0:  # one node (an empty batch goes through the composed ops)
            out, final = fused_sequence(self.kind.name, tag(x, "input"), w_ih, w_hh, b_ih, b_hh, state,
                                        reverse=reverse, lengths=lengths)
        else:  # project tags the input; each step, its gates and the state it passes on
            in_bias, step_bias = _biases(self.kind, b_ih, b_hh)
            gi = project(x, w_ih, in_bias)  # (T, B, G*H)
            out, final = scan(self.kind.step, gi, state, w_hh.T, step_bias, reverse=reverse, lengths=lengths)
        return tag(out, "h"), final  # both ways: every step's h, time-major, tagged in the layer's scope

    def _check_lengths(self, lengths: Any, T: int, B: int) -> np.ndarray | None:
        if lengths is None:
            return None
        lengths = np.asarray(lengths.numpy() if isinstance(lengths, Tensor) else lengths)
        if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
            raise ValueError(f"{type(self).__name__}: lengths must be {B} integers (one per sequence), "
                             f"got {lengths.dtype} array of shape {lengths.shape}")
        if lengths.min() < 0 or lengths.max() > T:
            raise ValueError(f"{type(self).__name__}: lengths must lie in [0, {T}] (the padded length), "
                             f"got {lengths.tolist()}")
        return lengths

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        defaults = {"bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False,
                    "fused": False}
        for key, default in defaults.items():
            if getattr(self, key) != default:
                parts.append(f"{key}={getattr(self, key)}")
        return ", ".join(parts)


class RNN(_RecurrentBase):
    """Elman RNN, h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) (or relu), stacked and bidirectional.

    ``forward(input, hx=None, lengths=None) -> (output, h_n)``; h_0 and h_n are (num_layers * D, B, H).
    Shapes, parameter names, dropout and ``lengths=`` as described in `_RecurrentBase`.

    Example::

        >>> rnn = RNN(4, 8, num_layers=2, bidirectional=True, rng=np.random.default_rng(0))
        >>> out, h_n = rnn(Tensor(np.zeros((6, 3, 4), dtype=np.float32)))
        >>> out.shape, h_n.shape
        ((6, 3, 16), (4, 3, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, rng: np.random.Generator | None = None,
                 dtype: Any = np.float32, fused: bool = False) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(KINDS[f"rnn_{nonlinearity}"], input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, rng, dtype, fused)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None,  # noqa: A002
                lengths: Any = None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._forward(input, None if hx is None else (hx,), lengths)
        return output, h_n


class LSTM(_RecurrentBase):
    """Long short-term memory with gates i, f, g, o; stacked and bidirectional.

    ``forward(input, hx=None, lengths=None) -> (output, (h_n, c_n))``; hx is (h_0, c_0), each
    (num_layers * D, B, H). Shapes, parameter names, dropout and ``lengths=`` as described in
    `_RecurrentBase`. ``forget_bias`` (an extension): when given, the f-gate slice of every bias_ih
    starts at that value and of every bias_hh at 0 (the usual choice is 1.0); the default None keeps
    PyTorch's initialisation.

    Example::

        >>> lstm = LSTM(4, 8, batch_first=True, forget_bias=1.0, rng=np.random.default_rng(0))
        >>> out, (h_n, c_n) = lstm(Tensor(np.zeros((3, 6, 4), dtype=np.float32)), lengths=[6, 2, 4])
        >>> out.shape, h_n.shape
        ((3, 6, 8), (1, 3, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 forget_bias: float | None = None, rng: np.random.Generator | None = None,
                 dtype: Any = np.float32, fused: bool = False) -> None:
        super().__init__(KINDS["lstm"], input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng, dtype, fused)
        self.forget_bias = forget_bias
        for layer in range(num_layers):
            for suffix in self._suffixes():
                _, _, b_ih, b_hh = self._weights(layer, suffix)
                _set_forget_bias(b_ih, b_hh, hidden_size, forget_bias)

    def forward(self, input: Tensor, hx: Sequence[Tensor] | None = None,  # noqa: A002
                lengths: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        output, (h_n, c_n) = self._forward(input, None if hx is None else tuple(hx), lengths)
        return output, (h_n, c_n)


class GRU(_RecurrentBase):
    """Gated recurrent unit with gates r, z, n, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

    ``forward(input, hx=None, lengths=None) -> (output, h_n)``; h_0 and h_n are (num_layers * D, B, H).
    Shapes, parameter names, dropout and ``lengths=`` as described in `_RecurrentBase`.

    Example::

        >>> gru = GRU(4, 8, rng=np.random.default_rng(0))
        >>> out, h_n = gru(Tensor(np.zeros((6, 4), dtype=np.float32)))  # unbatched (T, I)
        >>> out.shape, h_n.shape
        ((6, 8), (1, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 rng: np.random.Generator | None = None, dtype: Any = np.float32,
                 fused: bool = False) -> None:
        super().__init__(KINDS["gru"], input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng, dtype, fused)

    def forward(self, input: Tensor, hx: Tensor | None = None,  # noqa: A002
                lengths: Any = None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._forward(input, None if hx is None else (hx,), lengths)
        return output, h_n
