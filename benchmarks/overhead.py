"""Per-op overhead: a tanh RNN training step in tinygrad_seq vs hand-written NumPy forward + BPTT.

    python benchmarks/overhead.py            # both sizes, prints median times and the ratio

Two sizes: a small character RNN (vocab 65, hidden 100, T=25, batch 1: the overhead of the
Python graph dominates) and a larger one (batch 32, hidden 256, T=64: NumPy's arithmetic does).
Both implementations first run in float64 and must agree on the loss and every gradient.
"""

from __future__ import annotations

from timing import compare as compare_steps  # sets BLAS's thread count: before NumPy loads

# isort: split
import numpy as np

import tinygrad_seq as ts
from tinygrad_seq import Tensor
from tinygrad_seq.functional import cross_entropy


def make_params(vocab: int, hidden: int, dtype, rng: np.random.Generator) -> dict[str, np.ndarray]:
    s = 1 / np.sqrt(hidden)
    return {
        "Wxh": rng.uniform(-s, s, (vocab, hidden)).astype(dtype),
        "Whh": rng.uniform(-s, s, (hidden, hidden)).astype(dtype),
        "bh": np.zeros(hidden, dtype),
        "Why": rng.uniform(-s, s, (hidden, vocab)).astype(dtype),
        "by": np.zeros(vocab, dtype),
    }


def tinygrad_step(params: dict[str, Tensor], inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray):
    """Forward and backward with the engine; returns the loss (mean over T*B) and the gradients."""
    for p in params.values():
        p.grad = None
    T, B = inputs.shape
    vocab = params["Wxh"].shape[0]
    x = Tensor(np.eye(vocab, dtype=params["Wxh"].dtype)[inputs])  # (T, B, V) one-hot
    h = Tensor(h0)
    logits = []
    for t in range(T):
        h = (x[t] @ params["Wxh"] + h @ params["Whh"] + params["bh"]).tanh()  # (B, H)
        logits.append(h @ params["Why"] + params["by"])  # (B, V)
    loss = cross_entropy(ts.stack(logits).reshape(T * B, vocab), targets.reshape(-1))
    loss.backward()
    return loss.item(), {k: p.grad.numpy() for k, p in params.items()}


def numpy_step(params: dict[str, np.ndarray], inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray):
    """The same step written out by hand: forward, softmax cross-entropy, BPTT."""
    Wxh, Whh, bh, Why, by = (params[k] for k in ("Wxh", "Whh", "bh", "Why", "by"))
    T, B = inputs.shape
    n = T * B
    x = np.eye(Wxh.shape[0], dtype=Wxh.dtype)[inputs]  # (T, B, V) one-hot
    hs = np.empty((T + 1, B, Whh.shape[0]), Whh.dtype)
    hs[0] = h0
    probs = np.empty((T, B, Why.shape[1]), Why.dtype)
    loss = 0.0
    for t in range(T):
        hs[t + 1] = np.tanh(x[t] @ Wxh + hs[t] @ Whh + bh)
        z = hs[t + 1] @ Why + by
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        probs[t] = p
        loss -= np.log(p[np.arange(B), targets[t]]).sum()
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        dz = probs[t].copy()
        dz[np.arange(B), targets[t]] -= 1
        dz /= n
        grads["Why"] += hs[t + 1].T @ dz
        grads["by"] += dz.sum(axis=0)
        da = (dz @ Why.T + dh_next) * (1 - hs[t + 1] ** 2)
        grads["Wxh"] += x[t].T @ da
        grads["Whh"] += hs[t].T @ da
        grads["bh"] += da.sum(axis=0)
        dh_next = da @ Whh.T
    return loss / n, grads


def check_agreement(vocab: int, hidden: int, T: int, B: int) -> None:
    rng = np.random.default_rng(0)
    raw = make_params(vocab, hidden, np.float64, rng)
    inputs = rng.integers(0, vocab, (T, B))
    targets = rng.integers(0, vocab, (T, B))
    h0 = np.zeros((B, hidden))
    loss_ts, g_ts = tinygrad_step(
        {k: Tensor(v, requires_grad=True) for k, v in raw.items()}, inputs, targets, h0
    )
    loss_np, g_np = numpy_step(raw, inputs, targets, h0)
    assert abs(loss_ts - loss_np) < 1e-9, (loss_ts, loss_np)
    for k in raw:
        assert np.allclose(g_ts[k], g_np[k], atol=1e-9), k


def compare(name: str, vocab: int, hidden: int, T: int, B: int, repeats: int) -> float:
    check_agreement(vocab, min(hidden, 16), min(T, 6), min(B, 3))
    rng = np.random.default_rng(1)
    raw = make_params(vocab, hidden, np.float32, rng)
    params = {k: Tensor(v, requires_grad=True) for k, v in raw.items()}
    inputs = rng.integers(0, vocab, (T, B))
    targets = rng.integers(0, vocab, (T, B))
    h0 = np.zeros((B, hidden), np.float32)
    label = f"tanh RNN step, {name}"
    ratio = compare_steps(
        label,
        lambda: tinygrad_step(params, inputs, targets, h0),
        lambda: numpy_step(raw, inputs, targets, h0),
        repeats,
    )
    return ratio


def main() -> None:
    print("tanh RNN training step (forward + backward), median of repeated runs; gradients checked equal")
    compare("vocab 65, hidden 100, T=25, B=1", 65, 100, 25, 1, repeats=50)
    compare("vocab 65, hidden 256, T=64, B=32", 65, 256, 64, 32, repeats=10)


if __name__ == "__main__":
    main()
