"""Lesson 20: why a Transformer parallelises: the depth of its computation, not the time of one thread.

    .venv/bin/python demos/20_parallel_depth.py           # T = 8..256, timings repeated 5 times
    .venv/bin/python demos/20_parallel_depth.py --quick   # T = 8..64, fewer repeats (CI)

1. Depth. Record the graph of lesson 10's two language models (the LSTM LM, hidden 112, and the causal
   Transformer LM, width 64, two layers, four heads) on one sequence of T tokens, op by op (``unfused``),
   and count the longest chain of ops in it that each need the one before (``autograd.toposort``, then
   depth(op) = 1 + the deepest of its inputs' ops). That chain is what no amount of hardware can shorten:
   its ops must run one after another. The LSTM's state at step t needs its state at step t - 1, so its
   chain grows by a fixed number of ops per token; the Transformer's attention reads every earlier
   position at once, so its chain is the same for every T: the positions are extra work in each op,
   not extra ops in a row. The lesson also counts the work, the multiply-adds of every matrix product:
   the LSTM's grows as T, the Transformer's as T (projections, feed-forward) plus T^2 (the scores).
2. One Transformer layer on a (T, B, D) batch, timed two ways that compute the same numbers: all T
   positions at once (a matrix product over T * B rows, and one (T, T) score matrix per head), and one
   position at a time (a loop over t, each step projecting x[t] and attending over the keys and values
   of positions 0..t, kept as the loop goes, as a model does when it generates). The loop's results
   equal the layer's; it is the ordering an RNN is forced into. Even on one CPU thread the batched
   version is faster, several times at T <= 64: a few large products run at the speed of the
   processor's vector units, where T small ones each pay the cost of an op. (At long T the gain
   shrinks: at once, each head scores all T x T pairs and then masks the future, twice the causal half
   the loop computes.) An RNN has no at-once form: its step t needs the state of step t - 1, so it is
   always the loop.

So lesson 10's measurement (its Transformer used more CPU time than the LSTM for the same steps) is not
the opposite of this lesson: one thread's time counts the total work, done one op after another, and the
two models do about as many multiply-adds at T = 64; the Transformer's advantage is the depth, what a
machine that runs many ops at once (a GPU, many cores) has to wait for.

Picture: ``parallel_depth.png``: the depth against T, the multiply-adds per token against T, and the
time of one layer at once and one position at a time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import Tensor, nn, no_grad, stack
from tinygrad_seq import functional as F
from tinygrad_seq.autograd import toposort
from tinygrad_seq.nn.lm.models import LMConfig, build_model, chunk_loss, unfused
from tinygrad_seq.ops import MatMul

PICTURES = ("parallel_depth.png",)
VOCAB = 100  # about the size of lesson 10's character vocabulary; depth does not depend on it
D, HEADS, BATCH = 64, 4, 8  # the timed layer: lesson 10's Transformer width and heads


def lesson10_models(context: int) -> dict[str, nn.Module]:
    """Lesson 10's LSTM LM and Transformer LM (same sizes), the Transformer reading up to `context`."""
    return {"LSTM": build_model(LMConfig("lstm", VOCAB, hidden=112), rng=0),
            "Transformer": build_model(LMConfig("transformer", VOCAB, hidden=64, layers=2, heads=4,
                                                context=context), rng=0)}


def graph_depth_and_work(root: Tensor) -> tuple[int, int, int]:
    """(longest chain of dependent ops ending at `root`, ops recorded, multiply-adds of all matmuls)."""
    depth: dict = {}
    madds = 0
    order = toposort([root])
    for fn in order:  # inputs' ops come first, so their depths are known
        depth[fn] = 1 + max((depth[x.grad_fn] for x in fn.inputs if x.grad_fn is not None), default=0)
        if isinstance(fn, MatMul):
            a, b = (x.shape for x in fn.inputs)  # (..., m, k) @ (..., k, n)
            batch = math.prod(np.broadcast_shapes(a[:-2], b[:-2]))
            madds += batch * a[-2] * a[-1] * b[-1]
    return depth[root.grad_fn], len(order), madds


def measure_depths(lengths: list[int]) -> dict[str, dict[str, list[int]]]:
    """Depth, op count and multiply-adds of each model's loss on one sequence of each length T."""
    models = lesson10_models(max(lengths))
    rng = np.random.default_rng(0)
    result: dict[str, dict[str, list[int]]] = {name: {"depth": [], "ops": [], "madds": []} for name in models}
    for T in lengths:
        ids = rng.integers(0, VOCAB, (T + 1, 1))  # one sequence: depth does not depend on the batch
        for name, model in models.items():
            with unfused(model):  # op by op: the fused kernels would hide the steps inside one node
                loss, _ = chunk_loss(model, ids[:-1], ids[1:])
            depth, ops, madds = graph_depth_and_work(loss)
            for key, value in zip(("depth", "ops", "madds"), (depth, ops, madds)):
                result[name][key].append(value)
    return result


# ------------------------------------------------------------------ 2. at once against one at a time


def layer_at_once(layer: nn.TransformerEncoderLayer, x: Tensor) -> Tensor:
    """The causal layer on every position together: (T, B, D) -> (T, B, D)."""
    return layer(x, is_causal=True)


def layer_one_position_at_a_time(layer: nn.TransformerEncoderLayer, x: Tensor) -> Tensor:
    """The same pre-norm causal layer, position by position: step t projects x[t] and attends over the
    keys and values of positions 0..t, kept from the earlier steps. (T, B, D) -> (T, B, D)."""
    T, B, _ = x.shape
    attn = layer.self_attn
    hd = D // HEADS
    keys = np.zeros((B, HEADS, T, hd), dtype=np.float32)
    values = np.zeros((B, HEADS, T, hd), dtype=np.float32)
    outputs = []
    for t in range(T):
        xt = x[t]  # (B, D)
        q, k, v = F.linear(layer.norm1(xt), attn.in_proj_weight, attn.in_proj_bias).split(sections=3, axis=-1)
        keys[:, :, t] = k.numpy().reshape(B, HEADS, hd)  # (B, D) -> (B, heads, hd)
        values[:, :, t] = v.numpy().reshape(B, HEADS, hd)
        q = q.reshape(B, HEADS, 1, hd)  # (B, D) -> (B, heads, 1, hd)
        scores = q @ Tensor(keys[:, :, : t + 1]).swapaxes(-1, -2) / math.sqrt(hd)  # (B, heads, 1, t+1)
        mixed = F.softmax(scores, axis=-1) @ Tensor(values[:, :, : t + 1])  # (B, heads, 1, hd)
        mixed = mixed.reshape(B, D)  # (B, heads, 1, hd) -> (B, D)
        xt = xt + attn.out_proj(mixed)
        outputs.append(xt + layer._ff_block(layer.norm2(xt), layer.dropout2))
    return stack(outputs, axis=0)  # T x (B, D) -> (T, B, D)


def best_times(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """The shortest of `repeats` wall-clock runs of each fn(), in seconds (the run least disturbed by other
    jobs); the functions take turns, so a busy moment of the machine falls on both alike."""
    best = [math.inf] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def measure_times(lengths: list[int], repeats: int) -> dict:
    rng = np.random.default_rng(0)
    layer = nn.TransformerEncoderLayer(D, HEADS, 4 * D, dropout=0.0, norm_first=True,
                                       rng=rng)
    result: dict = {"at once": [], "one at a time": [], "max_difference": 0.0}
    with no_grad():
        for T in lengths:
            x = Tensor(rng.standard_normal((T, BATCH, D)).astype(np.float32))
            together, apart = layer_at_once(layer, x).numpy(), layer_one_position_at_a_time(layer, x).numpy()
            result["max_difference"] = max(result["max_difference"], float(np.abs(together - apart).max()))
            together_s, apart_s = best_times([partial(layer_at_once, layer, x),
                                              partial(layer_one_position_at_a_time, layer, x)], repeats)
            result["at once"].append(together_s)
            result["one at a time"].append(apart_s)
    return result


def picture(lengths: list[int], depths: dict, times_lengths: list[int], times: dict):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    colours = {"LSTM": "tab:blue", "Transformer": "tab:orange"}
    ax = axes[0]
    for name, r in depths.items():
        ax.plot(lengths, r["depth"], "o-", color=colours[name], label=f"{name} LM: {r['depth'][-1]:,} at "
                f"T = {lengths[-1]}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(lengths, [str(T) for T in lengths])
    ax.set_xlabel("sequence length T (tokens)")
    ax.set_ylabel("longest chain of dependent ops")
    ax.set_title("Depth: ops that must run one after another\n(lesson 10's two models, forward + loss)",
                 fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9)
    ax = axes[1]
    for name, r in depths.items():
        per_token = np.array(r["madds"]) / np.array(lengths) / 1000
        ax.plot(lengths, per_token, "o-", color=colours[name], label=f"{name} LM")
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [str(T) for T in lengths])
    ax.set_ylim(0, None)
    ax.set_xlabel("sequence length T (tokens)")
    ax.set_ylabel("thousands of multiply-adds per token")
    ax.set_title("Work: the same order of size\n(per token, the attention scores add work that grows with T)",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    ax = axes[2]
    styles = {"at once": ("tab:orange", "o-", "Transformer layer, all positions at once"),
              "one at a time": ("tab:red", "s--", "the same layer, one position at a time")}
    for key, (colour, style, label) in styles.items():
        ax.plot(times_lengths, np.array(times[key]) * 1000, style, color=colour, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(times_lengths, [str(T) for T in times_lengths])
    ax.set_xlabel("sequence length T (tokens)")
    ax.set_ylabel("wall time of one forward pass (ms, log scale)")
    ax.set_title(f"One layer on a (T, {BATCH}, {D}) batch, one CPU thread", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9)
    return fig


def main(argv=None) -> dict:
    args = parse_args("20_parallel_depth", __doc__, argv)
    lengths = [8, 16, 32, 64] if args.quick else [8, 16, 32, 64, 128, 256]
    times_lengths = [16, 64] if args.quick else [16, 32, 64, 128, 256]
    repeats = 5

    print("1. The longest chain of dependent ops in lesson 10's two language models, on one sequence of T "
          "tokens")
    depths = measure_depths(lengths)
    print(f"   {'T':>5} {'LSTM depth':>11} {'Transformer depth':>18} {'LSTM multiply-adds':>19} "
          f"{'Transformer multiply-adds':>26}")
    for i, T in enumerate(lengths):
        print(f"   {T:>5} {depths['LSTM']['depth'][i]:>11,} {depths['Transformer']['depth'][i]:>18,} "
              f"{depths['LSTM']['madds'][i]:>19,} {depths['Transformer']['madds'][i]:>26,}")
    lstm_depth = np.array(depths["LSTM"]["depth"])
    per_token = float(np.polyfit(lengths, lstm_depth, 1)[0])
    t64 = lengths.index(64)
    work_ratio = depths["Transformer"]["madds"][t64] / depths["LSTM"]["madds"][t64]
    print(f"   The LSTM's chain grows by {per_token:.0f} ops per token (its state at t needs its state at "
          f"t - 1);\n   the Transformer's is {depths['Transformer']['depth'][0]} ops at every T. At T = 64 "
          f"(lesson 10's chunks) the Transformer does {work_ratio:.2f}x\n   the LSTM's multiply-adds: "
          "about the same work, in a chain "
          f"{lstm_depth[t64] / depths['Transformer']['depth'][t64]:.1f}x shorter.")

    print(f"\n2. One pre-norm Transformer layer (width {D}, {HEADS} heads) on a (T, {BATCH}, {D}) batch: all "
          f"positions at once\n   against one position at a time; best of {repeats} runs, one thread")
    times = measure_times(times_lengths, repeats)
    speedups = [apart / together for together, apart in zip(times["at once"], times["one at a time"])]
    for T, together, apart, ratio in zip(times_lengths, times["at once"], times["one at a time"], speedups):
        print(f"   T = {T:>3}: at once {together * 1000:7.1f} ms, one at a time {apart * 1000:7.1f} ms: "
              f"{ratio:4.1f}x faster at once")
    print(f"   The two ways agree to {times['max_difference']:.1e}: the same numbers, computed in T rounds "
          f"or in one.\n   At long T the gain shrinks: at once, each head scores all T x T pairs and then "
          f"masks the future,\n   twice the causal half that the loop computes.")
    save(picture(lengths, depths, times_lengths, times), args.out, "parallel_depth.png")
    return {"lengths": lengths, "lstm_depth": depths["LSTM"]["depth"],
            "transformer_depth": depths["Transformer"]["depth"], "lstm_madds": depths["LSTM"]["madds"],
            "transformer_madds": depths["Transformer"]["madds"], "lstm_ops_per_token": per_token,
            "work_ratio_64": work_ratio, "times_lengths": times_lengths, "at_once_seconds": times["at once"],
            "one_at_a_time_seconds": times["one at a time"], "speedups": speedups,
            "speedup_64": speedups[times_lengths.index(64)], "max_difference": times["max_difference"]}


def readme_figures(r: dict) -> dict[str, str]:
    lengths = r["lengths"]
    t64 = lengths.index(64)
    return {"per_token": f"{r['lstm_ops_per_token']:.0f} ops per token",
            "transformer_depth": f"{r['transformer_depth'][0]} ops",
            "lstm_depth_64": f"{r['lstm_depth'][t64]:,}", "work_ratio": f"{r['work_ratio_64']:.2f}x",
            "lstm_depth_last": f"{r['lstm_depth'][-1]:,}",
            "agreement": f"to within {10.0 ** math.ceil(math.log10(r['max_difference'])):.0e}",
            # a time depends on the machine and its load: only whether the gain is large is quoted
            "speedup_64": "several times faster" if r["speedup_64"] >= 3 else "faster, though not by much"}


if __name__ == "__main__":
    main()
