"""The main job (`make demo`): verify a recurrent network's gradients, then look at its curvature.

    python demos/main.py            # the full run
    python demos/main.py --quick    # a few seconds (CI)

1. A tanh RNN written with core ops, its loss summed over time steps, checked against finite
   differences in float64: the report lists each weight's worst element.
2. A Hessian-vector product (the gradient of <grad L, v>) compared with finite differences of the
   gradient: second-order autograd at work.
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_seq as ts
from tinygrad_seq import Tensor, gradcheck
from tinygrad_seq.functional import cross_entropy


def rnn_loss(x: Tensor, targets: np.ndarray, w_xh: Tensor, w_hh: Tensor, b: Tensor, w_hy: Tensor) -> Tensor:
    """Sum over time steps of the cross-entropy of a tanh RNN's predictions."""
    h = ts.zeros(x.shape[1], w_hh.shape[0], dtype=x.dtype)
    loss = 0.0
    for t in range(x.shape[0]):
        with ts.scope(f"t={t}"):
            h = (x[t] @ w_xh + h @ w_hh + b).tanh()  # (B, H)
            loss = loss + cross_entropy(h @ w_hy, targets[t], reduction="sum")
    return loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for CI")
    args = parser.parse_args()
    T, B, D, H, V = (4, 2, 3, 5, 4) if args.quick else (8, 3, 5, 8, 6)
    rng = np.random.default_rng(0)

    print(f"1. Gradient check: tanh RNN, T={T} steps, batch {B}, input {D}, hidden {H}, {V} classes")
    x = Tensor(rng.standard_normal((T, B, D)))
    targets = rng.integers(0, V, (T, B))
    weights = {
        "W_xh": Tensor(rng.standard_normal((D, H)) * 0.5, requires_grad=True),
        "W_hh": Tensor(rng.standard_normal((H, H)) * 0.5, requires_grad=True),
        "b": Tensor(np.zeros(H), requires_grad=True),
        "W_hy": Tensor(rng.standard_normal((H, V)) * 0.5, requires_grad=True),
    }
    report = gradcheck(lambda *w: rnn_loss(x, targets, *w), list(weights.values()), raise_exception=False)
    print("   inputs, in order:", ", ".join(weights))
    print("   " + str(report).replace("\n", "\n   "))
    if not report:
        raise SystemExit("gradient check failed")

    print("\n2. Hessian-vector product of the same loss with respect to W_hh")
    w_hh = weights["W_hh"]
    v = Tensor(rng.standard_normal(w_hh.shape))

    def gradient(w: Tensor, create_graph: bool = False) -> Tensor:
        loss = rnn_loss(x, targets, weights["W_xh"], w, weights["b"], weights["W_hy"])
        return ts.grad(loss, [w], create_graph=create_graph)[0]

    (hvp,) = ts.grad((gradient(w_hh, create_graph=True) * v).sum(), [w_hh])
    eps = 1e-5
    plus = gradient(Tensor(w_hh.numpy() + eps * v.numpy(), requires_grad=True)).numpy()
    minus = gradient(Tensor(w_hh.numpy() - eps * v.numpy(), requires_grad=True)).numpy()
    numeric = (plus - minus) / (2 * eps)
    error = np.abs(hvp.numpy() - numeric).max()
    print(
        f"   |Hv| = {np.linalg.norm(hvp.numpy()):.6f}; largest difference from finite differences {error:.2e}"
    )
    if error > 1e-6:
        raise SystemExit("Hessian-vector product disagrees with finite differences")
    print("\nAll checks passed.")


if __name__ == "__main__":
    main()
