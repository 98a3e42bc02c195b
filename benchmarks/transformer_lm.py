"""A causal Transformer LM training step in tinygrad_seq vs the same step written by hand in NumPy.

    python benchmarks/transformer_lm.py             # median times and the ratio
    python benchmarks/transformer_lm.py --profile   # also where tinygrad_seq's time goes (cProfile)

The model: token embedding + learned positions, 2 pre-norm TransformerEncoderLayers (n_embd 64, 4 heads,
feed-forward 256, GELU, causal mask, no dropout), a final LayerNorm and a linear head over a 65-symbol
vocabulary; block 64, batch 16; mean cross-entropy; one Adam step. The NumPy version is a full forward,
backward and Adam update written out by hand; before timing, both run in float64 from the same weights
and must agree on the loss, every gradient and every updated weight. Times are float32.

BLAS runs on one thread unless OPENBLAS_NUM_THREADS (or OMP_/MKL_NUM_THREADS) is already set: at these
sizes threads add little, and on a busy machine their contention swamps what is being compared.
"""

from __future__ import annotations

import argparse
import math
from functools import partial

from timing import compare, engine_step, profile  # sets BLAS's thread count: before NumPy loads

# isort: split
import numpy as np

from tinygrad_seq import Tensor, nn

VOCAB, N_EMBD, HEADS, BLOCK, BATCH, LAYERS, LR = 65, 64, 4, 64, 16, 2, 1e-3
GELU_K = math.sqrt(2 / math.pi)


class TransformerLM(nn.Module):
    """tokens (B, T) -> logits (B, T, vocab)."""

    def __init__(
        self, vocab: int, n_embd: int, heads: int, block: int, layers: int, rng: np.random.Generator,
        fused: bool = False,
    ) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, n_embd, rng=rng)
        self.pos = nn.LearnedPositionalEncoding(block, n_embd, rng=rng, batch_first=True)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                n_embd,
                heads,
                4 * n_embd,
                dropout=0.0,
                activation="gelu",
                batch_first=True,
                norm_first=True,
                rng=rng,
                fused=fused,
            )
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(n_embd, fused=fused)
        self.head = nn.Linear(n_embd, vocab, rng=rng, fused=fused)

    def forward(self, ids: np.ndarray) -> Tensor:
        x = self.pos(self.tok(ids))  # (B, T) -> (B, T, C)
        for layer in self.layers:
            x = layer(x, is_causal=True)
        return self.head(self.norm(x))  # (B, T, C) -> (B, T, vocab)


# ------------------------------------------------------------------------------- the same step in NumPy


def ln_forward(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    rstd = 1.0 / np.sqrt(x.var(-1, keepdims=True) + eps)
    xhat = (x - mu) * rstd
    return xhat * w + b, (xhat, rstd, w)


def ln_backward(dy, cache):
    xhat, rstd, w = cache
    dxhat = dy * w
    dx = rstd * (dxhat - dxhat.mean(-1, keepdims=True) - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    return dx, (dy * xhat).reshape(-1, w.size).sum(0), dy.reshape(-1, w.size).sum(0)


def numpy_forward_backward(P: dict[str, np.ndarray], ids: np.ndarray, targets: np.ndarray):
    """Loss and gradients of every parameter (keys as the model's state dict)."""
    B, T = ids.shape
    C, H = P["tok.weight"].shape[1], HEADS
    D = C // H
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    x = P["tok.weight"][ids] + P["pos.weight"][:T]  # (B, T, C)
    caches = []
    for l in range(LAYERS):
        p = f"layers.{l}."
        h, ln1 = ln_forward(x, P[p + "norm1.weight"], P[p + "norm1.bias"])
        qkv = h @ P[p + "self_attn.in_proj_weight"].T + P[p + "self_attn.in_proj_bias"]  # (B, T, 3C)
        # (B, T, 3C) -> 3 x (B, T, C) -> 3 x (B, T, H, D) -> 3 x (B, H, T, D)
        q, k, v = (a.reshape(B, T, H, D).transpose(0, 2, 1, 3) for a in np.split(qkv, 3, -1))
        s = np.where(future, -np.inf, q @ k.transpose(0, 1, 3, 2) / math.sqrt(D))  # (B, H, T, T)
        att = np.exp(s - s.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        a = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)  # (B, H, T, D) -> (B, T, C)
        x = x + a @ P[p + "self_attn.out_proj.weight"].T + P[p + "self_attn.out_proj.bias"]
        h2, ln2 = ln_forward(x, P[p + "norm2.weight"], P[p + "norm2.bias"])
        u = h2 @ P[p + "linear1.weight"].T + P[p + "linear1.bias"]  # (B, T, 4C)
        th = np.tanh(GELU_K * (u + 0.044715 * (u * u * u)))  # u**3 takes libm's slow powf for u < 0
        g = 0.5 * u * (1 + th)
        x = x + g @ P[p + "linear2.weight"].T + P[p + "linear2.bias"]
        caches.append((h, ln1, q, k, v, att, a, h2, ln2, u, th, g))
    hf, lnf = ln_forward(x, P["norm.weight"], P["norm.bias"])
    logits = hf @ P["head.weight"].T + P["head.bias"]  # (B, T, V)
    z = logits - logits.max(-1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(-1, keepdims=True)
    n = B * T
    loss = -np.log(np.take_along_axis(prob, targets[..., None], -1)).sum() / n

    G = {}
    dlogits = prob
    np.put_along_axis(dlogits, targets[..., None], np.take_along_axis(prob, targets[..., None], -1) - 1, -1)
    dlogits /= n
    G["head.weight"] = dlogits.reshape(n, -1).T @ hf.reshape(n, C)
    G["head.bias"] = dlogits.reshape(n, -1).sum(0)
    dx, G["norm.weight"], G["norm.bias"] = ln_backward(dlogits @ P["head.weight"], lnf)
    for l in reversed(range(LAYERS)):
        p = f"layers.{l}."
        h, ln1, q, k, v, att, a, h2, ln2, u, th, g = caches[l]
        dg = dx @ P[p + "linear2.weight"]  # (B, T, 4C)
        G[p + "linear2.weight"] = dx.reshape(n, C).T @ g.reshape(n, -1)
        G[p + "linear2.bias"] = dx.reshape(n, C).sum(0)
        du = dg * (0.5 * (1 + th) + 0.5 * u * (1 - th**2) * GELU_K * (1 + 3 * 0.044715 * u**2))
        G[p + "linear1.weight"] = du.reshape(n, -1).T @ h2.reshape(n, C)
        G[p + "linear1.bias"] = du.reshape(n, -1).sum(0)
        dh2, G[p + "norm2.weight"], G[p + "norm2.bias"] = ln_backward(du @ P[p + "linear1.weight"], ln2)
        dx = dx + dh2
        G[p + "self_attn.out_proj.weight"] = dx.reshape(n, C).T @ a.reshape(n, C)
        G[p + "self_attn.out_proj.bias"] = dx.reshape(n, C).sum(0)
        da = dx @ P[p + "self_attn.out_proj.weight"]
        da = da.reshape(B, T, H, D).transpose(0, 2, 1, 3)  # (B, T, C) -> (B, T, H, D) -> (B, H, T, D)
        datt = da @ v.transpose(0, 1, 3, 2)  # (B, H, T, T)
        dv = att.transpose(0, 1, 3, 2) @ da
        ds = att * (datt - (datt * att).sum(-1, keepdims=True)) / math.sqrt(D)
        dq, dk = ds @ k, ds.transpose(0, 1, 3, 2) @ q
        # 3 x (B, H, T, D) -> 3 x (B, T, H, D) -> 3 x (B, T, C) -> (B, T, 3C)
        dqkv = np.concatenate([t.transpose(0, 2, 1, 3).reshape(B, T, C) for t in (dq, dk, dv)], -1)
        G[p + "self_attn.in_proj_weight"] = dqkv.reshape(n, -1).T @ h.reshape(n, C)
        G[p + "self_attn.in_proj_bias"] = dqkv.reshape(n, -1).sum(0)
        dh = dqkv @ P[p + "self_attn.in_proj_weight"]
        dh, G[p + "norm1.weight"], G[p + "norm1.bias"] = ln_backward(dh, ln1)
        dx = dx + dh
    G["pos.weight"] = np.zeros_like(P["pos.weight"])
    G["pos.weight"][:T] = dx.sum(0)
    G["tok.weight"] = np.zeros_like(P["tok.weight"])
    np.add.at(G["tok.weight"], ids.reshape(-1), dx.reshape(n, C))
    return loss, G


class NumpyAdam:
    """Adam with PyTorch's bias correction, on a dict of arrays, in place."""

    def __init__(self, params: dict[str, np.ndarray], lr: float, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        for k, p in self.params.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * grads[k]
            self.v[k] = b2 * self.v[k] + (1 - b2) * grads[k] ** 2
            denom = np.sqrt(self.v[k]) / math.sqrt(1 - b2**self.t) + self.eps
            p -= self.lr / (1 - b1**self.t) * self.m[k] / denom


def numpy_step(params, adam: NumpyAdam, ids: np.ndarray, targets: np.ndarray) -> float:
    loss, grads = numpy_forward_backward(params, ids, targets)
    adam.step(grads)
    return float(loss)


# ------------------------------------------------------------------------------- checking and timing


def build(dtype, fused: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    model = TransformerLM(VOCAB, N_EMBD, HEADS, BLOCK, LAYERS, rng, fused=fused).astype(dtype)
    params = {k: v.astype(dtype) for k, v in model.state_dict().items()}
    return model, nn.optim.Adam(model.parameters(), lr=LR), params, NumpyAdam(params, LR)


def data(rng: np.random.Generator, batch: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, VOCAB, (batch, block)), rng.integers(0, VOCAB, (batch, block))


def check_agreement(fused: bool) -> float:
    """Two float64 steps on a smaller batch: the losses, the gradients and the weights must agree."""
    model, opt, params, adam = build(np.float64, fused)
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(2):
        ids, targets = data(rng, 3, 10)
        _, grads = numpy_forward_backward(params, ids, targets)
        loss_engine = engine_step(model, opt, ids, targets, fused=fused)
        loss_numpy = numpy_step(params, adam, ids, targets)
        named = dict(model.named_parameters())
        worst = max(
            [worst, abs(loss_engine - loss_numpy)]
            + [np.abs(named[k].grad.numpy() - grads[k]).max() for k in grads]
            + [np.abs(named[k].numpy() - params[k]).max() for k in params]
        )
    if worst > 1e-9:
        raise AssertionError(f"tinygrad_seq and the NumPy reference disagree by {worst:.3g}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="print tinygrad_seq's top functions by time")
    args = parser.parse_args()
    print(
        f"causal Transformer LM training step (vocab {VOCAB}, n_embd {N_EMBD}, {HEADS} heads, {LAYERS} "
        f"layers, block {BLOCK}, batch {BATCH}, Adam), float32, median of {args.repeats}"
    )
    ids, targets = data(np.random.default_rng(2), BATCH, BLOCK)
    for fused, target in ((False, None), (True, 1.0)):
        worst = check_agreement(fused)
        model, opt, params, adam = build(np.float32, fused)
        label = (
            f"fused={fused}: {'fused kernels' if fused else 'composed ops (the reference path)'}; float64 "
            f"loss, gradients and Adam updates agree with NumPy's to {worst:.1e}"
        )
        step = partial(engine_step, model, opt, ids, targets, fused=fused)
        compare(label, step, partial(numpy_step, params, adam, ids, targets), args.repeats, target)
        if args.profile:
            profile(step, args.repeats, top=15)


if __name__ == "__main__":
    main()
