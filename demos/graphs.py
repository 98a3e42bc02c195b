"""Pictures of backpropagation through time: unrolled graphs, shared weights, vanishing gradients.

    python demos/graphs.py            # every picture, into out/demos/graphs/ (or --out DIR)
    python demos/graphs.py --quick    # the same pictures, the long unroll 60 steps instead of 200 (CI)

1. rnn_ops: a 5-step tanh RNN drawn op by op. One cluster per time step, left to right; each weight is
   drawn once with an edge into every step, labelled with that step's share of its gradient (the
   shares add up to the weight's gradient: BPTT's sum over time).
2. lstm_steps, gru_steps: a 5-step LSTM and GRU with each time step collapsed into one box.
3. lstm_truncated: truncated BPTT: the LSTM's state is detached between two chunks of 3 steps; the cut
   is a red dashed edge, and no gradient of the second chunk's loss reaches the first chunk.
4. rnn_vs_lstm: a 200-step RNN and LSTM read out at the last step only, the middle of the unroll
   elided. The hidden-state gradient vanishes along the RNN (dark blue: below 1e-8 after a few dozen
   steps) and survives along the LSTM's cell state (forget gate initialised open).

Every picture is written as PNG and SVG; DOT text too with --dot. ``main(argv) -> dict`` returns the
paths written and, per layer of picture 4, the norm of W_hh's gradient contributed by step 1 and by the
last step.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import numpy as np

import tinygrad_seq as ts
from tinygrad_seq import Tensor, graph, nn
from tinygrad_seq.functional import mse_loss

# each time step one box; the linear heads and the losses too, in the pictures that are not op by op
STEPS = ["*.t=*", "*_head", "*mse"]
LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def make_net(kinds: list[str], input_size: int, hidden_size: int, seed: int, **lstm_opts) -> nn.Module:
    """A container of recurrent layers (attribute = kind) and their linear heads (`<kind>_head`).

    The demo calls the children directly (``net.lstm(x)``), so each one's scope, and cluster, is
    named after its attribute.
    """
    rng = np.random.default_rng(seed)
    net = nn.Module()
    for kind in kinds:
        opts = lstm_opts if kind == "lstm" else {}
        setattr(net, kind, LAYERS[kind](input_size, hidden_size, rng=rng, dtype=np.float64, **opts))
        setattr(net, f"{kind}_head", nn.Linear(hidden_size, 1, rng=rng, dtype=np.float64))
    return net


def readout_loss(net: nn.Module, kind: str, x: Tensor, state=None) -> tuple[Tensor, object]:
    """Run layer `kind` over x (T, B, I), read its last hidden state out, square error against 1."""
    _, last = getattr(net, kind)(x, state)
    h_n = last[0] if kind == "lstm" else last  # (layers, B, H)
    y = getattr(net, f"{kind}_head")(h_n[0])  # (B, 1)
    with ts.scope(f"{kind}_mse"):
        return mse_loss(y, np.ones(y.shape)), last


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the long unroll 60 steps instead of 200")
    parser.add_argument("--out", default=os.path.join("out", "demos", "graphs"), help="where the pictures go")
    parser.add_argument("--dot", action="store_true", help="also write the DOT text of every picture")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    written: list[str] = []

    def save(name: str, root: Tensor | tuple[Tensor, ...], dot: bool, **opts) -> None:
        roots = root if isinstance(root, tuple) else (root,)
        for fmt in ("png", "svg") + (("dot",) if dot else ()):
            written.append(graph.render(*roots, path=os.path.join(args.out, f"{name}.{fmt}"), **opts))
            print(f"  wrote {written[-1]}")

    print("1. a 5-step RNN, op by op")
    net = make_net(["rnn"], input_size=2, hidden_size=3, seed=1)
    x = Tensor(rng.normal(size=(5, 1, 2)))  # (T, B, I)
    loss, _ = readout_loss(net, "rnn", x)
    save("rnn_ops", loss, args.dot, params=net, per_step_grad=True)

    print("2. a 5-step LSTM and GRU, one box per time step")
    for kind in ("lstm", "gru"):
        net = make_net([kind], input_size=2, hidden_size=3, seed=2)
        loss, _ = readout_loss(net, kind, x)
        save(f"{kind}_steps", loss, args.dot, params=net, collapse=STEPS, per_step_grad=True)

    print("3. truncated BPTT: an LSTM's state detached between two chunks of 3 steps")
    net = make_net(["lstm"], input_size=2, hidden_size=3, seed=3)
    x6 = Tensor(rng.normal(size=(6, 1, 2)))
    with ts.scope("chunk 0"):
        loss0, (h, c) = readout_loss(net, "lstm", x6[:3])
    with ts.scope("chunk 1"):
        loss1, _ = readout_loss(net, "lstm", x6[3:], (h.detach(), c.detach()))
    save("lstm_truncated", loss0 + loss1, args.dot, params=net, collapse=STEPS)

    steps = 60 if args.quick else 200
    print(f"4. a {steps}-step RNN and LSTM: where does the gradient go?")
    net = make_net(["rnn", "lstm"], input_size=2, hidden_size=8, seed=4, forget_bias=4.0)
    xs = Tensor(rng.normal(size=(steps, 1, 2)))
    rnn_loss, _ = readout_loss(net, "rnn", xs)
    lstm_loss, _ = readout_loss(net, "lstm", xs)
    save("rnn_vs_lstm", (rnn_loss, lstm_loss), args.dot, params=net, collapse=STEPS, max_steps=6)
    result: dict = {"written": written}
    for kind, loss in (("rnn", rnn_loss), ("lstm", lstm_loss)):
        shares = graph.step_grads(loss, tensor=getattr(net, kind).weight_hh_l0)
        first, last = (float(np.linalg.norm(shares[f"{kind}.l0.t={k}"])) for k in (1, steps - 1))
        print(f"  {kind}: weight_hh's gradient from step 1: {first:.1e}, from step {steps - 1}: {last:.1e}")
        result[kind] = {"first": first, "last": last}
    return result

if __name__ == "__main__":
    main()
