"""An LSTM language-model training step in tinygrad_seq vs the same step written by hand in NumPy.

    python benchmarks/lstm_lm.py             # median times and the ratio
    python benchmarks/lstm_lm.py --profile   # also where tinygrad_seq's time goes (cProfile)

The model: an embedding (vocab 65, dim 64), one LSTM layer (hidden 256), a linear decoder back to the
vocabulary; batch 32, T=64; mean softmax cross-entropy over all T*B positions; one Adam step. The NumPy
version is the forward pass, backpropagation through time and the Adam update written out by hand
(the input projection done for all steps at once in both). Before timing, both run in float64 from the
same weights at small sizes and must agree on the loss, every gradient and every updated weight.
Times are float32. Both sides use the same BLAS; on a machine busy with other work, threaded BLAS
oversubscribes the cores and makes both times (the NumPy one most) erratic, so run with
``OPENBLAS_NUM_THREADS=1`` (or OMP_NUM_THREADS / MKL_NUM_THREADS for other BLAS builds).
"""

from __future__ import annotations

import argparse

from timing import compare, engine_step, profile  # sets BLAS's thread count: before NumPy loads

# isort: split
import numpy as np

from tinygrad_seq import Tensor, nn
from tinygrad_seq.functional import cross_entropy

VOCAB, EMBED, HIDDEN, BATCH, T, LR = 65, 64, 256, 32, 64, 1e-3
BETAS, EPS = (0.9, 0.999), 1e-8


class LSTMLM(nn.Module):
    """ids (T, B) -> logits (T, B, vocab)."""

    def __init__(self, vocab: int, embed: int, hidden: int, rng: np.random.Generator, dtype=np.float32):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, rng=rng, dtype=dtype)
        self.lstm = nn.LSTM(embed, hidden, rng=rng, dtype=dtype)
        self.decoder = nn.Linear(hidden, vocab, rng=rng, dtype=dtype)

    def forward(self, ids: np.ndarray) -> Tensor:
        out, _ = self.lstm(self.embed(ids))  # (T, B) -> (T, B, E) -> (T, B, H)
        return self.decoder(out)  # (T, B, H) -> (T, B, vocab)


# ------------------------------------------------------------------------------------- by hand


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * a))  # = 1 / (1 + e^-a), without overflow


class NumpyLSTMLM:
    """The same model with parameters in a dict named as the module's state dict."""

    def __init__(self, params: dict[str, np.ndarray]):
        self.p = {k: v.copy() for k, v in params.items()}
        self.m = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.t = 0

    def loss_and_grads(self, ids: np.ndarray, targets: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        p = self.p
        emb, w_ih, w_hh = p["embed.weight"], p["lstm.weight_ih_l0"], p["lstm.weight_hh_l0"]
        w_out, b_out = p["decoder.weight"], p["decoder.bias"]
        steps, batch = ids.shape
        H = w_hh.shape[1]
        n = steps * batch
        dtype = w_hh.dtype

        # forward
        x = emb[ids]  # (T, B, E)
        gi = x.reshape(n, -1) @ w_ih.T + p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"]  # (T*B, 4H)
        gi = gi.reshape(steps, batch, 4 * H)
        hs = np.zeros((steps + 1, batch, H), dtype)  # hs[t + 1] = h_t, hs[0] = h_0 = 0
        cs = np.zeros((steps + 1, batch, H), dtype)
        acts = np.empty((steps, batch, 4 * H), dtype)  # i, f, g, o after their nonlinearities
        tanh_c = np.empty((steps, batch, H), dtype)
        for t in range(steps):
            a = gi[t] + hs[t] @ w_hh.T
            acts[t, :, : 2 * H] = sigmoid(a[:, : 2 * H])
            acts[t, :, 2 * H : 3 * H] = np.tanh(a[:, 2 * H : 3 * H])
            acts[t, :, 3 * H :] = sigmoid(a[:, 3 * H :])
            i, f, g, o = (acts[t, :, k * H : (k + 1) * H] for k in range(4))
            cs[t + 1] = f * cs[t] + i * g
            tanh_c[t] = np.tanh(cs[t + 1])
            hs[t + 1] = o * tanh_c[t]
        h_flat = hs[1:].reshape(n, H)
        logits = h_flat @ w_out.T + b_out  # (T*B, V)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_p = shifted - log_z
        flat_targets = targets.reshape(-1)
        loss = -log_p[np.arange(n), flat_targets].mean()

        # backward
        grads: dict[str, np.ndarray] = {}
        d_logits = np.exp(log_p)
        d_logits[np.arange(n), flat_targets] -= 1
        d_logits /= n
        grads["decoder.weight"] = d_logits.T @ h_flat
        grads["decoder.bias"] = d_logits.sum(axis=0)
        d_hs = (d_logits @ w_out).reshape(steps, batch, H)
        d_gates = np.empty((steps, batch, 4 * H), dtype)  # gradient of the gate pre-activations
        d_h, d_c = np.zeros((batch, H), dtype), np.zeros((batch, H), dtype)
        for t in reversed(range(steps)):
            i, f, g, o = (acts[t, :, k * H : (k + 1) * H] for k in range(4))
            d_h = d_h + d_hs[t]
            d_c = d_c + d_h * o * (1 - tanh_c[t] ** 2)
            d_gates[t, :, :H] = d_c * g * i * (1 - i)
            d_gates[t, :, H : 2 * H] = d_c * cs[t] * f * (1 - f)
            d_gates[t, :, 2 * H : 3 * H] = d_c * i * (1 - g**2)
            d_gates[t, :, 3 * H :] = d_h * tanh_c[t] * o * (1 - o)
            d_c = d_c * f
            d_h = d_gates[t] @ w_hh
        d_flat = d_gates.reshape(n, 4 * H)
        grads["lstm.weight_ih_l0"] = d_flat.T @ x.reshape(n, -1)
        grads["lstm.weight_hh_l0"] = d_flat.T @ hs[:-1].reshape(n, H)
        grads["lstm.bias_ih_l0"] = grads["lstm.bias_hh_l0"] = d_flat.sum(axis=0)
        d_emb = np.zeros_like(emb)
        np.add.at(d_emb, ids.reshape(-1), d_flat @ w_ih)
        grads["embed.weight"] = d_emb
        return float(loss), grads

    def adam(self, grads: dict[str, np.ndarray]) -> None:
        """p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
        b1, b2 = BETAS
        self.t += 1
        for k, g in grads.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            denom = np.sqrt(self.v[k]) / np.sqrt(1 - b2**self.t) + EPS
            self.p[k] -= (LR / (1 - b1**self.t)) * self.m[k] / denom

    def step(self, ids: np.ndarray, targets: np.ndarray) -> float:
        loss, grads = self.loss_and_grads(ids, targets)
        self.adam(grads)
        return loss


# ------------------------------------------------------------------------------------- comparison


def check_agreement(tol: float = 1e-4) -> float:
    """float64, small sizes: loss, gradients and Adam-updated weights agree; returns the largest gap."""
    rng = np.random.default_rng(0)
    model = LSTMLM(VOCAB, 8, 16, rng, dtype=np.float64)
    ref = NumpyLSTMLM(model.state_dict())
    opt = nn.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    ids, targets = rng.integers(0, VOCAB, (6, 3)), rng.integers(0, VOCAB, (6, 3))
    worst = 0.0
    for _ in range(2):  # two steps: the second starts from the updated weights and moments
        opt.zero_grad()
        logits = model(ids)
        loss = cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        ref_loss, ref_grads = ref.loss_and_grads(ids, targets)
        gaps = {"loss": abs(loss.item() - ref_loss)}
        for name, param in model.named_parameters():
            gaps[f"grad {name}"] = np.abs(param.grad.numpy() - ref_grads[name]).max()
        opt.step()
        ref.adam(ref_grads)
        for name, param in model.named_parameters():
            gaps[f"updated {name}"] = np.abs(param.numpy() - ref.p[name]).max()
        bad = {k: v for k, v in gaps.items() if not v <= tol}
        if bad:
            raise AssertionError(f"tinygrad_seq and the NumPy reference disagree: {bad}")
        worst = max(worst, *gaps.values())
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per implementation")
    parser.add_argument("--profile", action="store_true", help="profile tinygrad_seq's step with cProfile")
    args = parser.parse_args()

    gap = check_agreement()
    print(
        f"float64 check (vocab {VOCAB}, embed 8, hidden 16, T=6, B=3, two Adam steps): "
        f"loss, gradients and updated weights agree, largest difference {gap:.1e}"
    )

    rng = np.random.default_rng(1)
    model = LSTMLM(VOCAB, EMBED, HIDDEN, rng)
    ref = NumpyLSTMLM(model.state_dict())
    opt = nn.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    ids, targets = rng.integers(0, VOCAB, (T, BATCH)), rng.integers(0, VOCAB, (T, BATCH))
    label = (
        f"LSTM LM step (vocab {VOCAB}, embed {EMBED}, hidden {HIDDEN}, batch {BATCH}, T={T}, Adam, "
        f"float32), median of {args.repeats}:"
    )
    compare(
        label, lambda: engine_step(model, opt, ids, targets), lambda: ref.step(ids, targets), args.repeats
    )
    if args.profile:
        profile(lambda: engine_step(model, opt, ids, targets), args.repeats)


if __name__ == "__main__":
    main()
