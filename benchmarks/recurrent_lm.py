"""LSTM and GRU language-model training steps: the fused layers against a tuned hand-written NumPy step.

    python benchmarks/recurrent_lm.py              # LSTM and GRU: ratios and targets, GEMM floor, memory
    python benchmarks/recurrent_lm.py --unrolled   # also the composed (unrolled) layers, for comparison
    python benchmarks/recurrent_lm.py --profile    # where the fused LSTM step's time goes (cProfile)

The model: an embedding (vocab 65, dim 64), one LSTM or GRU layer (hidden 256, ``fused=True``), a linear
decoder back to the vocabulary; batch 32, T=64; mean softmax cross-entropy over all T*B positions (fused,
as the LM toolkit trains); one Adam step; float32. ``--unrolled`` also times the composed layer with the
composed cross-entropy (the engine without fused nodes).

The reference is the same step written by hand in NumPy and tuned: each sequence-long buffer allocated
once per step, the gates activated in place (ufuncs with ``out=``), W_hh^T contiguous, the weight
gradients one GEMM each over the T*B rows, Adam in place (it borrows only the fused kernel's two in-place
gradient helpers, sigmoid_grad_ and tanh_grad_). Before timing, both run in float64 at small sizes from
the same weights and must agree on the loss, every gradient and every updated weight.

The GEMM floor is the step's matrix products alone (input projection, T recurrent products forward and
T backward, weight and input gradients, decoder), timed in the same process: no implementation of this
step in NumPy can be faster. Peak memory is tracemalloc's peak during one step. BLAS threads: see
timing.py (one unless OPENBLAS_NUM_THREADS is set).
"""

from __future__ import annotations

import argparse
import tracemalloc

from timing import compare, engine_step, median_seconds, profile  # sets BLAS's thread count first

# isort: split
import numpy as np

from tinygrad_seq import Tensor, nn
from tinygrad_seq.functional import cross_entropy
from tinygrad_seq.nn.kernels.recurrent import sigmoid_grad_, tanh_grad_

VOCAB, EMBED, HIDDEN, BATCH, T, LR = 65, 64, 256, 32, 64, 1e-3
BETAS, EPS = (0.9, 0.999), 1e-8
GATES = {"lstm": 4, "gru": 3}
TARGET_STEP, TARGET_MEMORY = 1.0, 1.2


class RecurrentLM(nn.Module):
    """ids (T, B) -> logits (T, B, vocab)."""

    def __init__(self, kind: str, vocab: int, embed: int, hidden: int, rng: np.random.Generator,
                 dtype=np.float32, fused: bool = True):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, rng=rng, dtype=dtype)
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[kind](embed, hidden, rng=rng, dtype=dtype, fused=fused)
        self.decoder = nn.Linear(hidden, vocab, rng=rng, dtype=dtype)

    def forward(self, ids: np.ndarray) -> Tensor:
        out, _ = self.rnn(self.embed(ids))  # (T, B) -> (T, B, E) -> (T, B, H)
        return self.decoder(out)  # (T, B, H) -> (T, B, vocab)


# ------------------------------------------------------------------------------------- by hand


def sigmoid_(a: np.ndarray) -> None:
    """a := 1 / (1 + e^-a) in place, as 0.5 + 0.5 tanh(a / 2) (no overflow)."""
    np.multiply(a, 0.5, out=a)
    np.tanh(a, out=a)
    np.multiply(a, 0.5, out=a)
    np.add(a, 0.5, out=a)


def lstm_forward(x2, w_ih, w_hh, b, steps, batch):
    H = w_hh.shape[1]
    acts = (x2 @ w_ih.T).reshape(steps, batch, 4 * H)  # pre-activations, then i, f, g, o in place
    acts += b
    hs = np.empty((steps + 1, batch, H), acts.dtype)  # hs[t + 1] = h_t, hs[0] = h_0 = 0
    cs, tanh_c = np.empty_like(hs), np.empty((steps, batch, H), acts.dtype)
    hs[0], cs[0] = 0, 0
    w_hh_t, work, tmp = np.ascontiguousarray(w_hh.T), np.empty((batch, 4 * H), acts.dtype), hs[0].copy()
    for t in range(steps):
        a = acts[t]
        np.matmul(hs[t], w_hh_t, out=work)
        a += work
        sigmoid_(a[:, : 2 * H])
        np.tanh(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])
        sigmoid_(a[:, 3 * H :])
        i, f, g, o = (a[:, k * H : (k + 1) * H] for k in range(4))
        np.multiply(f, cs[t], out=cs[t + 1])
        cs[t + 1] += np.multiply(i, g, out=tmp)
        np.tanh(cs[t + 1], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=hs[t + 1])
    return hs, (acts, cs, tanh_c)


def lstm_backward(d_hs, hs, cache, w_hh):
    acts, cs, tanh_c = cache
    steps, batch, H = d_hs.shape
    d_gates = np.empty_like(acts)
    d_h, d_c, tmp = np.zeros_like(hs[0]), np.zeros_like(hs[0]), np.empty_like(hs[0])
    work = np.empty_like(acts[0])
    for t in reversed(range(steps)):
        a, d = acts[t], d_gates[t]
        i, f, g, o = (a[:, k * H : (k + 1) * H] for k in range(4))
        di, df, dg, do = (d[:, k * H : (k + 1) * H] for k in range(4))
        d_h += d_hs[t]
        np.multiply(d_h, tanh_c[t], out=do)
        tanh_grad_(np.multiply(d_h, o, out=tmp), tanh_c[t], work[:, :H])
        d_c += tmp
        np.multiply(d_c, g, out=di)
        np.multiply(d_c, cs[t], out=df)
        np.multiply(d_c, i, out=dg)
        d_c *= f
        sigmoid_grad_(d[:, : 2 * H], a[:, : 2 * H], work[:, : 2 * H])
        tanh_grad_(dg, g, work[:, :H])
        sigmoid_grad_(do, o, work[:, :H])
        np.matmul(d, w_hh, out=d_h)
    d2 = d_gates.reshape(steps * batch, 4 * H)
    h2 = hs[:-1].reshape(steps * batch, H)
    db = d2.sum(axis=0)
    return d2, {"weight_hh": d2.T @ h2, "bias_ih": db, "bias_hh": db.copy()}


def gru_forward(x2, w_ih, w_hh, b_ih, b_hh, steps, batch):
    H = w_hh.shape[1]
    acts = (x2 @ w_ih.T).reshape(steps, batch, 3 * H)  # pre-activations, then r, z, n in place
    acts += b_ih
    hs = np.empty((steps + 1, batch, H), acts.dtype)
    hs[0] = 0
    gh_n = np.empty((steps, batch, H), acts.dtype)  # W_hn h + b_hn (r multiplies it)
    w_hh_t, gh, tmp = np.ascontiguousarray(w_hh.T), np.empty((batch, 3 * H), acts.dtype), hs[0].copy()
    for t in range(steps):
        a = acts[t]
        np.matmul(hs[t], w_hh_t, out=gh)
        gh += b_hh
        a[:, : 2 * H] += gh[:, : 2 * H]
        sigmoid_(a[:, : 2 * H])
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        gh_n[t] = gh[:, 2 * H :]
        n += np.multiply(r, gh_n[t], out=tmp)
        np.tanh(n, out=n)
        np.subtract(hs[t], n, out=hs[t + 1])
        hs[t + 1] *= z
        hs[t + 1] += n
    return hs, (acts, gh_n)


def gru_backward(d_hs, hs, cache, w_hh):
    acts, gh_n = cache
    steps, batch, H = d_hs.shape
    d_gates, d_gh_n = np.empty_like(acts), np.empty_like(gh_n)
    d_h, direct = np.zeros_like(hs[0]), np.empty_like(hs[0])
    work, d_gh = np.empty_like(acts[0]), np.empty_like(acts[0])
    for t in reversed(range(steps)):
        a, d = acts[t], d_gates[t]
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        dr, dz, dn = d[:, :H], d[:, H : 2 * H], d[:, 2 * H :]
        d_h += d_hs[t]
        np.multiply(d_h, z, out=direct)
        np.subtract(d_h, direct, out=dn)
        np.subtract(hs[t], n, out=dz)
        dz *= d_h
        tanh_grad_(dn, n, work[:, :H])
        np.multiply(dn, gh_n[t], out=dr)
        sigmoid_grad_(d[:, : 2 * H], a[:, : 2 * H], work[:, : 2 * H])
        d_gh[:, : 2 * H] = d[:, : 2 * H]
        np.multiply(dn, r, out=d_gh_n[t])
        d_gh[:, 2 * H :] = d_gh_n[t]
        np.matmul(d_gh, w_hh, out=d_h)
        d_h += direct
    d2, dn2 = d_gates.reshape(steps * batch, 3 * H), d_gh_n.reshape(steps * batch, H)
    h2 = hs[:-1].reshape(steps * batch, H)
    dw_hh = np.concatenate([d2[:, : 2 * H].T @ h2, dn2.T @ h2])
    db_hh = np.concatenate([d2[:, : 2 * H].sum(axis=0), dn2.sum(axis=0)])
    return d2, {"weight_hh": dw_hh, "bias_ih": d2.sum(axis=0), "bias_hh": db_hh}


class NumpyRecurrentLM:
    """The same model and step by hand; parameters in a dict named as the module's state dict."""

    def __init__(self, kind: str, params: dict[str, np.ndarray]):
        self.kind = kind
        self.p = {k: v.copy() for k, v in params.items()}
        self.m = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.t = 0

    def loss_and_grads(self, ids: np.ndarray, targets: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        p = self.p
        emb, w_ih, w_hh = p["embed.weight"], p["rnn.weight_ih_l0"], p["rnn.weight_hh_l0"]
        b_ih, b_hh = p["rnn.bias_ih_l0"], p["rnn.bias_hh_l0"]
        w_out, b_out = p["decoder.weight"], p["decoder.bias"]
        steps, batch = ids.shape
        H, n = w_hh.shape[1], steps * batch

        x2 = emb[ids.reshape(-1)]  # (T*B, E)
        if self.kind == "lstm":
            hs, cache = lstm_forward(x2, w_ih, w_hh, b_ih + b_hh, steps, batch)
        else:
            hs, cache = gru_forward(x2, w_ih, w_hh, b_ih, b_hh, steps, batch)
        h_flat = hs[1:].reshape(n, H)
        probs = h_flat @ w_out.T  # logits (T*B, V), then softmax in place
        probs += b_out
        probs -= probs.max(axis=1, keepdims=True)
        np.exp(probs, out=probs)
        probs /= probs.sum(axis=1, keepdims=True)
        rows, flat_targets = np.arange(n), targets.reshape(-1)
        loss = -np.log(probs[rows, flat_targets]).mean()

        grads: dict[str, np.ndarray] = {}
        d_logits = probs
        d_logits[rows, flat_targets] -= 1
        d_logits /= n
        grads["decoder.weight"] = d_logits.T @ h_flat
        grads["decoder.bias"] = d_logits.sum(axis=0)
        d_hs = (d_logits @ w_out).reshape(steps, batch, H)
        backward = lstm_backward if self.kind == "lstm" else gru_backward
        d2, rnn_grads = backward(d_hs, hs, cache, w_hh)
        grads |= {f"rnn.{k}_l0": v for k, v in rnn_grads.items()}
        grads["rnn.weight_ih_l0"] = d2.T @ x2
        d_emb = np.zeros_like(emb)
        np.add.at(d_emb, ids.reshape(-1), d2 @ w_ih)
        grads["embed.weight"] = d_emb
        return float(loss), grads

    def adam(self, grads: dict[str, np.ndarray]) -> None:
        """p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), in place."""
        b1, b2 = BETAS
        self.t += 1
        for k, g in grads.items():
            m, v = self.m[k], self.v[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            denom = np.sqrt(v)
            denom /= np.sqrt(1 - b2**self.t)
            denom += EPS
            self.p[k] -= (LR / (1 - b1**self.t)) * m / denom

    def step(self, ids: np.ndarray, targets: np.ndarray) -> float:
        loss, grads = self.loss_and_grads(ids, targets)
        self.adam(grads)
        return loss


# ------------------------------------------------------------------------------------- comparison


def check_agreement(kind: str, tol: float = 1e-9) -> float:
    """float64, small sizes: loss, gradients and Adam-updated weights agree; returns the largest gap."""
    rng = np.random.default_rng(0)
    model = RecurrentLM(kind, VOCAB, 8, 16, rng, dtype=np.float64)
    ref = NumpyRecurrentLM(kind, model.state_dict())
    opt = nn.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    ids, targets = rng.integers(0, VOCAB, (6, 3)), rng.integers(0, VOCAB, (6, 3))
    worst = 0.0
    for _ in range(2):  # two steps: the second starts from the updated weights and moments
        opt.zero_grad()
        logits = model(ids)
        loss = cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1), fused=True)
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
            raise AssertionError(f"{kind}: tinygrad_seq and the NumPy reference disagree: {bad}")
        worst = max(worst, *gaps.values())
    return worst


def gemm_floor(kind: str, repeats: int) -> float:
    """Median seconds of the step's matrix products alone, with the step's shapes (float32)."""
    rng = np.random.default_rng(2)
    G, H, n = GATES[kind], HIDDEN, T * BATCH
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    x2, w_ih, w_out = f32(n, EMBED), f32(G * H, EMBED), f32(VOCAB, H)
    w_hh_t, w_hh = f32(H, G * H), f32(G * H, H)
    h, d, hs, dg, d_logits = f32(BATCH, H), f32(BATCH, G * H), f32(n, H), f32(n, G * H), f32(n, VOCAB)
    out_g, out_h = np.empty((BATCH, G * H), np.float32), np.empty((BATCH, H), np.float32)

    def products() -> None:
        _ = x2 @ w_ih.T
        for _ in range(T):
            np.matmul(h, w_hh_t, out=out_g)
        _ = hs @ w_out.T, d_logits.T @ hs, d_logits @ w_out
        for _ in range(T):
            np.matmul(d, w_hh, out=out_h)
        _ = dg.T @ x2, dg.T @ hs, dg @ w_ih

    return median_seconds(products, repeats)


def peak_bytes(step) -> int:
    """tracemalloc's peak during one call of `step` (after a warm-up call), in bytes."""
    step()
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def bench(kind: str, repeats: int, unrolled: bool, show_profile: bool) -> None:
    gap = check_agreement(kind)
    print(f"{kind.upper()}: float64 check (vocab {VOCAB}, embed 8, hidden 16, T=6, B=3, two Adam steps): "
          f"loss, gradients and updated weights agree, largest difference {gap:.1e}")
    rng = np.random.default_rng(1)
    model = RecurrentLM(kind, VOCAB, EMBED, HIDDEN, rng)
    ref = NumpyRecurrentLM(kind, model.state_dict())
    opt = nn.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    ids, targets = rng.integers(0, VOCAB, (T, BATCH)), rng.integers(0, VOCAB, (T, BATCH))
    engine = lambda: engine_step(model, opt, ids, targets, fused=model.rnn.fused)  # noqa: E731
    numpy = lambda: ref.step(ids, targets)  # noqa: E731
    sizes = f"vocab {VOCAB}, embed {EMBED}, hidden {HIDDEN}, batch {BATCH}, T={T}, Adam, float32"
    ratio = compare(f"{kind.upper()} LM step, fused ({sizes}), median of {repeats}:", engine, numpy, repeats,
                    target=TARGET_STEP)
    floor = gemm_floor(kind, repeats)
    step_time = median_seconds(engine, repeats)
    print(f"  GEMM floor {floor * 1e3:8.2f} ms: the fused step takes {step_time / floor:4.2f}x its GEMMs "
          f"alone, the reference {step_time / ratio / floor:4.2f}x")
    memory = peak_bytes(engine) / peak_bytes(numpy)
    print(f"  peak memory of one step (tracemalloc): {memory:4.2f}x the reference's   target <= "
          f"{TARGET_MEMORY:.2f}x: {'met' if memory <= TARGET_MEMORY else 'NOT met'}")
    if unrolled:
        model.rnn.fused = False
        label = f"{kind.upper()} LM step, unrolled (fused=False), median of {repeats}:"
        compare(label, engine, numpy, repeats)
        model.rnn.fused = True
    if show_profile:
        profile(engine, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per implementation")
    parser.add_argument("--kind", choices=["lstm", "gru", "both"], default="both")
    parser.add_argument("--unrolled", action="store_true", help="also time the composed (unrolled) layers")
    parser.add_argument("--profile", action="store_true", help="profile tinygrad_seq's step with cProfile")
    args = parser.parse_args()
    for kind in ["lstm", "gru"] if args.kind == "both" else [args.kind]:
        bench(kind, args.repeats, args.unrolled, args.profile)


if __name__ == "__main__":
    main()
