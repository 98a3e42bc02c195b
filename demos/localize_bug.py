"""Find a wrong backward inside a model: gradcheck(..., localize=True) names the op, its time step and line.

    python demos/localize_bug.py            # prints the report, draws the graph into out/demos/localize_bug/

The model is a small RNN whose activation is a user's op, the `Cube` of the tour's "Verify your own op"
(docs/tour.md) with the bug it mentions planted: its backward writes 2 instead of 3,

    h_t = tanh(cube(x_t W_ih^T + b + h_{t-1} W_hh^T)),   3 steps, batch 2, input 2, hidden 3.

The whole-function check only says that the gradients of x and of every weight are wrong. The localized
one checks each node of the graph alone, on the values it saw, and names the first that fails: `Cube`
in scope ``rnn/t=0``, the line that created it, the input and element, and the ratio backward /
differences (2/3). The picture is the graph of the loss with the failing nodes drawn in red
(``graph.render(..., highlight=report)``). ``main(argv) -> dict`` returns what was found.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import numpy as np

from tinygrad_seq import Function, Tensor, gradcheck, graph, nn
from tinygrad_seq.nn.recurrent import project, scan


class Cube(Function):
    """out = x**3;  dx = grad * 3 * x**2, but this backward writes 2: the planted bug."""

    def forward(self, x):
        self.save_for_backward(x)
        return x**3

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * 2 * x**2


class CubicRNN(nn.Module):
    """h_t = tanh(cube(x_t W_ih^T + b + h_{t-1} W_hh^T)) over x (T, B, I), run by `scan`."""

    def __init__(self, input_size: int, hidden_size: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.weight_ih = nn.Parameter(rng.normal(size=(hidden_size, input_size)))
        self.weight_hh = nn.Parameter(rng.normal(size=(hidden_size, hidden_size)) / hidden_size)
        self.bias = nn.Parameter(rng.normal(size=hidden_size) / 2)

    def forward(self, x: Tensor) -> Tensor:
        def step(gi: Tensor, state: tuple, w_hh_t: Tensor, b_hh: Tensor | None) -> tuple:
            (h,) = state
            return (Cube.apply(gi + h @ w_hh_t).tanh(),)

        h0 = Tensor(np.zeros((x.shape[1], self.weight_hh.shape[0])))
        out, _ = scan(step, project(x, self.weight_ih, self.bias), (h0,), self.weight_hh.T)
        return out  # (T, B, H)


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("out", "demos", "localize_bug"), help="picture folder")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    net = nn.Module()
    net.rnn = CubicRNN(2, 3, rng)
    x = rng.normal(size=(3, 2, 2))  # (T, B, I)
    names = [name for name, _ in net.rnn.named_parameters()]

    def loss_of(x: Tensor, *weights: Tensor) -> Tensor:
        out = nn.functional_call(net.rnn, dict(zip(names, weights)), x)  # (T, B, H)
        return (out**2).mean()

    report = gradcheck(loss_of, [x, *[p.numpy() for p in net.rnn.parameters()]], localize=True,
                       raise_exception=False)
    print(report)
    loss = (net.rnn(Tensor(x)) ** 2).mean()
    path = graph.render(loss, path=os.path.join(args.out, "planted_bug.png"), params=net, highlight=report)
    print(f"wrote {path}")
    first = report.localized.failed[0]
    return {"path": path, "passed": bool(report), "op": first.op, "scope": first.scope,
            "failed": len(report.localized.failed), "ratio": first.check.analytic / first.check.numeric}


if __name__ == "__main__":
    main()
