"""Lesson 26: deep (stacked) RNNs: an LSTM language model with 1, 2 and 4 layers on the same budget.

    .venv/bin/python demos/26_deep_rnns.py           # 500 training steps per model
    .venv/bin/python demos/26_deep_rnns.py --quick   # 80 steps (CI)

A deep RNN stacks recurrent layers: layer l reads the hidden states of layer l - 1 as its input
sequence, h[l, t] = cell(h[l - 1, t], h[l, t - 1]), and the output is read from the top layer
(``nn.LSTM(num_layers=L)``). Each time step then passes through L nonlinear layers instead of one.

The task is a character language model on the first 300,000 characters of the built-in corpus (Python's
documentation, ``nn.lm.text.load_corpus("pydoc")``; the last 10% held out). The models are
``nn.lm.models.RecurrentLM`` (embedding, LSTM, linear read-out) with 64 hidden units per layer and 1, 2
or 4 layers, and, to tell depth from size, one layer made wide enough to have about as many parameters
as the 4-layer stack. The budget is the same NUMBER OF STEPS for all (500 steps of Adam, batch 16,
windows of 32 characters, the same batches in the same order); the CPU time each took is measured, and
the picture also draws the held-out loss against CPU seconds, to compare them on the same time instead.

Pictures: ``deep_rnns.png``: held-out loss (nats per character) against training steps and against CPU
seconds, for each model.
"""

from __future__ import annotations

import time

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import nn, no_grad
from tinygrad_seq.functional import cross_entropy
from tinygrad_seq.nn.lm.models import LMConfig, RecurrentLM, build_model
from tinygrad_seq.nn.lm.text import load_corpus
from tinygrad_seq.nn.lm.training import TrainConfig, prepare_data

PICTURES = ("deep_rnns.png",)
HIDDEN, BATCH, SEQ, LR, CHARS = 64, 16, 32, 0.01, 300_000
EVAL_WINDOWS, EVAL_LEN = 64, 64


def wide_hidden(target: int, vocab: int) -> int:
    """The hidden size of a 1-layer model (embedding 64) whose parameter count is closest to `target`."""
    def count(h: int) -> int:
        model = build_model(LMConfig("lstm", vocab, hidden=h, embed=HIDDEN), 0)
        return sum(p.size for p in model.parameters())

    low, high = HIDDEN, 4 * HIDDEN  # the count grows with h: bisect for the last h with count(h) <= target
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if count(mid) <= target else (low, mid)
    return min((low, high), key=lambda h: abs(count(h) - target))


def held_out_loss(model: RecurrentLM, windows: tuple[np.ndarray, np.ndarray]) -> float:
    """Mean cross-entropy (nats per character) on fixed held-out windows, each read from a zero state."""
    x, y = windows
    with no_grad():
        logits, _ = model(x)  # (T, B) -> (T, B, V)
        return float(cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item())


def windows(ids: np.ndarray, n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n random windows of `length` characters and the characters after them: (length, n) each."""
    starts = rng.integers(0, len(ids) - length - 1, n)
    x = np.stack([ids[s:s + length] for s in starts], axis=1)
    return x, np.stack([ids[s + 1:s + length + 1] for s in starts], axis=1)


def train(config: LMConfig, steps: int, train_ids: np.ndarray, valid: tuple) -> dict:
    """Adam for `steps` steps on random windows (the same for every model); the held-out loss curve
    against steps and CPU seconds."""
    model = build_model(config, rng=0)
    opt = nn.optim.Adam(model.parameters(), lr=LR)
    rng = np.random.default_rng(1)
    curve, every, cpu = [(0, 0.0, held_out_loss(model, valid))], max(1, steps // 10), 0.0
    for step in range(1, steps + 1):
        x, y = windows(train_ids, BATCH, SEQ, rng)
        start = time.process_time()
        logits, _ = model(x)
        loss = cross_entropy(logits.reshape(-1, config.vocab_size), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        cpu += time.process_time() - start
        if step % every == 0 or step == steps:
            curve.append((step, cpu, held_out_loss(model, valid)))
    return {"curve": curve, "loss": curve[-1][2], "cpu_seconds": cpu,
            "parameters": sum(p.size for p in model.parameters()), "layers": config.layers,
            "hidden": config.hidden}


def input_signal(model: RecurrentLM, x: np.ndarray) -> float:
    """How much the top layer's output depends on the input: its standard deviation across the batch of
    different windows, averaged over time steps and units."""
    with no_grad():
        out, _ = model.rnn(model.embedding(x))  # (T, B) -> (T, B, H)
    return float(out.numpy().std(axis=1).mean())


def unigram_loss(train_ids: np.ndarray, valid: tuple, vocab: int) -> float:
    """Cross-entropy of the held-out characters under the training characters' frequencies (add-one):
    the loss of a model that ignores its input."""
    freq = np.bincount(train_ids, minlength=vocab) + 1.0
    return float(-np.log(freq / freq.sum())[valid[1]].mean())


def steps_to_leave(curve: list[tuple[int, float, float]], level: float) -> int | None:
    """The first evaluated step whose loss is below `level` (None if none)."""
    return next((step for step, _, loss in curve if loss < level), None)


def loss_at_time(curve: list[tuple[int, float, float]], seconds: float) -> float:
    """The held-out loss of the last evaluation made within `seconds` of CPU time."""
    return min((c for c in curve if c[1] <= seconds), key=lambda c: -c[1])[2]


def picture(runs: dict, budget: float, unigram: float):
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8))
    colours = ("tab:blue", "tab:orange", "tab:red", "tab:gray")
    for (name, run), colour in zip(runs.items(), colours):
        steps, cpu, loss = zip(*run["curve"])
        label = f"{name} ({run['parameters']:,} parameters): {run['loss']:.3f}"
        style = "--" if "wide" in name else "-"
        axes[0].plot(steps, loss, style, marker="o", ms=3, color=colour, lw=2, label=label)
        axes[1].plot(cpu, loss, style, marker="o", ms=3, color=colour, lw=2,
                     label=f"{name}: {run['cpu_seconds']:.1f} s CPU")
    for ax in axes:
        ax.axhline(unigram, color="k", lw=0.8, ls="--")
        ax.text(ax.get_xlim()[1] * 0.98, unigram + 0.03, "character frequencies only (unigram)", fontsize=8,
                ha="right")
    axes[1].axvline(budget, color="k", lw=0.8, ls=":")
    axes[1].text(budget, axes[0].get_ylim()[1], " the 1-layer model's time", fontsize=8, va="top")
    for ax, xlabel, title in ((axes[0], "training step", "The same number of steps"),
                              (axes[1], "CPU seconds spent training", "The same curves against CPU time")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("held-out loss (nats per character)")
        ax.set_title(f"{title}: LSTM char LM, {HIDDEN} units per layer", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    axes[1].set_ylim(axes[0].get_ylim())
    return fig


def main(argv=None) -> dict:
    args = parse_args("26_deep_rnns", __doc__, argv)
    steps = 80 if args.quick else 500
    text = load_corpus("pydoc")[:CHARS]
    vocab, train_ids, valid_ids = prepare_data(text, TrainConfig(seq_len=SEQ, batch_size=BATCH))
    valid = windows(valid_ids, EVAL_WINDOWS, EVAL_LEN, np.random.default_rng(0))
    V = len(vocab)
    print(f"Character LM: {len(train_ids):,} training and {len(valid_ids):,} held-out characters, {V} "
          f"symbols. {steps} steps of Adam (batch {BATCH} x {SEQ} characters) for each model; held-out "
          f"loss on {EVAL_WINDOWS} windows of {EVAL_LEN}.\n")
    configs = {f"{L} layer{'s' if L > 1 else ''}": LMConfig("lstm", V, hidden=HIDDEN, layers=L)
               for L in (1, 2, 4)}
    deep = sum(p.size for p in build_model(configs["4 layers"], 0).parameters())
    wide = wide_hidden(deep, V)
    configs[f"1 layer, wide ({wide})"] = LMConfig("lstm", V, hidden=wide, embed=HIDDEN)
    signal = {name: input_signal(build_model(config, rng=0), valid[0]) for name, config in configs.items()}
    runs = {}
    for name, config in configs.items():
        runs[name] = r = train(config, steps, train_ids, valid)
        print(f"  {name:18} {r['parameters']:>8,} parameters: held-out loss {r['loss']:.3f} nats/char "
              f"({r['loss'] / np.log(2):.2f} bits), {r['cpu_seconds']:.1f} s CPU")
    budget = runs["1 layer"]["cpu_seconds"]
    at_budget = {name: loss_at_time(r["curve"], budget) for name, r in runs.items()}
    print(f"\n  Within the 1-layer model's {budget:.1f} s of CPU time (the last evaluation before it): "
          + ", ".join(f"{name} {loss:.3f}" for name, loss in at_budget.items()))
    unigram = unigram_loss(train_ids, valid, V)
    left = {name: steps_to_leave(r["curve"], unigram - 0.1) for name, r in runs.items()}
    print(f"  The unigram loss (character frequencies, ignoring the input) is {unigram:.3f}; the loss first "
          f"falls 0.1 below it at step " + ", ".join(f"{left[name]} ({name})" for name in runs))
    print("  At initialisation, the top layer's output varies across inputs by (std) "
          + ", ".join(f"{signal[name]:.3f} ({name})" for name in runs))
    save(picture(runs, budget, unigram), args.out, "deep_rnns.png")
    return {"steps": steps, "vocab": V,
            "runs": {name: {k: v for k, v in r.items() if k != "curve"} for name, r in runs.items()},
            "at_one_layer_time": at_budget, "one_layer_seconds": budget, "wide_hidden": wide,
            "start_loss": runs["1 layer"]["curve"][0][2], "input_signal": signal, "unigram": unigram,
            "steps_below_unigram": left}


def readme_figures(r: dict) -> dict[str, str]:
    runs = r["runs"]
    wide = next(name for name in runs if "wide" in name)
    out = {name: f"| {name} | {run['parameters']:,} | {run['loss']:.3f} | {run['cpu_seconds']:.1f} s |"
           for name, run in runs.items()}  # the page's table rows
    out["at_time"] = ", ".join(f"{name} {loss:.3f}" for name, loss in r["at_one_layer_time"].items()
                               if name != wide)
    out["budget"] = f"{r['one_layer_seconds']:.1f} s"
    out["unigram"] = f"{r['unigram']:.3f}"
    out["signal"] = ", ".join(f"{r['input_signal'][name]:.3f} ({name})" for name in runs if name != wide)
    out["left"] = ", ".join(f"{r['steps_below_unigram'][name]} ({name})" for name in runs if name != wide)
    return out


if __name__ == "__main__":
    main()
