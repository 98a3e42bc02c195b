"""The cost of naming the wrong op: gradcheck(..., localize=True) against the plain check, 25-step LSTM.

    python benchmarks/gradcheck_localize.py            # prints the node found, both times and the ratio
    python benchmarks/gradcheck_localize.py --steps 10 --repeats 1

The model is an LSTM (input 3, hidden 4, batch 2, float64) run by `scan` with a user's step function
whose cell-state tanh is a custom op with a planted bug: its backward forgets to square (1 - out
instead of 1 - out^2). Both checks compare the full Jacobian of a scalar readout with respect to the
input and the four weights; the localized one then checks each node of the graph alone. Both run in
this process, in turns, and the ratio of their medians is printed. Times are CPU time of this process
(one BLAS thread: the wall time on an idle machine), so that other work on a shared machine does not
move them.
"""

from __future__ import annotations

import timing  # noqa: F401  (sets BLAS's thread count: before NumPy loads)

# isort: split
import argparse
import time
from collections.abc import Sequence

import numpy as np

from tinygrad_seq import Function, Tensor, gradcheck, scope
from tinygrad_seq.nn.recurrent import project, scan


class CellTanh(Function):
    """out = tanh(x); dx should be grad * (1 - out^2): this one forgets the square."""

    def forward(self, x):
        out = np.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * (1 - out)


def lstm_step(gi: Tensor, state: tuple, w_hh_t: Tensor, b_hh: Tensor | None) -> tuple:
    """(h, c) -> (h', c') with gates i, f, g, o, the cell state through the custom tanh."""
    h, c = state
    H = h.shape[-1]
    gates = gi + h @ w_hh_t  # (B, 4H)
    i, f = gates[:, :H].sigmoid(), gates[:, H : 2 * H].sigmoid()
    g, o = gates[:, 2 * H : 3 * H].tanh(), gates[:, 3 * H :].sigmoid()
    c = f * c + i * g
    return o * CellTanh.apply(c), c


def planted_lstm(steps: int, seed: int = 0) -> tuple:
    """(fn, inputs): a scalar readout of the LSTM's outputs, as a function of x and the weights."""
    rng = np.random.default_rng(seed)
    I, H, B = 3, 4, 2
    readout = rng.normal(size=(steps, B, H))

    def fn(x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
        zeros = Tensor(np.zeros((B, H)))
        with scope("lstm"):
            out, _ = scan(lstm_step, project(x, w_ih, b_ih + b_hh), (zeros, zeros), w_hh.T)  # (T, B, H)
        return (out * readout).sum()

    shapes = [(steps, B, I), (4 * H, I), (4 * H, H), (4 * H,), (4 * H,)]
    return fn, [rng.normal(size=s) / 2 for s in shapes]


def main(argv: Sequence[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25, help="time steps of the LSTM")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each check (median)")
    args = parser.parse_args(argv)
    fn, inputs = planted_lstm(args.steps)
    report = gradcheck(fn, inputs, localize=True, raise_exception=False)
    found = report.localized
    first = found.failed[0]
    print(f"{args.steps}-step LSTM: {found.nodes} nodes, {len(found.failed)} fail alone; the first: "
          f"op '{first.op}' in scope '{first.scope_name}' (node {first.position})")
    times: dict[str, list[float]] = {"plain": [], "localized": []}
    for _ in range(args.repeats):  # in turns, so that a change in the machine's load moves both alike
        for name, localize in (("plain", False), ("localized", True)):
            start = time.process_time()
            gradcheck(fn, inputs, localize=localize, raise_exception=False)
            times[name].append(time.process_time() - start)
    plain, localized = (float(np.median(times[k])) for k in ("plain", "localized"))
    ratio = localized / plain
    print(f"  gradcheck {plain:.2f} s   gradcheck(localize=True) {localized:.2f} s   ratio {ratio:.2f}x "
          f"(CPU time, median of {args.repeats})")
    return ratio


if __name__ == "__main__":
    main()
