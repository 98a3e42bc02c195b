"""Fused recurrent sequences: one graph node runs one layer and direction of an RNN, LSTM or GRU over time.

The composed reference it replaces is ``nn/recurrent.py``'s `project` (x @ W_ih^T + b for all steps)
followed by `scan` over the cell's step function: about a dozen small ops per time step forward and twice
that backward, each a Tensor and a graph node. ``fused=True`` on `RNN` / `LSTM` / `GRU` runs the same
maths here instead, as one `Function` per layer and direction:

- forward: the input projection of all T steps is one GEMM straight into a (T, B, G*H) gate buffer; each
  step adds h @ W_hh^T and applies the gate nonlinearities in place (ufuncs with ``out=``);
- backward: BPTT writes the gate gradients of every step into one (T, B, G*H) buffer; the gradients of
  W_ih, W_hh and the input are then one GEMM each over the T*B rows (not T small ones);
- float32 stays float32 and float64 stays float64; ``lengths=`` (state carried, output zero past each
  sequence's end) and ``reverse`` (positions T-1, ..., 0) behave as in `scan`.

tests/test_fused_recurrent.py holds the two equal: outputs, final states and every gradient (input,
initial state, every parameter) agree in float64 to 1e-10 (relative) on hypothesis-drawn configurations,
and the fused node passes gradcheck on its own.

First-order only: backward is NumPy, not Tensor ops, so differentiating it again (``create_graph=True``)
raises an error that says to build the layer with ``fused=False``.

The node's one output is (T + 1 + S, B, H): h0 and the outputs in the order the steps read them, then
the final h (and c for the LSTM); `fused_sequence` applies the node and slices these apart.

    >>> rng = np.random.default_rng(0)
    >>> x, w_ih, w_hh = (Tensor(rng.normal(size=s)) for s in [(5, 2, 3), (8, 3), (8, 2)])
    >>> h0 = c0 = Tensor(np.zeros((2, 2)))
    >>> out, (h_n, c_n) = fused_sequence("lstm", x, w_ih, w_hh, None, None, (h0, c0))
    >>> out.shape, h_n.shape
    ((5, 2, 2), (2, 2))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_seq.autograd import Function, is_grad_enabled
from tinygrad_seq.tensor import Tensor

__all__ = ["FusedSequence", "fused_sequence"]

_TITLES = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU"}


def _sigmoid_(a: np.ndarray) -> None:
    """a := sigma(a) in place, as 0.5 + 0.5 tanh(a / 2): the same value as 1 / (1 + e^-a), no overflow."""
    np.multiply(a, 0.5, out=a)
    np.tanh(a, out=a)
    np.multiply(a, 0.5, out=a)
    np.add(a, 0.5, out=a)


def _sigmoid_grad_(grad: np.ndarray, s: np.ndarray, work: np.ndarray) -> None:
    """grad *= s * (1 - s) in place, s = sigma(a) (work: scratch of grad's shape)."""
    np.subtract(1, s, out=work)
    work *= s
    grad *= work


def _tanh_grad_(grad: np.ndarray, t: np.ndarray, work: np.ndarray) -> None:
    """grad *= 1 - t^2 in place, t = tanh(a)."""
    np.multiply(t, t, out=work)
    np.subtract(1, work, out=work)
    grad *= work


# ---------------------------------------------------------------------------------------------
# cells: one time step forward and backward, on the shared buffers
# ---------------------------------------------------------------------------------------------


class _Cell:
    """What differs between the kinds. ``gates`` (T, B, G*H) holds x @ W_ih^T + bias on entry; a step
    turns row t into the activated gates, which backward reads; ``h_in`` (T, B, H) is the h each step
    read. Subclasses write `step` and `step_back`; a cell with more state (the LSTM's c) keeps it."""

    def __init__(self, gates: np.ndarray, w_hh: np.ndarray, b_hh: np.ndarray | None, h_in: np.ndarray,
                 reverse: bool) -> None:
        self.gates, self.w_hh, self.b_hh, self.h_in = gates, w_hh, b_hh, h_in
        self.w_hh_t = np.ascontiguousarray(w_hh.T)  # NOTE: speed: BLAS reads a contiguous W_hh^T faster
        self.H, self.rev = w_hh.shape[1], int(reverse)
        self.work = np.empty(gates.shape[1:], gates.dtype)  # (B, G*H) scratch
        self.small = np.empty(h_in.shape[1:], gates.dtype)  # (B, H) scratch

    def start(self, extra: tuple[np.ndarray, ...]) -> None:
        """Take the initial state beyond h (the LSTM's c0)."""

    def step(self, t: int, h: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Step t from h: write the new h into `out` (B, H) and return it."""
        raise NotImplementedError

    def keep(self, t: int, running: np.ndarray) -> None:
        """Past a sequence's end (rows where `running` (B, 1) is False) keep the state beyond h unchanged."""

    def finals(self) -> list[np.ndarray]:
        """The final state beyond h (the LSTM's c_n)."""
        return []

    def step_back(self, t: int, dh: np.ndarray, dc: np.ndarray | None, dgates: np.ndarray) -> tuple:
        """From the gradient of step t's new (h, c), write dL/d(pre-activation gates) into `dgates`
        (B, G*H); return the gradient of the (h, c) the step read."""
        raise NotImplementedError

    def hh_grads(self, dgates: np.ndarray, h_in: np.ndarray, bias: bool) -> tuple:
        """(dW_hh, db_hh) over all T*B rows at once: dgates (T*B, G*H), h_in (T*B, H)."""
        return dgates.T @ h_in, (dgates.sum(axis=0) if bias else None)


class _RNNCell(_Cell):
    """h' = act(gx + h @ W_hh^T), act tanh or relu; the gate buffer keeps h'."""

    def __init__(self, *args: Any, relu: bool) -> None:
        super().__init__(*args)
        self.relu = relu

    def step(self, t, h, out):
        g = self.gates[t]
        np.matmul(h, self.w_hh_t, out=self.work)
        g += self.work
        if self.relu:
            np.maximum(g, 0, out=g)
        else:
            np.tanh(g, out=g)
        out[...] = g
        return out

    def step_back(self, t, dh, dc, dgates):
        g = self.gates[t]
        if self.relu:
            np.multiply(dh, g > 0, out=dgates)
        else:
            np.copyto(dgates, dh)
            _tanh_grad_(dgates, g, self.work)
        return dgates @ self.w_hh, None


class _LSTMCell(_Cell):
    """i, f, g, o = sigma, sigma, tanh, sigma of (gx + h @ W_hh^T); c' = f c + i g; h' = o tanh(c')."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # every c in one buffer, in position order: step t reads row t + rev and writes row t + 1 - rev
        T, B, H = self.h_in.shape
        self.cs = np.empty((T + 1, B, H), self.gates.dtype)

    def start(self, extra):
        self.cs[len(self.h_in) * self.rev] = extra[0]

    def step(self, t, h, out):
        H, g, small = self.H, self.gates[t], self.small
        np.matmul(h, self.w_hh_t, out=self.work)
        g += self.work
        _sigmoid_(g[:, : 2 * H])  # i, f
        np.tanh(g[:, 2 * H : 3 * H], out=g[:, 2 * H : 3 * H])
        _sigmoid_(g[:, 3 * H :])  # o
        i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        c, c_new = self.cs[t + self.rev], self.cs[t + 1 - self.rev]
        np.multiply(f, c, out=c_new)
        c_new += np.multiply(i, gg, out=small)
        np.tanh(c_new, out=small)
        np.multiply(o, small, out=out)
        return out

    def keep(self, t, running):
        np.copyto(self.cs[t + 1 - self.rev], self.cs[t + self.rev], where=~running)

    def finals(self):
        return [self.cs[len(self.h_in) * (1 - self.rev)]]

    def step_back(self, t, dh, dc, dgates):
        H, g, work = self.H, self.gates[t], self.work
        i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        di, df, dg, do = dgates[:, :H], dgates[:, H : 2 * H], dgates[:, 2 * H : 3 * H], dgates[:, 3 * H :]
        # NOTE: memory: tanh(c') is recomputed here rather than kept for all T steps
        tc = np.tanh(self.cs[t + 1 - self.rev], out=self.small)
        np.multiply(dh, tc, out=do)
        # dc += dh * o * (1 - tanh(c')^2)
        np.multiply(tc, tc, out=work[:, :H])
        np.subtract(1, work[:, :H], out=work[:, :H])
        work[:, :H] *= o
        work[:, :H] *= dh
        dc += work[:, :H]
        np.multiply(dc, gg, out=di)
        np.multiply(dc, self.cs[t + self.rev], out=df)
        np.multiply(dc, i, out=dg)
        dc *= f  # the gradient of the c this step read
        _sigmoid_grad_(dgates[:, : 2 * H], g[:, : 2 * H], work[:, : 2 * H])
        _tanh_grad_(dg, gg, self.small)
        _sigmoid_grad_(do, o, self.small)
        return dgates @ self.w_hh, dc


class _GRUCell(_Cell):
    """r, z = sigma(gx_rz + gh_rz); n = tanh(gx_n + r * gh_n); h' = n + z (h - n); gh = h @ W_hh^T + b_hh."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.gh_n = np.empty_like(self.h_in)  # W_hn h + b_hn of each step (r multiplies it)
        self.dgh_n = None  # its gradient, dgates_n * r, filled by backward

    def step(self, t, h, out):
        H, g, gh = self.H, self.gates[t], self.work
        np.matmul(h, self.w_hh_t, out=gh)
        if self.b_hh is not None:
            gh += self.b_hh
        rz = g[:, : 2 * H]
        rz += gh[:, : 2 * H]
        _sigmoid_(rz)
        r, z, n = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
        self.gh_n[t] = gh[:, 2 * H :]
        n += np.multiply(r, self.gh_n[t], out=self.small)
        np.tanh(n, out=n)
        np.subtract(h, n, out=out)
        out *= z
        out += n
        return out

    def step_back(self, t, dh, dc, dgates):
        H, g, dgh = self.H, self.gates[t], self.work
        if self.dgh_n is None:
            self.dgh_n = np.empty_like(self.gh_n)
        r, z, n = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
        dr, dz, dn = dgates[:, :H], dgates[:, H : 2 * H], dgates[:, 2 * H :]
        direct = dh * z  # h' = n + z (h - n): the path straight to h
        np.subtract(dh, direct, out=dn)
        np.subtract(self.h_in[t], n, out=dz)
        dz *= dh
        _tanh_grad_(dn, n, self.small)
        np.multiply(dn, self.gh_n[t], out=dr)
        _sigmoid_grad_(dgates[:, : 2 * H], g[:, : 2 * H], dgh[:, : 2 * H])
        dgh[:, : 2 * H] = dgates[:, : 2 * H]  # the r and z pre-activations see gx and gh alike
        np.multiply(dn, r, out=self.dgh_n[t])
        dgh[:, 2 * H :] = self.dgh_n[t]
        dh_prev = dgh @ self.w_hh
        dh_prev += direct
        return dh_prev, None

    def hh_grads(self, dgates, h_in, bias):
        H = self.H
        dgh_n = self.dgh_n.reshape(-1, H)  # (T, B, H) -> (T*B, H)
        dw = np.empty(self.w_hh.shape, dgates.dtype)
        np.matmul(dgates[:, : 2 * H].T, h_in, out=dw[: 2 * H])
        np.matmul(dgh_n.T, h_in, out=dw[2 * H :])
        db = np.concatenate([dgates[:, : 2 * H].sum(axis=0), dgh_n.sum(axis=0)]) if bias else None
        self.dgh_n = None  # a scratch of backward: a second backward (retain_graph) makes a new one
        return dw, db


def _make_cell(kind: str, *args: Any) -> _Cell:
    if kind in ("rnn_tanh", "rnn_relu"):
        return _RNNCell(*args, relu=kind == "rnn_relu")
    return {"lstm": _LSTMCell, "gru": _GRUCell}[kind](*args)


# ---------------------------------------------------------------------------------------------
# the node
# ---------------------------------------------------------------------------------------------


class FusedSequence(Function):
    """One layer and direction over a whole sequence: inputs x (T, B, I), W_ih (G*H, I), W_hh (G*H, H),
    [b_ih, b_hh (G*H,)], h0 [, c0] (B, H) -> (T + 1 + S, B, H): h0 and the T outputs in the order the
    steps read them (forward: h0, y_0, ..., y_(T-1); reverse: y_0, ..., y_(T-1), h0), then the final h
    [and c]. So the h each step read is a slice of the output (unless ``lengths`` pads some sequences)."""

    # kind and direction in slots: they outlive the release of the saved arrays, for the picture
    __slots__ = ("kind", "reverse", "__dict__")
    legend = "fused: one op runs a layer over all its time steps; build it with fused=False to see each step"

    @property
    def name(self) -> str:
        return "Fused" + _TITLES.get(getattr(self, "kind", ""), "Sequence")

    @property
    def label(self) -> str:
        """What the picture writes in this node's box: name, "fused", the steps and the shapes."""
        x, w_hh = self.inputs[0], self.inputs[2]
        T, B = x.shape[:2]
        finals = "h_n, c_n" if self.kind == "lstm" else "h_n"
        steps = f"{T} steps" + (", reversed" if self.reverse else "")
        return f"{_TITLES[self.kind]}, fused ({steps})\n{x.shape} → {(T, B, w_hh.shape[1])} + h0, {finals}"

    def forward(self, x, w_ih, w_hh, *rest, kind: str, reverse: bool, lengths: np.ndarray | None,
                bias: bool):
        self.kind, self.reverse = kind, reverse
        dtype = np.result_type(x, w_ih, w_hh, *rest)
        x, w_ih, w_hh, *rest = (a.astype(dtype, copy=False) for a in (x, w_ih, w_hh, *rest))
        b_ih, b_hh = rest[:2] if bias else (None, None)
        state = rest[2:] if bias else rest
        T, B, I = x.shape
        H, rev = w_hh.shape[1], int(reverse)

        x2 = x.reshape(T * B, I)  # (T, B, I) -> (T*B, I)
        gates = (x2 @ w_ih.T).reshape(T, B, -1)  # (T*B, G*H) -> (T, B, G*H)
        step_bias = None
        if bias and kind == "gru":
            gates += b_ih  # b_hh stays in the step: r gates b_hn
            step_bias = b_hh
        elif bias:
            gates += b_ih + b_hh
        out = np.empty((T + 1 + len(state), B, H), dtype)
        out[T * rev] = state[0]
        shortest = T if lengths is None else int(min(T, lengths.min(initial=T)))
        # NOTE: memory: without padding, the h each step read is the previous row of `out`
        h_in = out[rev : rev + T] if shortest == T else np.empty((T, B, H), dtype)
        cell = _make_cell(kind, gates, w_hh, step_bias, h_in, reverse)
        cell.start(state[1:])

        h = out[T * rev]
        for t in range(T - 1, -1, -1) if reverse else range(T):
            if shortest < T:
                h_in[t] = h
            new_h = cell.step(t, h, out[t + 1 - rev])
            if t < shortest:  # every sequence is still running: no mask
                h = new_h
                continue
            running = (t < lengths)[:, None]  # (B, 1): past its end a sequence keeps its state
            h = np.where(running, new_h, h)
            cell.keep(t, running)
            out[t + 1 - rev] *= running  # and outputs zero
        out[T + 1] = h
        for k, s in enumerate(cell.finals()):
            out[T + 2 + k] = s
        self.x2, self.w_ih, self.cell, self.lengths, self.shortest = x2, w_ih, cell, lengths, shortest
        return out

    def backward(self, grad):
        if is_grad_enabled():
            raise RuntimeError(
                f"{self.name}: a fused recurrent layer (fused=True) has a first-order backward only, so it "
                "cannot be differentiated twice (create_graph=True). Build the layer with fused=False: the "
                "same weights and results, as small ops that support higher-order gradients."
            )
        cell, lengths, shortest = self.cell, self.lengths, self.shortest
        T, B, H = cell.h_in.shape
        rev = int(self.reverse)
        n_states = grad.shape[0] - T - 1
        g = grad._data.astype(cell.gates.dtype, copy=False)
        dh = g[T + 1].copy()
        dc = g[T + 2].copy() if n_states == 2 else None
        dgates = np.empty(cell.gates.shape, cell.gates.dtype)  # (T, B, G*H)
        for t in range(T) if self.reverse else range(T - 1, -1, -1):
            dy = g[t + 1 - rev]
            if t < shortest:
                dh += dy
                dh, dc = cell.step_back(t, dh, dc, dgates[t])
                continue
            running = (t < lengths)[:, None]  # (B, 1): past its end the state's gradient passes by
            carry_h, carry_c = dh * ~running, (None if dc is None else dc * ~running)
            dh = (dh + dy) * running
            dh, dc = cell.step_back(t, dh, None if dc is None else dc * running, dgates[t])
            dh += carry_h
            if dc is not None:
                dc += carry_c
        dh += g[T * rev]  # the output's copy of h0

        d2 = dgates.reshape(T * B, -1)  # (T, B, G*H) -> (T*B, G*H)
        want = [x.requires_grad for x in self.inputs]
        bias = len(self.inputs) - n_states == 5
        dx = (d2 @ self.w_ih).reshape(T, B, -1) if want[0] else None  # (T*B, I) -> (T, B, I)
        dw_ih = d2.T @ self.x2 if want[1] else None
        dw_hh, db_hh = cell.hh_grads(d2, cell.h_in.reshape(T * B, H), bias)
        grads = [dx, dw_ih, dw_hh]
        if bias:
            db_ih = d2.sum(axis=0)
            grads += [db_ih, db_ih.copy() if db_hh is None else db_hh]
        grads += [dh, dc][:n_states]
        return tuple(None if a is None else Tensor._wrap(a, False) for a in grads)


def fused_sequence(
    kind: str,
    x: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    state: tuple[Tensor, ...],
    *,
    reverse: bool = False,
    lengths: np.ndarray | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run one layer and direction over x (T, B, I) from `state` as one node; returns (outputs (T, B, H),
    final state). Same arguments and results as `project` + `scan` in nn/recurrent.py.

    `kind` is "rnn_tanh", "rnn_relu", "lstm" or "gru"; b_ih and b_hh are both given or both None.
    """
    T = x.shape[0]
    bias = b_ih is not None
    inputs = (x, w_ih, w_hh) + ((b_ih, b_hh) if bias else ()) + tuple(state)
    y = FusedSequence.apply(*inputs, kind=kind, reverse=reverse, lengths=lengths, bias=bias)
    first = 0 if reverse else 1  # the row of y_0: after h0 going forward, before it in reverse
    return y[first : first + T], tuple(y[T + 1 + k] for k in range(len(state)))  # (T, B, H), S x (B, H)
