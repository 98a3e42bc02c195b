"""The Transformer LM training step of transformer_lm.py in tinygrad_seq vs the same model in PyTorch (eager).

    python benchmarks/transformer_torch.py             # medians and ratios, every step timed in turns
    python benchmarks/transformer_torch.py --profile   # also where tinygrad_seq's time goes (cProfile)

PyTorch is optional, never a dependency of the project: without it the script says so in one line and
times tinygrad_seq against the NumPy step alone. The model, its sizes, the data and the NumPy step (and
its float64 check) are those of transformer_lm.py. The PyTorch model is the same network written by hand
in torch (nn.Linear, nn.LayerNorm, GELU in its tanh form as here, Adam with its defaults), its attention
either the softmax of the masked scores ("torch eager") or torch's fused
``F.scaled_dot_product_attention`` ("torch sdpa"). It starts from tinygrad_seq's weights; before timing,
two float64 steps must agree on the loss, every gradient and every updated weight (1e-9). Timed: float32
training steps (zero grads, forward, cross-entropy, backward, Adam step), one thread on each side
(``torch.set_num_threads(1)``; BLAS through timing.py), all in turns in one process, CPU time; each ratio
is tinygrad_seq (``fused=True``) over the other.
"""

from __future__ import annotations

import argparse
import math
from functools import partial

from timing import engine_step, medians, profile, ratio_line  # sets BLAS's thread count: before NumPy loads

# isort: split
import numpy as np
from transformer_lm import BATCH, BLOCK, HEADS, LAYERS, LR, N_EMBD, VOCAB, build, data, numpy_step
from transformer_lm import check_agreement as numpy_agreement

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None


def torch_model(state: dict[str, np.ndarray], sdpa: bool):
    """The Transformer LM of transformer_lm.py in PyTorch, with tinygrad_seq's parameter names and weights."""
    nn = torch.nn

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.in_proj_weight = nn.Parameter(torch.empty(3 * N_EMBD, N_EMBD))
            self.in_proj_bias = nn.Parameter(torch.empty(3 * N_EMBD))
            self.out_proj = nn.Linear(N_EMBD, N_EMBD)
            future = torch.ones(BLOCK, BLOCK, dtype=torch.bool).triu(1)  # True: a key after the query
            self.register_buffer("future", future, persistent=False)

        def forward(self, x):
            B, T, C = x.shape
            D = C // HEADS
            qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, C) -> (B, T, 3C)
            # 3 x (B, T, C) -> 3 x (B, T, H, D) -> 3 x (B, H, T, D)
            q, k, v = (a.view(B, T, HEADS, D).transpose(1, 2) for a in qkv.split(C, dim=-1))
            if sdpa:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))  # (B, H, T, T)
                y = scores.masked_fill(self.future[:T, :T], float("-inf")).softmax(-1) @ v
            return self.out_proj(y.transpose(1, 2).reshape(B, T, C))  # (B, H, T, D) -> (B, T, C)

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.self_attn = SelfAttention()
            self.linear1 = nn.Linear(N_EMBD, 4 * N_EMBD)
            self.linear2 = nn.Linear(4 * N_EMBD, N_EMBD)
            self.norm1, self.norm2 = nn.LayerNorm(N_EMBD), nn.LayerNorm(N_EMBD)

        def forward(self, x):
            x = x + self.self_attn(self.norm1(x))
            return x + self.linear2(F.gelu(self.linear1(self.norm2(x)), approximate="tanh"))

    class LM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok, self.pos = nn.Embedding(VOCAB, N_EMBD), nn.Embedding(BLOCK, N_EMBD)
            self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
            self.norm, self.head = nn.LayerNorm(N_EMBD), nn.Linear(N_EMBD, VOCAB)

        def forward(self, ids):
            x = self.tok(ids) + self.pos.weight[: ids.shape[1]]  # (B, T) -> (B, T, C)
            for layer in self.layers:
                x = layer(x)
            return self.head(self.norm(x))  # (B, T, C) -> (B, T, vocab)

    model = LM()
    dtype = next(iter(state.values())).dtype
    model.to(torch.float64 if dtype == np.float64 else torch.float32)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
    return model, torch.optim.Adam(model.parameters(), lr=LR)


def torch_step(model, opt, ids, targets) -> float:
    """One training step in PyTorch: zero grads, forward, mean cross-entropy, backward, Adam."""
    opt.zero_grad()
    logits = model(ids)
    loss = F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))
    loss.backward()
    opt.step()
    return loss.item()


def check_agreement(sdpa: bool) -> float:
    """Two float64 steps on a smaller batch from the same weights: losses, gradients, weights must agree."""
    model, opt, _, _ = build(np.float64, fused=True)
    theirs, their_opt = torch_model(model.state_dict(), sdpa)
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(2):
        ids, targets = data(rng, 3, 10)
        loss = engine_step(model, opt, ids, targets, fused=True)
        their_loss = torch_step(theirs, their_opt, torch.from_numpy(ids), torch.from_numpy(targets))
        ours = dict(model.named_parameters())
        for name, p in theirs.named_parameters():
            worst = max(worst, np.abs(ours[name].grad.numpy() - p.grad.numpy()).max(),
                        np.abs(ours[name].numpy() - p.detach().numpy()).max())
        worst = max(worst, abs(loss - their_loss))
    if worst > 1e-9:
        raise AssertionError(f"tinygrad_seq and PyTorch (sdpa={sdpa}) disagree by {worst:.3g}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="print tinygrad_seq's top functions by time")
    args = parser.parse_args()
    print(
        f"causal Transformer LM training step (vocab {VOCAB}, n_embd {N_EMBD}, {HEADS} heads, {LAYERS} "
        f"layers, block {BLOCK}, batch {BATCH}, Adam), float32, one thread each, median of {args.repeats} "
        f"in turns"
    )
    print(f"NumPy by hand: float64 loss, gradients and Adam updates agree to {numpy_agreement(True):.1e}")
    ids, targets = data(np.random.default_rng(2), BATCH, BLOCK)
    model, opt, params, adam = build(np.float32, fused=True)
    ours = partial(engine_step, model, opt, ids, targets, fused=True)
    others = {"numpy by hand": (partial(numpy_step, params, adam, ids, targets), None)}
    if torch is None:
        print("PyTorch is not installed (a CPU build of torch adds it): tinygrad_seq vs NumPy only")
    else:
        torch.set_num_threads(1)
        agree = max(check_agreement(sdpa) for sdpa in (False, True))
        print(f"PyTorch {torch.__version__}: float64 loss, gradients and Adam updates agree to {agree:.1e}")
        tids, ttargets = torch.from_numpy(ids), torch.from_numpy(targets)
        for name, sdpa, target in (("torch eager", False, 1.0), ("torch sdpa", True, None)):
            theirs, their_opt = torch_model(model.state_dict(), sdpa)
            others[name] = (partial(torch_step, theirs, their_opt, tids, ttargets), target)
    times = medians([ours, *(step for step, _ in others.values())], args.repeats)
    print(f"  tinygrad_seq fused {times[0] * 1e3:8.2f} ms")
    for (name, (_, target)), t in zip(others.items(), times[1:], strict=True):
        print(f"  {ratio_line(f'{name:<18}', times[0], t, target)}")
    if args.profile:
        profile(ours, args.repeats, top=20)


if __name__ == "__main__":
    main()
