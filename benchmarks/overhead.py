"""Per-op overhead: what one op costs in tinygrad_seq next to the same arithmetic in plain NumPy.

    python benchmarks/overhead.py            # every ratio next to its target
    python benchmarks/overhead.py --profile  # also where the chain's time goes (cProfile)

1. One op: a Tensor add of two (1, 100) float32 arrays under `no_grad` vs a bare NumPy add
   (target <= 1.6x): the cost of Function.apply and of making the result Tensor.
2. A recorded chain of 1,000 small ops on (1, 100) arrays, h = tanh(h * w + b) 333 times and a sum,
   plus its backward vs the same forward and backward written as a plain NumPy loop (target <= 4x):
   graph recording and the backward loop. Both first run in float64 and must agree on every gradient.
3. A tanh RNN training step at two sizes (no target): a small character RNN (vocab 65, hidden 100,
   T=25, batch 1: the overhead of the Python graph dominates) and a larger one (batch 32, hidden 256,
   T=64: NumPy's arithmetic does), against hand-written forward + BPTT (also used by min_char_rnn.py).
"""

from __future__ import annotations

import argparse

from timing import compare as compare_steps  # sets BLAS's thread count: before NumPy loads
from timing import profile

# isort: split
import numpy as np

import tinygrad_seq as ts
from tinygrad_seq import Tensor
from tinygrad_seq.functional import cross_entropy

ADD_TARGET, CHAIN_TARGET, LINKS, ADDS = 1.6, 4.0, 333, 200


def add_steps() -> tuple:
    """(engine, numpy): `ADDS` adds of two (1, 100) float32 arrays, as Tensors under no_grad and bare."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((1, 100)).astype(np.float32) for _ in range(2))
    x, y = Tensor(a), Tensor(b)

    def engine() -> None:
        with ts.no_grad():
            for _ in range(ADDS):
                x + y

    def numpy() -> None:
        for _ in range(ADDS):
            a + b

    return engine, numpy


def chain_engine(x: Tensor, w: Tensor, b: Tensor) -> list[np.ndarray]:
    """h = tanh(h * w + b) `LINKS` times from x, summed (1,000 ops), then backward; returns the gradients."""
    for p in (x, w, b):
        p.grad = None
    h = x
    for _ in range(LINKS):
        h = (h * w + b).tanh()
    h.sum().backward()
    return [x.grad.numpy(), w.grad.numpy(), b.grad.numpy()]


def chain_numpy(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """The same chain and its backward as a plain NumPy loop."""
    hs = [x]
    for _ in range(LINKS):
        hs.append(np.tanh(hs[-1] * w + b))
    dh, dw, db = np.ones_like(x), np.zeros_like(w), np.zeros_like(b)
    for k in range(LINKS, 0, -1):
        du = dh * (1 - hs[k] * hs[k])
        db += du
        dw += du * hs[k - 1]
        dh = du * w
    return [dh, dw, db]


def chain_steps() -> tuple:
    """(engine, numpy) for the chain, after checking in float64 that they agree on every gradient."""
    rng = np.random.default_rng(0)
    raw = [rng.standard_normal((1, 100)) * s for s in (1.0, 0.5, 0.1)]  # x, w, b
    got = chain_engine(*(Tensor(v, requires_grad=True) for v in raw))
    for g, ref in zip(got, chain_numpy(*raw)):
        assert np.allclose(g, ref, rtol=1e-12, atol=1e-14), "chain: gradients disagree"
    raw = [v.astype(np.float32) for v in raw]
    tensors = [Tensor(v, requires_grad=True) for v in raw]
    return (lambda: chain_engine(*tensors)), (lambda: chain_numpy(*raw))


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="print the chain's top functions by time")
    args = parser.parse_args()
    compare_steps(f"one op: {ADDS} Tensor adds of (1, 100) float32 under no_grad vs bare NumPy adds",
                  *add_steps(), repeats=101, target=ADD_TARGET)
    engine, numpy = chain_steps()
    compare_steps(f"a recorded chain of {3 * LINKS + 1} ops on (1, 100) float32 and its backward vs a NumPy "
                  "loop (gradients checked equal in float64)", engine, numpy, repeats=31, target=CHAIN_TARGET)
    if args.profile:
        profile(engine, 20, top=20)
    print("tanh RNN training step (forward + backward), median of repeated runs; gradients checked equal")
    compare("vocab 65, hidden 100, T=25, B=1", 65, 100, 25, 1, repeats=50)
    compare("vocab 65, hidden 256, T=64, B=32", 65, 256, 64, 32, repeats=10)


if __name__ == "__main__":
    main()
