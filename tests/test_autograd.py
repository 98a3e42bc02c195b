"""The backward engine's contract (docs/architecture.md), checked with core ops only.

Graph shapes (diamonds, reuse, a 100,000-node chain), accumulation, higher-order gradients,
detach and truncated BPTT, retain_grad, grad mode, scopes, anomaly mode, released graphs, dtypes,
and a tanh RNN against a hand-written NumPy BPTT.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq import Tensor, gradcheck

RECURSION_LIMIT_AT_IMPORT = sys.getrecursionlimit()


def leaf(*values: float | list, dtype: type = np.float64) -> Tensor:
    return Tensor(np.array(values if len(values) > 1 else values[0], dtype=dtype), requires_grad=True)


# --------------------------------------------------------------------------------- graph shapes


def test_reuse_x_times_x() -> None:
    x = leaf(1.5, -2.0, 0.25)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy())


def test_diamond_a_plus_b_times_a() -> None:
    a, b = leaf(2.0, -1.0), leaf(0.5, 3.0)
    ((a + b) * a).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), 2 * a.numpy() + b.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), a.numpy())


def test_a_tensor_used_by_many_branches_gets_every_contribution() -> None:
    x = leaf(0.5, -1.0)
    y = x.exp() + x.tanh() * 2 + x * x * x + x
    y.sum().backward()
    v = x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(v) + 2 * (1 - np.tanh(v) ** 2) + 3 * v**2 + 1)


def test_100000_node_chain_at_the_default_recursion_limit() -> None:
    limit = sys.getrecursionlimit()
    assert limit == RECURSION_LIMIT_AT_IMPORT <= 1000, "this test must run at Python's default limit"
    x = leaf(0.5)
    y = x
    for i in range(100_000):
        y = y * 1.0 if i % 2 else y + 0.0
    assert len(tg.autograd.toposort([y])) == 100_000
    y.backward()
    assert x.grad.item() == 1.0
    del y  # freeing the chain must not recurse either
    assert sys.getrecursionlimit() == limit


# --------------------------------------------------------------------------------- accumulation


def test_two_backward_calls_through_a_retained_graph_accumulate() -> None:
    x = leaf(1.0, 2.0)
    y = (x * x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * x.numpy() ** 2)


def test_two_separate_graphs_accumulate_into_the_same_leaf() -> None:
    x = leaf(1.0, -2.0)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy() + 3)


def test_a_second_backward_through_a_released_graph_says_retain_graph() -> None:
    x = leaf(1.0, 2.0)
    y = (x.tanh() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        y.backward()


# --------------------------------------------------------------------------------- higher order


def test_hessian_vector_product_of_a_cubic_form() -> None:
    """f = x^T A x + sum(x^3): H = A + A^T + diag(6 x)."""
    rng = np.random.default_rng(0)
    A, v, x0 = rng.standard_normal((4, 4)), rng.standard_normal(4), rng.standard_normal(4)
    x = Tensor(x0, requires_grad=True)
    f = (x @ (Tensor(A) @ x)) + (x**3).sum()
    (g,) = tg.grad(f, [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), (A + A.T) @ x0 + 3 * x0**2)
    (hv,) = tg.grad((g * Tensor(v)).sum(), [x])
    np.testing.assert_allclose(hv.numpy(), (A + A.T + np.diag(6 * x0)) @ v)


def test_hessian_vector_product_of_sum_tanh_wx() -> None:
    """f = sum(tanh(W x)): H = W^T diag(-2 t (1 - t^2)) W with t = tanh(W x)."""
    rng = np.random.default_rng(1)
    W, v, x0 = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    x = Tensor(x0, requires_grad=True)
    (g,) = tg.grad((Tensor(W) @ x).tanh().sum(), [x], create_graph=True)
    (hv,) = tg.grad((g * Tensor(v)).sum(), [x])
    t = np.tanh(W @ x0)
    np.testing.assert_allclose(hv.numpy(), W.T @ np.diag(-2 * t * (1 - t**2)) @ W @ v)


def test_create_graph_gives_differentiable_grads() -> None:
    x = leaf(0.3, -0.7)
    (x.sigmoid() * x).sum().backward(create_graph=True)
    assert x.grad.grad_fn is not None and x.grad.requires_grad
    first = x.grad
    x.grad = None
    first.sum().backward()
    s = 1 / (1 + np.exp(-x.numpy()))
    # d/dx [s + x s (1 - s)] = s(1-s) + s(1-s) + x s(1-s)(1-2s)
    np.testing.assert_allclose(x.grad.numpy(), 2 * s * (1 - s) + x.numpy() * s * (1 - s) * (1 - 2 * s))


def test_without_create_graph_grads_record_nothing() -> None:
    x = leaf(0.3, -0.7)
    (g,) = tg.grad((x * x).sum(), [x])
    assert g.grad_fn is None and not g.requires_grad


def test_grad_returns_zeros_for_unused_inputs() -> None:
    x, unused = leaf(1.0, 2.0), leaf(3.0, 4.0, 5.0)
    gx, gu = tg.grad((x * x).sum(), [x, unused])
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    assert gu.shape == (3,)
    np.testing.assert_array_equal(gu.numpy(), 0.0)
    assert unused.grad is None and x.grad is None  # grad() returns, it does not store


# --------------------------------------------------------------------------------- detach, retain_grad


def test_gradients_before_a_detach_point_are_exactly_zero() -> None:
    w1, w2 = leaf(0.5, -1.5), leaf(2.0, 0.25)
    h = (w1 * 3).tanh()
    out = (h.detach() * w2).sum() + (w2 * w2).sum()
    g1, g2 = tg.grad(out, [w1, w2], retain_graph=True)
    np.testing.assert_array_equal(g1.numpy(), np.zeros(2))
    np.testing.assert_allclose(g2.numpy(), h.numpy() + 2 * w2.numpy())
    out.backward()
    assert w1.grad is None
    assert not h.detach().requires_grad and h.detach().grad_fn is None
    np.testing.assert_array_equal(h.detach().numpy(), h.numpy())


def test_retain_grad_keeps_an_intermediate_gradient() -> None:
    x = leaf(0.5, -1.0, 2.0)
    h = x.tanh()
    h.retain_grad()
    other = x * 2  # an intermediate without retain_grad
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    assert other.grad is None
    np.testing.assert_allclose(x.grad.numpy(), 2 * h.numpy() * (1 - h.numpy() ** 2) + 2)


# --------------------------------------------------------------------------------- grad mode


def test_no_grad_and_enable_grad_as_context_managers_nested() -> None:
    x = leaf(1.0, 2.0)
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            z = x * 2
            with tg.no_grad():
                assert not tg.is_grad_enabled()
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None and z.requires_grad


def test_no_grad_and_enable_grad_as_decorators() -> None:
    x = leaf(1.0, 2.0)

    @tg.no_grad()
    def frozen(t: Tensor) -> Tensor:
        assert not tg.is_grad_enabled()
        return inner(t) * 3

    @tg.enable_grad()
    def inner(t: Tensor) -> Tensor:
        assert tg.is_grad_enabled()
        return t * t

    out = frozen(x)
    assert tg.is_grad_enabled()
    assert out.grad_fn is None
    assert inner(x).requires_grad


def test_grad_mode_is_restored_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError):
        with tg.no_grad():
            1 / 0
    assert tg.is_grad_enabled()


# --------------------------------------------------------------------------------- scopes


def test_scopes_nest_and_are_recorded_on_grad_fn() -> None:
    x = leaf(1.0, 2.0)
    with tg.scope("rnn"):
        a = x * 2
        with tg.scope("t=0"):
            assert tg.current_scope() == ("rnn", "t=0")
            b = a.tanh()
        c = b + 1
    d = c.sum()
    assert a.grad_fn.scope == ("rnn",)
    assert b.grad_fn.scope == ("rnn", "t=0")
    assert c.grad_fn.scope == ("rnn",)
    assert d.grad_fn.scope == ()
    assert tg.current_scope() == ()


def test_scope_is_closed_after_an_exception() -> None:
    with pytest.raises(KeyError):
        with tg.scope("layer"):
            raise KeyError("boom")
    assert tg.current_scope() == ()


# --------------------------------------------------------------------------------- anomaly mode


def test_detect_anomaly_names_op_scope_and_line_for_a_nan_in_forward() -> None:
    x = leaf(-1.0, 2.0)
    with tg.detect_anomaly(), tg.scope("t=3"), np.errstate(invalid="ignore"), \
            pytest.raises(tg.AnomalyError) as info:
        x.log()  # the line the message must quote
    message = str(info.value)
    assert "Log" in message and "forward" in message and "NaN" in message
    assert "t=3" in message
    assert "test_autograd.py" in message and "x.log()  # the line the message must quote" in message


def test_detect_anomaly_names_op_scope_and_line_for_an_inf_in_backward() -> None:
    x = leaf(0.0, 4.0)
    with tg.detect_anomaly():
        with tg.scope("cell"):
            y = x.sqrt()  # sqrt at 0: its gradient is infinite
        with pytest.raises(tg.AnomalyError) as info, np.errstate(divide="ignore"):
            y.sum().backward()
    message = str(info.value)
    assert "Sqrt" in message and "backward" in message and "Inf" in message
    assert "cell" in message
    assert "y = x.sqrt()  # sqrt at 0" in message


def test_without_detect_anomaly_nothing_is_checked() -> None:
    x = leaf(0.0, 4.0)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    assert np.isinf(x.grad.numpy()[0])


# --------------------------------------------------------------------------------- dtypes, dispatch


def test_gradients_keep_the_input_dtype() -> None:
    p32, p64 = leaf(0.5, 1.5, dtype=np.float32), leaf(2.0, 3.0)
    out = (p32 * p64).sum()  # promoted to float64 like NumPy
    assert out.dtype == np.float64
    out.backward()
    assert p32.grad.dtype == np.float32 and p64.grad.dtype == np.float64
    np.testing.assert_allclose(p32.grad.numpy(), [2.0, 3.0])
    q = leaf(0.5, -1.0, dtype=np.float32)
    (q.astype(np.float64) * np.array([1.0, 2.0])).sum().backward()
    assert q.grad.dtype == np.float32


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv, operator.matmul],
                         ids=lambda f: f.__name__)
def test_ndarray_on_the_left_dispatches_to_the_tensor(op: Callable) -> None:
    x = leaf(1.0, 2.0)
    a = np.array([3.0, 4.0])
    out = op(a, x)
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.numpy(), op(a, x.numpy()))
    out.sum().backward()
    assert x.grad is not None


def test_numpy_scalar_on_the_left_dispatches_to_the_tensor() -> None:
    x = leaf(1.0, 2.0)
    out = np.float64(2.0) * x
    assert isinstance(out, Tensor) and out.requires_grad


# --------------------------------------------------------------------------------- recurrence

T, B, D, H = 5, 2, 3, 4


def rnn_data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return dict(xs=rng.standard_normal((T, B, D)), ys=rng.standard_normal((T, B, H)) * 0.5,
                h0=rng.standard_normal((B, H)) * 0.1, Wx=rng.standard_normal((D, H)) * 0.5,
                Wh=rng.standard_normal((H, H)) * 0.5, b=rng.standard_normal(H) * 0.1)


def rnn(xs: np.ndarray, ys: np.ndarray, h: Tensor, Wx: Tensor, Wh: Tensor | list[Tensor], b: Tensor,
        steps: range | None = None) -> tuple[Tensor, list[Tensor]]:
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b); loss = sum_t 0.5 |h_t - y_t|^2. Wh may be one weight per step."""
    loss, hs = None, []
    for t in steps if steps is not None else range(len(xs)):
        W = Wh[t] if isinstance(Wh, list) else Wh
        h = (Tensor(xs[t]) @ Wx + h @ W + b).tanh()
        diff = h - Tensor(ys[t])
        step_loss = 0.5 * (diff * diff).sum()
        loss = step_loss if loss is None else loss + step_loss
        hs.append(h)
    return loss, hs


def numpy_bptt(xs, ys, h0, Wx, Wh, b):  # noqa: ANN001, ANN201 (plain arrays in, plain arrays out)
    """The same RNN's gradients by hand: forward, then backward through time step by step."""
    hs = [h0]
    for t in range(len(xs)):
        hs.append(np.tanh(xs[t] @ Wx + hs[-1] @ Wh + b))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    per_step_dWh = []
    dh_next = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        dh = (hs[t + 1] - ys[t]) + dh_next
        dz = dh * (1 - hs[t + 1] ** 2)
        dWx += xs[t].T @ dz
        per_step_dWh.insert(0, hs[t].T @ dz)
        db += dz.sum(0)
        dh_next = dz @ Wh.T
    dWh = sum(per_step_dWh)
    return dict(Wx=dWx, Wh=dWh, b=db, h0=dh_next, per_step_Wh=per_step_dWh, hs=hs[1:])


def test_tanh_rnn_gradients_equal_hand_written_numpy_bptt() -> None:
    d = rnn_data()
    params = {k: Tensor(d[k], requires_grad=True) for k in ("h0", "Wx", "Wh", "b")}
    loss, hs = rnn(d["xs"], d["ys"], params["h0"], params["Wx"], params["Wh"], params["b"])
    loss.backward()
    expected = numpy_bptt(d["xs"], d["ys"], d["h0"], d["Wx"], d["Wh"], d["b"])
    for t in range(T):
        np.testing.assert_allclose(hs[t].numpy(), expected["hs"][t], rtol=1e-12)
    for k in ("h0", "Wx", "Wh", "b"):
        np.testing.assert_allclose(params[k].grad.numpy(), expected[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_shared_weight_gradient_is_the_sum_of_per_step_contributions() -> None:
    d = rnn_data(1)
    shared = Tensor(d["Wh"], requires_grad=True)
    per_step = [Tensor(d["Wh"].copy(), requires_grad=True) for _ in range(T)]  # same values, one per step
    h0, Wx, b = (Tensor(d[k]) for k in ("h0", "Wx", "b"))
    rnn(d["xs"], d["ys"], h0, Wx, shared, b)[0].backward()
    rnn(d["xs"], d["ys"], h0, Wx, per_step, b)[0].backward()
    expected = numpy_bptt(d["xs"], d["ys"], d["h0"], d["Wx"], d["Wh"], d["b"])
    for t in range(T):
        np.testing.assert_allclose(per_step[t].grad.numpy(), expected["per_step_Wh"][t], rtol=1e-10,
                                   atol=1e-12)
    np.testing.assert_allclose(shared.grad.numpy(), sum(w.grad.numpy() for w in per_step), rtol=1e-12)


CHUNKS = [range(0, 2), range(2, 4), range(4, 5)]


def test_chunked_recurrence_with_carried_state_equals_the_whole_sequence() -> None:
    d = rnn_data(2)
    Wx, Wh, b = (Tensor(d[k], requires_grad=True) for k in ("Wx", "Wh", "b"))
    _, whole = rnn(d["xs"], d["ys"], Tensor(d["h0"]), Wx, Wh, b)
    h, chunked = Tensor(d["h0"]), []
    for steps in CHUNKS:
        _, hs = rnn(d["xs"], d["ys"], h, Wx, Wh, b, steps)
        chunked += hs
        h = hs[-1].detach()
    assert len(chunked) == len(whole) == T
    for a, c in zip(whole, chunked):
        np.testing.assert_array_equal(a.numpy(), c.numpy())


def test_truncated_bptt_gradients_equal_finite_differences_of_the_truncated_objective() -> None:
    """Backward per chunk with the carried state detached gives the gradient of
    J(W) = sum_k L_k(W; h_k), each chunk's start state h_k held at its value."""
    d = rnn_data(3)
    Wx, Wh, b = (Tensor(d[k], requires_grad=True) for k in ("Wx", "Wh", "b"))
    h, starts = Tensor(d["h0"]), []
    for steps in CHUNKS:  # the training loop: one backward per chunk, gradients accumulate
        starts.append(h.numpy().copy())
        loss, hs = rnn(d["xs"], d["ys"], h, Wx, Wh, b, steps)
        loss.backward()
        h = hs[-1].detach()

    def truncated_objective(wx: Tensor, wh: Tensor, bias: Tensor) -> Tensor:
        total = None
        for steps, start in zip(CHUNKS, starts):
            loss = rnn(d["xs"], d["ys"], Tensor(start), wx, wh, bias, steps)[0]
            total = loss if total is None else total + loss
        return total

    assert gradcheck(truncated_objective, [d["Wx"], d["Wh"], d["b"]])
    inputs = [Tensor(d[k], requires_grad=True) for k in ("Wx", "Wh", "b")]
    analytic = tg.grad(truncated_objective(*inputs), inputs)
    for param, g in zip((Wx, Wh, b), analytic):
        np.testing.assert_allclose(param.grad.numpy(), g.numpy(), rtol=1e-12, atol=1e-14)
    # truncation changed something: the full-sequence gradient of Wh differs
    full = numpy_bptt(d["xs"], d["ys"], d["h0"], d["Wx"], d["Wh"], d["b"])
    assert not np.allclose(Wh.grad.numpy(), full["Wh"])
