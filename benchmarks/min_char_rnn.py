"""min-char-rnn through nn.RNN: a character RNN's training step against the same step written in NumPy.

    python benchmarks/min_char_rnn.py

The classic minimal character RNN: one-hot characters (vocab 65), a tanh RNN (hidden 100), a linear
decoder, softmax cross-entropy averaged over T=25 steps of a batch of 1; forward and backward (no
optimizer). With batch 1 every array is tiny, so the time is the cost of each op, not arithmetic. The
engine runs it through `nn.RNN` composed (``fused=False``, every step a scope of small ops) and fused
(``fused=True``, one node); the NumPy step is overhead.py's hand-written BPTT. Both first run in float64
from the same weights and must agree on the loss and every gradient.
"""

from __future__ import annotations

from overhead import make_params, numpy_step
from timing import compare  # sets BLAS's thread count: before NumPy loads

# isort: split
import numpy as np

from tinygrad_seq import Tensor, nn
from tinygrad_seq.functional import cross_entropy

VOCAB, HIDDEN, T, BATCH, TARGET = 65, 100, 25, 1, 5.0


class CharRNN(nn.Module):
    """one-hot (T, B, V) -> logits (T, B, V), with min-char-rnn's weights (Wxh, Whh, bh, Why, by)."""

    def __init__(self, raw: dict[str, np.ndarray], fused: bool) -> None:
        super().__init__()
        V, H = raw["Wxh"].shape
        dtype = raw["Wxh"].dtype
        self.rnn = nn.RNN(V, H, dtype=dtype, fused=fused)
        self.decoder = nn.Linear(H, V, dtype=dtype)
        self.load_state_dict({  # min-char-rnn computes x @ Wxh; PyTorch's layout keeps W_ih (H, V)
            "rnn.weight_ih_l0": raw["Wxh"].T, "rnn.weight_hh_l0": raw["Whh"].T,
            "rnn.bias_ih_l0": raw["bh"], "rnn.bias_hh_l0": np.zeros_like(raw["bh"]),
            "decoder.weight": raw["Why"].T, "decoder.bias": raw["by"],
        })

    def forward(self, one_hot: Tensor) -> Tensor:
        out, _ = self.rnn(one_hot)  # (T, B, V) -> (T, B, H)
        return self.decoder(out)  # (T, B, H) -> (T, B, V)


def engine_step(model: CharRNN, inputs: np.ndarray, targets: np.ndarray) -> tuple[float, dict]:
    """Forward and backward; returns the mean loss and the gradients under min-char-rnn's names."""
    model.zero_grad()
    V = model.decoder.weight.shape[0]
    x = Tensor(np.eye(V, dtype=model.decoder.weight.dtype)[inputs])  # (T, B) -> (T, B, V) one-hot
    loss = cross_entropy(model(x).reshape(-1, V), targets.reshape(-1))
    loss.backward()
    g = {name: p.grad.numpy() for name, p in model.named_parameters()}
    return loss.item(), {"Wxh": g["rnn.weight_ih_l0"].T, "Whh": g["rnn.weight_hh_l0"].T,
                         "bh": g["rnn.bias_ih_l0"], "Why": g["decoder.weight"].T, "by": g["decoder.bias"]}


def check_agreement(fused: bool) -> float:
    rng = np.random.default_rng(0)
    raw = make_params(VOCAB, 16, np.float64, rng)
    inputs, targets = rng.integers(0, VOCAB, (6, 2)), rng.integers(0, VOCAB, (6, 2))
    loss, grads = engine_step(CharRNN(raw, fused), inputs, targets)
    ref_loss, ref_grads = numpy_step(raw, inputs, targets, np.zeros((2, 16)))
    gaps = [abs(loss - ref_loss)] + [float(np.abs(grads[k] - ref_grads[k]).max()) for k in raw]
    if not max(gaps) <= 1e-9:
        raise AssertionError(f"min-char-rnn (fused={fused}): the engine and NumPy disagree by {max(gaps)}")
    return max(gaps)


def main() -> None:
    rng = np.random.default_rng(1)
    raw = make_params(VOCAB, HIDDEN, np.float32, rng)
    inputs, targets = rng.integers(0, VOCAB, (T, BATCH)), rng.integers(0, VOCAB, (T, BATCH))
    h0 = np.zeros((BATCH, HIDDEN), np.float32)
    for fused in (False, True):
        gap = check_agreement(fused)
        model = CharRNN(raw, fused)
        compare(f"min-char-rnn step via nn.RNN(fused={fused}) (vocab {VOCAB}, hidden {HIDDEN}, T={T}, "
                f"batch {BATCH}; float64 check: largest difference {gap:.1e}), median of 100:",
                lambda model=model: engine_step(model, inputs, targets),
                lambda: numpy_step(raw, inputs, targets, h0), repeats=100, target=TARGET)


if __name__ == "__main__":
    main()
