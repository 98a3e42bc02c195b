"""A word-level LM at large vocabularies: tokens/s of a training step, and its output layer against the floor.

    python benchmarks/word_lm.py                  # vocabularies of 10,000 and 30,000 words
    python benchmarks/word_lm.py --vocab 50000    # another size

The model: an embedding (dim 256), one fused LSTM layer (hidden 256) and a linear decoder to the vocabulary;
T=32, B=32 (1,024 predictions a step); mean cross-entropy (fused); one Adam step; float32. At these
vocabularies the output layer is most of the step: logits (1,024 x V), the softmax, and the two gradient
products. Three numbers for it, timed in one process:

- the engine's output layer: `Linear(fused=True)` (H -> V, as the toolkit's models have it) and the fused
  cross-entropy, forward and backward;
- the same written by hand in NumPy (logits as one GEMM with the bias added in place, the softmax and its
  gradient in place in one buffer, dW, dh and db);
- the GEMM floor: the three matrix products alone (logits, dW, dh), which no implementation can beat.

The ratio to the floor says what the output layer costs beyond its products. BLAS threads: one (timing.py).
"""

from __future__ import annotations

import argparse

from timing import engine_step, medians  # sets BLAS's thread count first

# isort: split
import numpy as np

from tinygrad_seq import Tensor, nn
from tinygrad_seq.functional import cross_entropy

EMBED, HIDDEN, T, BATCH = 256, 256, 32, 32


class WordLM(nn.Module):
    """ids (T, B) -> logits (T, B, V)."""

    def __init__(self, vocab: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED, rng=rng, dtype=np.float32)
        self.rnn = nn.LSTM(EMBED, HIDDEN, rng=rng, dtype=np.float32, fused=True)
        self.decoder = nn.Linear(HIDDEN, vocab, rng=rng, dtype=np.float32, fused=True)

    def forward(self, ids: np.ndarray) -> Tensor:
        out, _ = self.rnn(self.embed(ids))
        return self.decoder(out)


def numpy_output_layer(h: np.ndarray, w: np.ndarray, b: np.ndarray, targets: np.ndarray):
    """Loss, dh, dW, db of mean cross-entropy(h @ w.T + b, targets), by hand: h (N, H), w (V, H)."""
    n = len(targets)
    rows = np.arange(n)
    z = h @ w.T  # (N, V)
    z += b
    z -= z.max(axis=1, keepdims=True)
    picked = z[rows, targets]
    np.exp(z, out=z)
    total = z.sum(axis=1, keepdims=True)
    loss = float((np.log(total[:, 0]) - picked).mean())
    z *= 1.0 / (total * n)  # softmax / n: the gradient of the mean, then minus 1/n at the targets
    z[rows, targets] -= 1.0 / n
    return loss, z @ w, z.T @ h, z.sum(axis=0)


def bench(V: int, repeats: int, rng: np.random.Generator) -> None:
    n = T * BATCH
    print(f"vocabulary {V:,}: embed {EMBED}, LSTM {HIDDEN}, T={T}, B={BATCH}, float32, median of {repeats}")
    h_data = rng.standard_normal((n, HIDDEN)).astype(np.float32)
    targets = rng.integers(0, V, n)
    decoder = nn.Linear(HIDDEN, V, rng=rng, dtype=np.float32, fused=True)
    w, b = decoder.weight.numpy(), decoder.bias.numpy()  # type: ignore[union-attr]

    def engine_layer() -> float:
        h = Tensor(h_data, requires_grad=True)
        decoder.zero_grad()
        loss = cross_entropy(decoder(h), targets, fused=True)
        loss.backward()
        return loss.item()

    dz = rng.standard_normal((n, V)).astype(np.float32)
    layer, by_hand, floor = medians([engine_layer, lambda: numpy_output_layer(h_data, w, b, targets),
                                     lambda: (h_data @ w.T, dz @ w, dz.T @ h_data)], repeats)
    print(f"  output layer (Linear + fused cross-entropy, forward and backward): {layer * 1e3:7.1f} ms, "
          f"NumPy by hand {by_hand * 1e3:7.1f} ms: ratio {layer / by_hand:4.2f}x")
    print(f"  GEMM floor {floor * 1e3:7.1f} ms: the engine's output layer takes {layer / floor:4.2f}x its "
          f"GEMMs alone, the NumPy one {by_hand / floor:4.2f}x")
    model = WordLM(V, rng)
    opt = nn.optim.Adam(model.parameters(), lr=1e-3)
    ids = rng.integers(0, V, (T, BATCH))
    step, update = medians([lambda: engine_step(model, opt, ids, targets.reshape(T, BATCH), fused=True),
                            opt.step], repeats)
    print(f"  whole training step {step * 1e3:7.1f} ms: {n / step:,.0f} tokens/s; the output layer is "
          f"{layer / step:.0%} of it, Adam's update of the {model.num_parameters():,} weights "
          f"{update / step:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, action="append", help="vocabulary sizes [10000, 30000]")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for V in args.vocab or [10_000, 30_000]:
        bench(V, args.repeats, rng)


if __name__ == "__main__":
    main()
