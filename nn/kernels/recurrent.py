"""Fused recurrent sequences: one graph node runs one layer and direction of an RNN, LSTM or GRU over time.

The composed reference it replaces is ``nn/recurrent.py``'s `project` (x @ W_ih^T + b for all steps)
followed by `scan` over the cell's step function: about a dozen small ops per time step forward and twice
that backward, each a Tensor and a graph node. ``fused=True`` on `RNN` / `LSTM` / `GRU` runs the same
maths here instead, as one `Function` per layer and direction:

- forward: the input projection of all T steps is one (batched) GEMM straight into a gate buffer; each
  step adds h @ W_hh^T and applies the gate nonlinearities in place (ufuncs with ``out=``);
- backward: BPTT writes the gate gradients of every step into one buffer; the gradients of W_ih, W_hh
  and the input are then one GEMM per gate over all T*B rows (not T small ones);
- NOTE: speed: the gate buffers are (G, T, B, H), so that every gate of every step is one contiguous
  (B, H) block (NumPy runs a ufunc over a contiguous block several times faster than over a column
  slice of a (B, G*H) row), and the sigmoid gates are halved before one tanh over all of the LSTM's
  gates, which then gives them as 0.5 + 0.5 tanh(a / 2) with two more passes (the GRU's r and z
  likewise); the weights are used as they are (no copies per call: sampling calls with T = 1);
- float32 stays float32 and float64 stays float64; ``lengths=`` (state carried, output zero past each
  sequence's end) and ``reverse`` (positions T-1, ..., 0) behave as in `scan`.

tests/test_kernels_recurrent.py holds the two equal: outputs, final states and every gradient (input,
initial state, every parameter) agree in float64 to 1e-10 (relative) on hypothesis-drawn configurations,
and the fused node passes gradcheck on its own.

First-order only: backward is NumPy, not Tensor ops, so differentiating it again (``create_graph=True``)
raises the engine's `FirstOrderOnlyError`, which says to build the layer with ``fused=False``.

The node has separate outputs: y (T, B, H), every step's output, then the final h (B, H) and, for the
LSTM, the final c; backward gets one gradient for each (zeros for one nobody used).

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

from tinygrad_seq.autograd import Function
from tinygrad_seq.tensor import Tensor

__all__ = ["FusedSequence", "fused_sequence"]

_TITLES = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU"}


def _halve_(a: np.ndarray) -> None:
    """a := a / 2 in place, before the tanh that gives sigma(x) = 0.5 + 0.5 tanh(x / 2)."""
    np.multiply(a, 0.5, out=a)


def _sigmoid_from_tanh_(a: np.ndarray) -> None:
    """a := 0.5 + 0.5 a in place: sigma(x) from a = tanh(x / 2) (the same value as 1 / (1 + e^-x))."""
    np.multiply(a, 0.5, out=a)
    np.add(a, 0.5, out=a)


def sigmoid_grad_(grad: np.ndarray, s: np.ndarray, work: np.ndarray) -> None:
    """grad *= s * (1 - s) in place, s = sigma(x): the gradient through a sigmoid (work: scratch of grad's
    shape). Also used by benchmarks/recurrent_lm.py's hand-written step."""
    np.subtract(1, s, out=work)
    work *= s
    grad *= work


def tanh_grad_(grad: np.ndarray, t: np.ndarray, work: np.ndarray) -> None:
    """grad *= 1 - t^2 in place, t = tanh(x): the gradient through a tanh."""
    np.multiply(t, t, out=work)
    np.subtract(1, work, out=work)
    grad *= work


# ---------------------------------------------------------------------------------------------
# cells: one time step forward and backward, on the shared buffers
# ---------------------------------------------------------------------------------------------


class _Cell:
    """What differs between the kinds.

    ``gates`` (G, T, B, H) holds x @ W_ih^T + bias on entry; a step turns block [:, t] into the activated
    gates, which backward reads. ``w_hh`` (G, H, H) is W_hh per gate (for backward), ``w_hh_t`` W_hh^T per
    gate (for the forward step), ``b_hh`` (G, 1, H) the bias the step adds (GRU only). ``h_in`` (T, B, H)
    is the h each step read.
    """

    def __init__(self, gates: np.ndarray, w_hh: np.ndarray, w_hh_t: np.ndarray, b_hh: np.ndarray | None,
                 h_in: np.ndarray, reverse: bool) -> None:
        self.gates, self.w_hh, self.w_hh_t, self.b_hh, self.h_in = gates, w_hh, w_hh_t, b_hh, h_in
        G, _, B, H = gates.shape
        self.H, self.rev = H, int(reverse)
        self.work = np.empty((G, B, H), gates.dtype)  # scratch, one block per gate
        self.small = np.empty((B, H), gates.dtype)

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
        (G, B, H); return the gradient of the (h, c) the step read."""
        raise NotImplementedError

    def hh_grads(self, dgates: np.ndarray, h_in: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(dW_hh (G, H, H), db_hh (G, H) or None when it equals db_ih), one GEMM per gate over all T*B
        rows: dgates (G, T*B, H), h_in (T*B, H)."""
        return np.matmul(dgates.transpose(0, 2, 1), h_in), None


class _RNNCell(_Cell):
    """h' = tanh(gx + h @ W_hh^T) (relu in `_ReluRNNCell`); the gate buffer keeps h'."""

    relu = False

    def step(self, t, h, out):
        g = self.gates[0, t]
        np.matmul(h, self.w_hh_t[0], out=self.small)
        g += self.small
        if self.relu:
            np.maximum(g, 0, out=g)
        else:
            np.tanh(g, out=g)
        out[...] = g
        return out

    def step_back(self, t, dh, dc, dgates):
        g, d = self.gates[0, t], dgates[0]
        if self.relu:
            np.multiply(dh, g > 0, out=d)
        else:
            np.copyto(d, dh)
            tanh_grad_(d, g, self.small)
        return d @ self.w_hh[0], None


class _LSTMCell(_Cell):
    """i, f, g, o = sigma, sigma, tanh, sigma of (gx + h @ W_hh^T); c' = f c + i g; h' = o tanh(c')."""


    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # every c in one buffer, in position order: step t reads row t + rev and writes row t + 1 - rev
        T, B, H = self.h_in.shape
        self.cs = np.empty((T + 1, B, H), self.gates.dtype)
        self.tcs = np.empty((T, B, H), self.gates.dtype)  # tanh(c') of each step, which backward reads
        self.side = np.empty((B, len(self.gates), H), self.gates.dtype)  # dgates of a step, (B, G, H)

    def start(self, extra):
        self.cs[len(self.h_in) * self.rev] = extra[0]

    def step(self, t, h, out):
        a, small = self.gates[:, t], self.small
        np.matmul(h, self.w_hh_t, out=self.work)  # (B, H) @ (G, H, H) -> (G, B, H)
        a += self.work
        _halve_(a[:2])  # i, f
        _halve_(a[3])  # o
        np.tanh(a, out=a)
        _sigmoid_from_tanh_(a[:2])
        _sigmoid_from_tanh_(a[3])  # o
        i, f, g, o = a
        c, c_new = self.cs[t + self.rev], self.cs[t + 1 - self.rev]
        np.multiply(f, c, out=c_new)
        c_new += np.multiply(i, g, out=small)
        np.tanh(c_new, out=self.tcs[t])
        np.multiply(o, self.tcs[t], out=out)
        return out

    def keep(self, t, running):
        np.copyto(self.cs[t + 1 - self.rev], self.cs[t + self.rev], where=~running)

    def finals(self):
        return [self.cs[len(self.h_in) * (1 - self.rev)]]

    def step_back(self, t, dh, dc, dgates):
        a, work = self.gates[:, t], self.work
        i, f, g, o = a
        di, df, dg, do = dgates
        # NOTE: speed: tanh(c') is kept by the forward (T*B*H more numbers) rather than recomputed here
        # (a tanh over B*H numbers a step: 5% of the step); past a sequence's end dh and dc are zero,
        # so the value kept there before the state was held does not matter
        tc = self.tcs[t]
        np.multiply(dh, tc, out=do)
        # dc += dh * o * (1 - tanh(c')^2)
        tanh_grad_(np.multiply(dh, o, out=work[0]), tc, work[1])
        dc += work[0]
        np.multiply(dc, g, out=di)
        np.multiply(dc, self.cs[t + self.rev], out=df)
        np.multiply(dc, i, out=dg)
        dc *= f  # the gradient of the c this step read
        sigmoid_grad_(dgates[:2], a[:2], work[:2])
        sigmoid_grad_(do, o, work[2])
        tanh_grad_(dg, g, work[3])
        # NOTE: speed: the gates side by side, (B, G*H) @ W_hh (G*H, H), one GEMM that sums over the gates
        G, B, H = dgates.shape
        np.copyto(self.side, dgates.transpose(1, 0, 2))
        return self.side.reshape(B, G * H) @ self.w_hh.reshape(G * H, H), dc


class _GRUCell(_Cell):
    """r, z = sigma(gx_rz + gh_rz); n = tanh(gx_n + r * gh_n); h' = n + z (h - n); gh = h @ W_hh^T + b_hh."""


    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.gh_n = np.empty_like(self.h_in)  # W_hn h + b_hn of each step (r multiplies it)
        self.dgh_n = None  # its gradient, dgates_n * r, made by backward

    def step(self, t, h, out):
        a, gh = self.gates[:, t], self.work
        np.matmul(h, self.w_hh_t, out=gh)  # (B, H) @ (G, H, H) -> (G, B, H)
        if self.b_hh is not None:
            gh += self.b_hh
        rz = a[:2]
        rz += gh[:2]
        _halve_(rz)
        np.tanh(rz, out=rz)
        _sigmoid_from_tanh_(rz)
        r, z, n = a
        self.gh_n[t] = gh[2]
        n += np.multiply(r, gh[2], out=self.small)
        np.tanh(n, out=n)
        np.subtract(h, n, out=out)
        out *= z
        out += n
        return out

    def step_back(self, t, dh, dc, dgates):
        a, dgh = self.gates[:, t], self.work
        if self.dgh_n is None:
            self.dgh_n = np.empty_like(self.gh_n)
        r, z, n = a
        dr, dz, dn = dgates
        direct = dh * z  # h' = n + z (h - n): the path straight to h
        np.subtract(dh, direct, out=dn)
        np.subtract(self.h_in[t], n, out=dz)
        dz *= dh
        tanh_grad_(dn, n, self.small)
        np.multiply(dn, self.gh_n[t], out=dr)
        sigmoid_grad_(dgates[:2], a[:2], dgh[:2])
        np.multiply(dn, r, out=self.dgh_n[t])
        np.matmul(dgates[:2], self.w_hh[:2], out=dgh[:2])  # the r and z pre-activations see gh as gx
        np.matmul(self.dgh_n[t], self.w_hh[2], out=dgh[2])
        dh_prev = dgh.sum(axis=0)
        dh_prev += direct
        return dh_prev, None

    def hh_grads(self, dgates, h_in):
        dgh_n = self.dgh_n.reshape(-1, self.H)  # n's pre-activation sees gh_n through r: (T*B, H)
        self.dgh_n = None  # a scratch of backward: a second backward (retain_graph) makes a new one
        dw = np.empty((3, self.H, self.H), dgates.dtype)
        np.matmul(dgates[:2].transpose(0, 2, 1), h_in, out=dw[:2])
        np.matmul(dgh_n.T, h_in, out=dw[2])
        return dw, np.concatenate([dgates[:2].sum(axis=1), dgh_n.sum(axis=0)[None]])


class _ReluRNNCell(_RNNCell):
    """h' = relu(gx + h @ W_hh^T)."""

    relu = True


_CELLS: dict[str, type[_Cell]] = {"rnn_tanh": _RNNCell, "rnn_relu": _ReluRNNCell, "lstm": _LSTMCell,
                                   "gru": _GRUCell}


def _per_gate(w: np.ndarray, G: int) -> np.ndarray:
    """(G*H, ...) -> (G, H, ...): one block per gate (a view)."""
    return w.reshape(G, -1, *w.shape[1:])


# ---------------------------------------------------------------------------------------------
# the node
# ---------------------------------------------------------------------------------------------


class FusedSequence(Function):
    """One layer and direction over a whole sequence as one node with separate outputs: inputs
    x (T, B, I), W_ih (G*H, I), W_hh (G*H, H), [b_ih, b_hh (G*H,)], h0 [, c0] (B, H) -> outputs
    y (T, B, H), h_n (B, H) [, c_n (B, H)]; first-order only."""

    legend = "fused: one op runs a layer over all its time steps; build it with fused=False to see each step"
    first_order_only = ("Build the layer with fused=False: the same weights and results, as small ops that "
                        "support higher-order gradients.")

    @property
    def name(self) -> str:
        return "Fused" + _TITLES.get(getattr(self, "kind", ""), "Sequence")

    @property
    def label(self) -> str:  # type: ignore[override]
        """What the picture writes in this node's box: name, "fused", the steps and the shapes."""
        x, w_hh = self.inputs[0], self.inputs[2]
        T, B = x.shape[:2]
        finals = "h_n, c_n" if self.kind == "lstm" else "h_n"
        steps = f"{T} steps" + (", reversed" if self.reverse else "")
        return f"{_TITLES[self.kind]}, fused ({steps})\n{x.shape} → {(T, B, w_hh.shape[1])}, {finals}"

    def forward(self, x, w_ih, w_hh, *rest, kind: str, reverse: bool,  # type: ignore[override]
                lengths: np.ndarray | None, bias: bool):
        self.kind, self.reverse = kind, reverse
        dtype = np.result_type(x, w_ih, w_hh, *rest)
        x, w_ih, w_hh, *rest = (a.astype(dtype, copy=False) for a in (x, w_ih, w_hh, *rest))  # type: ignore[assignment]
        b_ih, b_hh = rest[:2] if bias else (None, None)
        state = rest[2:] if bias else rest
        T, B, I = x.shape
        H, rev = w_hh.shape[1], int(reverse)
        G = w_hh.shape[0] // H

        x2 = x.reshape(T * B, I)  # (T, B, I) -> (T*B, I)
        w_ih_g, w_hh_g = _per_gate(w_ih, G), _per_gate(w_hh, G)  # (G, H, I), (G, H, H)
        gates = np.empty((G, T, B, H), dtype)
        np.matmul(x2, w_ih_g.transpose(0, 2, 1), out=gates.reshape(G, T * B, H))
        step_bias = None
        if bias and kind == "gru":
            gates += _per_gate(b_ih, G)[:, None, None]  # b_hh stays in the step: r gates b_hn
            step_bias = _per_gate(b_hh, G)[:, None]  # (G, 1, H)
        elif bias:
            gates += _per_gate(b_ih + b_hh, G)[:, None, None]
        w_hh_t = w_hh_g.transpose(0, 2, 1)  # (G, H, H): W_hh^T per gate
        if T > 4:  # NOTE: speed: BLAS reads a contiguous copy faster; worth its copy over a few steps
            w_hh_t = np.ascontiguousarray(w_hh_t)

        # NOTE: memory: h0 and the T outputs in one buffer, in the order the steps read them (forward:
        # h0, y_0, ..., y_(T-1); reverse: y_0, ..., y_(T-1), h0), so that the output y is a view of it
        # and, without padding, so is the h each step read
        hs = np.empty((T + 1, B, H), dtype)
        hs[T * rev] = state[0]
        y = hs[1 - rev : T + 1 - rev]  # (T, B, H)
        shortest = T if lengths is None else int(min(T, lengths.min(initial=T)))
        h_in = hs[rev : rev + T] if shortest == T else np.empty((T, B, H), dtype)
        cell = _CELLS[kind](gates, w_hh_g, w_hh_t, step_bias, h_in, reverse)
        cell.start(state[1:])

        h = hs[T * rev]
        for t in range(T - 1, -1, -1) if reverse else range(T):
            if shortest < T:
                h_in[t] = h
            new_h = cell.step(t, h, y[t])
            if t < shortest:  # every sequence is still running: no mask
                h = new_h
                continue
            assert lengths is not None  # shortest < T only with lengths
            running = (t < lengths)[:, None]  # (B, 1): past its end a sequence keeps its state
            h = np.where(running, new_h, h)
            cell.keep(t, running)
            y[t] *= running  # and outputs zero
        self.save_for_backward(x2, w_ih_g, cell, lengths, shortest)
        return (y, np.array(h), *(np.array(s) for s in cell.finals()))  # y, h_n [, c_n] (copies)

    def backward(self, dy, dh_n, dc_n=None):
        x2, w_ih_g, cell, lengths, shortest = self.saved_tensors
        T, B, H = cell.h_in.shape
        dtype = cell.gates.dtype
        dy = dy.astype(dtype, copy=False)
        dh = dh_n.astype(dtype, copy=True)
        dc = None if dc_n is None else dc_n.astype(dtype, copy=True)
        dgates = np.empty(cell.gates.shape, dtype)  # (G, T, B, H)
        for t in range(T) if self.reverse else range(T - 1, -1, -1):
            if t < shortest:
                dh += dy[t]
                dh, dc = cell.step_back(t, dh, dc, dgates[:, t])
                continue
            running = (t < lengths)[:, None]  # (B, 1): past its end the state's gradient passes by
            carry_h, carry_c = dh * ~running, (None if dc is None else dc * ~running)
            dh = (dh + dy[t]) * running
            dh, dc = cell.step_back(t, dh, None if dc is None else dc * running, dgates[:, t])
            dh += carry_h
            if dc is not None:
                dc += carry_c

        G = dgates.shape[0]
        d3 = dgates.reshape(G, T * B, H)  # (G, T, B, H) -> (G, T*B, H)
        want = self.needs_input_grad
        n_states = 1 if dc_n is None else 2
        bias = len(self.inputs) - n_states == 5
        dx = None
        if want[0]:  # sum over gates k of (T*B, H) @ (H, I), one GEMM each into one scratch
            dx, part = d3[0] @ w_ih_g[0], np.empty((T * B, x2.shape[1]), d3.dtype)
            for k in range(1, G):
                dx += np.matmul(d3[k], w_ih_g[k], out=part)
            dx = dx.reshape(T, B, -1)  # (T*B, I) -> (T, B, I)
        dw_ih = np.matmul(d3.transpose(0, 2, 1), x2).reshape(G * H, -1) if want[1] else None
        dw_hh, db_hh = cell.hh_grads(d3, cell.h_in.reshape(T * B, H))
        grads = [dx, dw_ih, dw_hh.reshape(G * H, H)]
        if bias:
            db_ih = d3.sum(axis=1).reshape(-1)  # (G, H) -> (G*H,)
            grads += [db_ih, db_ih.copy() if db_hh is None else db_hh.reshape(-1)]
        grads += [dh, dc][:n_states]
        return tuple(grads)


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
    bias = b_ih is not None
    inputs = (x, w_ih, w_hh) + ((b_ih, b_hh) if bias else ()) + tuple(state)
    y, *finals = FusedSequence.apply(*inputs, kind=kind, reverse=reverse, lengths=lengths, bias=bias)
    return y, tuple(finals)  # (T, B, H), S x (B, H)
