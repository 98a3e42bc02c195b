"""Lesson 10: attention. Retrieval by matching keys, heads, the causal mask, cross-attention, and a
Transformer LM against an LSTM LM.

    .venv/bin/python demos/10_attention.py            # about a minute
    .venv/bin/python demos/10_attention.py --quick    # a few seconds

1. Scaled dot-product attention, softmax(Q K^T / sqrt(d)) V, is a soft dictionary look-up. Eight keys
   hold eight values; each query is a noisy copy of one key. The weights (a row per query) put almost
   all their mass on the matching key, so the output is (nearly) that key's value. Dividing by sqrt(d)
   keeps the scores near unit size however long the vectors are.
2. An encoder-decoder Transformer (nn.TransformerEncoderLayer + nn.TransformerDecoderLayer, two heads)
   learns to reverse a sequence of tokens. Its decoder's cross-attention, read with
   nn.MultiheadAttention(need_weights=True, average_attn_weights=False), shows each head's map: output
   position i looks at input position L-1-i, the anti-diagonal.
3. The causal mask. In training the decoder reads the whole target at once (shifted right by one), so
   without a mask position t could read the token it is asked to predict. With the mask
   (is_causal=True) position t attends only to positions 0..t: its weights on the future are exactly 0,
   and changing the future tokens leaves the outputs before them bit-for-bit unchanged. The full run
   also trains the same model without the mask: its training loss is as low, but when it generates
   one token at a time (no future to read) it fails on many sequences.
4. A small causal Transformer LM and an LSTM LM with about the same number of parameters, trained the
   same way on the same characters of the built-in corpus (Python's documentation): loss curves.

Pictures (in out/demos/10_attention/): retrieval.png, cross_attention.png, causal_mask.png,
lm_comparison.png.
"""

from __future__ import annotations

import io
import math
import os
import time

import numpy as np
from common import parse_args, plt, save

from tinygrad_seq import Tensor, nn, no_grad
from tinygrad_seq import functional as F
from tinygrad_seq.nn.lm.models import LMConfig, build_model, evaluate
from tinygrad_seq.nn.lm.text import load_corpus
from tinygrad_seq.nn.lm.training import TrainConfig, Trainer, prepare_data
from tinygrad_seq.nn.optim import Adam

PICTURES = ("retrieval.png", "cross_attention.png", "causal_mask.png", "lm_comparison.png")
D = 64  # the vector length of part 1: the look-up drawn and the score spread printed use the same d
# ------------------------------------------------------------------------------- 1. retrieval


def retrieval(rng: np.random.Generator, n: int = 8, d: int = D, noise: float = 0.5) -> dict:
    """Queries that are noisy copies of shuffled keys, attended over the keys; weights (n, n)."""
    keys = rng.standard_normal((n, d))
    values = np.eye(n)  # value j is item j (one-hot), so the output is a distribution over the items
    target = rng.permutation(n)  # query i looks for key target[i]
    queries = keys[target] + noise * rng.standard_normal((n, d))
    out, weights = nn.scaled_dot_product_attention(Tensor(queries), Tensor(keys), Tensor(values))
    return {"weights": weights.numpy(), "out": out.numpy(), "target": target, "d": d, "noise": noise}


def score_spread(rng: np.random.Generator, d: int, samples: int = 4000) -> tuple[float, float]:
    """The standard deviation of q . k for random unit-variance vectors of length d, unscaled and scaled."""
    q, k = rng.standard_normal((samples, d)), rng.standard_normal((samples, d))
    dots = (q * k).sum(axis=1)
    return float(dots.std()), float((dots / math.sqrt(d)).std())


def retrieval_picture(r: dict):
    w, target, n = r["weights"], r["target"], len(r["target"])
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    image = ax.imshow(w, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if w[i, j] > 0.5 else "black")
        ax.add_patch(plt.Rectangle((target[i] - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="tab:red",
                                   linewidth=2))
    ax.set_xticks(range(n))
    ax.set_xticklabels([f"key {j}" for j in range(n)], rotation=45, ha="right")
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"query ~ key {t}" for t in target])
    ax.set_xlabel("keys (each holds one value)")
    ax.set_title(f"softmax(QK\u1d40/\u221ad) for d = {r['d']}: each query finds its key\n"
                 f"(red box: the key the query is a noisy copy of)", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    return fig


# ----------------------------------------------------------------------- 2. reversing with a Transformer


class Reverser(nn.Module):
    """An encoder-decoder Transformer: source tokens (B, L) -> logits (B, L, V) for the reversed sequence.

    The decoder reads the target shifted right by one (a start token first), so position t predicts
    target token t from the source and the target tokens before t.
    """

    def __init__(self, vocab: int, length: int, d: int, heads: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.vocab, self.start = vocab, vocab  # the start token is one id past the symbols
        self.source_embedding = nn.Embedding(vocab, d, rng=rng)
        self.target_embedding = nn.Embedding(vocab + 1, d, rng=rng)
        self.position = nn.SinusoidalPositionalEncoding(d, max_len=length, batch_first=True)
        self.encoder = nn.TransformerEncoderLayer(d, heads, 2 * d, dropout=0.0, batch_first=True, rng=rng,
                                                  fused=True)  # one node per attention, norm: faster
        self.decoder = nn.TransformerDecoderLayer(d, heads, 2 * d, dropout=0.0, batch_first=True, rng=rng,
                                                  fused=True)
        self.head = nn.Linear(d, vocab, rng=rng)

    def encode(self, source: np.ndarray) -> Tensor:
        return self.encoder(self.position(self.source_embedding(source)))  # (B, L) -> (B, L, d)

    def decode(self, target_in: np.ndarray, memory: Tensor, causal: bool = True) -> Tensor:
        x = self.position(self.target_embedding(target_in))  # (B, T) -> (B, T, d)
        return self.head(self.decoder(x, memory, tgt_is_causal=causal))  # (B, T, d) -> (B, T, V)

    def forward(self, source: np.ndarray, target_in: np.ndarray, causal: bool = True) -> Tensor:
        return self.decode(target_in, self.encode(source), causal)

    def shift(self, target: np.ndarray) -> np.ndarray:
        """(B, L) -> (B, L): the start token, then the target without its last token (teacher forcing)."""
        return np.concatenate([np.full((len(target), 1), self.start), target[:, :-1]], axis=1)

    def generate(self, source: np.ndarray) -> np.ndarray:
        """Greedy decoding, one token at a time, each step reading only the tokens made so far."""
        with no_grad():
            memory = self.encode(source)
            out = np.full((len(source), 1), self.start)
            for _ in range(source.shape[1]):
                logits = self.decode(out, memory).numpy()[:, -1]  # (B, V) at the newest position
                out = np.concatenate([out, logits.argmax(axis=-1)[:, None]], axis=1)
        return out[:, 1:]


def train_reverser(vocab: int, length: int, steps: int, causal: bool, seed: int) -> tuple[Reverser, list]:
    rng = np.random.default_rng(seed)
    model = Reverser(vocab, length, d=32, heads=2, rng=rng)
    optimizer = Adam(list(model.parameters()), lr=3e-3)
    losses = []
    for _ in range(steps):
        source = rng.integers(0, vocab, (64, length))
        target = source[:, ::-1]
        logits = model(source, model.shift(target), causal=causal)  # (B, L, V)
        loss = F.cross_entropy(logits.reshape(-1, vocab), target.reshape(-1))  # (B*L, V)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


def decoder_weights(model: Reverser, source: np.ndarray, target_in: np.ndarray) -> tuple[np.ndarray, ...]:
    """(self-attention, cross-attention) weights of the decoder layer, each (B, heads, T, S).

    The decoder layer asks its attention modules for no weights, so we run its post-norm steps
    ourselves, asking for every head's weights, and check that we reproduce the layer's output.
    """
    layer = model.decoder
    with no_grad():
        memory = model.encode(source)
        x = model.position(model.target_embedding(target_in))
        sa, self_w = layer.self_attn(x, x, x, need_weights=True, average_attn_weights=False, is_causal=True)
        x1 = layer.norm1(x + sa)
        ca, cross_w = layer.multihead_attn(x1, memory, memory, need_weights=True, average_attn_weights=False)
        x2 = layer.norm2(x1 + ca)
        out = layer.norm3(x2 + layer.linear2(layer.activation(layer.linear1(x2))))
        expected = layer(x, memory, tgt_is_causal=True)
    gap = float(np.abs(out.numpy() - expected.numpy()).max())
    if gap > 1e-5:
        raise RuntimeError(f"re-running the decoder layer step by step differs from the layer by {gap:.2g}")
    return self_w.numpy(), cross_w.numpy()


def cross_attention_picture(source: np.ndarray, cross: np.ndarray, anti: float):
    """Each head's cross-attention map for one sequence, and their mean."""
    heads, L = cross.shape[0], cross.shape[-1]
    maps = [cross[h] for h in range(heads)] + [cross.mean(axis=0)]
    titles = [f"head {h}" for h in range(heads)] + ["mean of the heads"]
    fig, axes = plt.subplots(1, heads + 2, figsize=(4.2 * (heads + 1) + 0.6, 4.8),
                             gridspec_kw={"width_ratios": [1] * (heads + 1) + [0.06]})
    output = source[::-1]
    for ax, w, title in zip(axes, maps, titles):
        image = ax.imshow(w, cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(L))
        ax.set_xticklabels([f"{j}:{s}" for j, s in enumerate(source)], fontsize=7, rotation=90)
        ax.set_yticks(range(L))
        ax.set_yticklabels([f"{i}:{s}" for i, s in enumerate(output)], fontsize=7)
        ax.set_xlabel("input position : token")
        ax.set_title(title)
    axes[0].set_ylabel("output position : token it writes")
    fig.colorbar(image, cax=axes[-1], label="attention weight")
    fig.suptitle(f"Cross-attention of a Transformer that reverses sequences: output i reads input {L - 1}-i "
                 f"(mean weight on the anti-diagonal over 200 test sequences: {anti:.2f})", fontsize=10)
    return fig


# ----------------------------------------------------------------------------------- 3. causal mask


def future_change(model: Reverser, source: np.ndarray, target_in: np.ndarray, k: int,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    """max |change| of the decoder's logits at each position when the target tokens from k on change."""
    changed = target_in.copy()
    changed[:, k:] = (changed[:, k:] + rng.integers(1, model.vocab, changed[:, k:].shape)) % model.vocab
    result = {}
    with no_grad():
        for causal in (True, False):
            a = model(source, target_in, causal=causal).numpy()
            b = model(source, changed, causal=causal).numpy()
            result["causal" if causal else "no mask"] = np.abs(a - b).max(axis=(0, 2))  # (T,)
    return result


def causal_picture(self_w: np.ndarray, tokens: list[str], change: dict[str, np.ndarray], k: int):
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1, 1.3]})
    T = self_w.shape[-1]
    image = left.imshow(self_w, cmap="viridis", vmin=0, vmax=1)
    for i in range(T):
        for j in range(T):
            left.text(j, i, "0" if self_w[i, j] == 0 else f"{self_w[i, j]:.2f}", ha="center", va="center",
                      fontsize=6.5, color="white" if self_w[i, j] < 0.5 else "black")
    left.set_xticks(range(T))
    left.set_xticklabels(tokens, fontsize=8)
    left.set_yticks(range(T))
    left.set_yticklabels(tokens, fontsize=8)
    left.set_xlabel("key: the decoder's input token at each position")
    left.set_ylabel("query: the input token at that position")
    left.set_title("Decoder self-attention with the causal mask\n(head 0; exactly 0 above the diagonal)",
                   fontsize=10)
    fig.colorbar(image, ax=left, fraction=0.046, pad=0.04)
    positions = np.arange(T)
    tiny = 1e-12  # zero changes drawn at the bottom of the log axis
    for (name, values), shift, colour in zip(change.items(), (-0.2, 0.2), ("tab:blue", "tab:orange")):
        right.bar(positions + shift, np.maximum(values, tiny), width=0.4, color=colour,
                  label=f"{name}" + (" (0 before the change, exactly)" if name == "causal" else ""))
    right.axvspan(k - 0.5, T - 0.5, color="gray", alpha=0.15, label=f"positions {k}..{T - 1}: inputs changed")
    right.set_yscale("log")
    right.set_ylim(tiny / 2, 100)
    right.set_xticks(positions)
    right.set_xlabel("decoder position")
    right.set_ylabel("largest change of the logits (log scale)")
    right.set_title("Change the future inputs: what moves?", fontsize=10)
    right.legend(loc="upper left", fontsize=8)
    return fig


# ------------------------------------------------------------------------- 4. Transformer LM vs LSTM LM


def compare_lms(out: str, quick: bool) -> dict:
    text = load_corpus("pydoc")
    steps = 3 if quick else 100
    if quick:
        text = text[:20_000]
    # Validation on the whole held-out split (with a checkpoint and a loss-curve picture each time)
    # every 40 steps, once with --quick. The learning rate 1e-2 was the best of 2e-3, 5e-3 and 1e-2 for
    # the LSTM on this budget, and as good as 5e-3 for the Transformer.
    config = TrainConfig(corpus="pydoc", level="char", seq_len=64, batch_size=32, lr=1e-2, warmup=20,
                         eval_every=min(steps, 40), eval_tokens=None, seed=0)
    vocab, train_ids, valid_ids = prepare_data(text, config)
    configs = {"LSTM": LMConfig("lstm", len(vocab), hidden=112, dropout=0.0),
               "Transformer": LMConfig("transformer", len(vocab), hidden=64, layers=2, heads=4, context=64,
                                       dropout=0.0)}
    runs = {}
    for name, model_config in configs.items():
        model = build_model(model_config, rng=0)
        trainer = Trainer(model, vocab, train_ids, valid_ids, config, out_dir=os.path.join(out, name.lower()),
                          stream=io.StringIO())
        t0 = time.process_time()  # CPU time: comparable on a busy machine, unlike wall-clock time
        result = trainer.run(steps=steps, sample_length=0, progress=False)
        runs[name] = {"params": sum(p.size for p in model.parameters()), "history": result.history,
                      "valid": result.evaluation.loss, "seconds": time.process_time() - t0,
                      "trigram": result.baselines["trigram"].loss,
                      # the final weights on as many training characters as there are held-out ones
                      "train_final": evaluate(model, train_ids[-len(valid_ids):]).loss,
                      "chars_seen": steps * config.batch_size * config.seq_len, "train_chars": len(train_ids),
                      "valid_chars": len(valid_ids),
                      "unigram": result.baselines["unigram"].loss}
    return runs


def lm_picture(runs: dict, tokens_per_step: int):
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for (name, run), colour in zip(runs.items(), ("tab:blue", "tab:orange")):
        h = run["history"]
        steps = np.asarray(h["step"])
        loss = np.asarray(h["loss"])
        window = max(1, len(loss) // 15)
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax.plot(steps * tokens_per_step / 1000, loss, color=colour, alpha=0.25, linewidth=0.8)
        ax.plot(steps[window - 1:] * tokens_per_step / 1000, smooth, color=colour,
                label=f"{name}, {run['params']:,} parameters: training loss")
        ax.plot(np.asarray(h["val_step"]) * tokens_per_step / 1000, h["val_loss"], "o--", color=colour,
                markersize=4, label=f"{name}: validation loss")
    first = next(iter(runs.values()))
    ax.axhline(first["unigram"], color="gray", linestyle=":", label="unigram baseline")
    ax.axhline(first["trigram"], color="gray", linestyle="--", label="trigram baseline")
    ax.set_xlabel("thousands of training characters seen")
    ax.set_ylabel("loss (nats per character)")
    ax.set_title("Character LMs on Python's documentation: the same steps, about the same parameters",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------- main


def main(argv=None) -> dict:
    args = parse_args("10_attention", __doc__, argv)
    rng = np.random.default_rng(0)

    print("1. Attention as a soft look-up: 8 keys, each query a noisy copy of one of them")
    r = retrieval(rng)
    w, target = r["weights"], r["target"]
    found = w.argmax(axis=1)
    on_match = w[np.arange(len(target)), target]
    print(f"   each query's weight on its own key: {' '.join(f'{v:.2f}' for v in on_match)}")
    print(f"   {np.mean(found == target):.0%} of the queries put the most weight on the right key, so the "
          f"output, the weighted\n   mix of the values, is mostly the value that key holds.")
    raw, scaled = score_spread(rng, D)
    print(f"   Why divide by sqrt(d): for random vectors of length d = {D} the scores q.k spread with "
          f"standard deviation\n   {raw:.1f}; divided by sqrt({D}) = {math.sqrt(D):g} they spread by "
          f"{scaled:.2f}, so "
          f"the softmax starts neither flat nor saturated.")
    save(retrieval_picture(r), args.out, "retrieval.png")

    vocab, length, steps = (10, 8, 160) if args.quick else (10, 10, 220)
    print(f"\n2. Reversing sequences of {length} tokens (symbols 0-{vocab - 1}) with an encoder-decoder "
          f"Transformer, 2 heads, {steps} steps")
    model, losses = train_reverser(vocab, length, steps, causal=True, seed=0)
    test = np.random.default_rng(99).integers(0, vocab, (200, length))
    reversed_ = test[:, ::-1]
    generated = model.generate(test)
    accuracy = float((generated == reversed_).all(axis=1).mean())
    self_w, cross_w = decoder_weights(model, test, model.shift(reversed_))
    mirror = cross_w[:, :, np.arange(length), length - 1 - np.arange(length)]  # (B, heads, L)
    anti, per_head = float(mirror.mean()), mirror.mean(axis=(0, 2))
    print(f"   final training loss {losses[-1]:.4f}; generating one token at a time it reverses "
          f"{accuracy:.0%} of 200 new sequences")
    print(f"   cross-attention weight on the mirrored input position (the anti-diagonal): "
          f"{', '.join(f'head {h} {v:.2f}' for h, v in enumerate(per_head))}; mean {anti:.2f}")
    save(cross_attention_picture(test[0], cross_w[0], anti), args.out, "cross_attention.png")

    k = length // 2
    print(f"\n3. The causal mask: the decoder reads the target shifted right, so without a mask position t "
          f"could\n   read the very token it must predict (it sits at position t+1). Change the decoder's "
          f"inputs\n   at positions {k}..{length - 1} and compare its logits before and after:")
    change = future_change(model, test[:50], model.shift(reversed_[:50]), k, np.random.default_rng(5))
    before_causal = float(change["causal"][:k].max())
    before_open = float(change["no mask"][:k].max())
    print(f"   {'largest change of the logits':30} {f'positions 0..{k - 1}':>15} "
          f"{f'positions {k}..{length - 1}':>15}")
    for name, values in change.items():
        print(f"   {name:30} {values[:k].max():>15.3g} {values[k:].max():>15.3g}")
    print(f"   With the mask the weights on the future are exactly zero (largest: "
          f"{self_w[:, :, np.triu_indices(length, 1)[0], np.triu_indices(length, 1)[1]].max():.1g}), so the "
          f"past cannot see it.")
    tokens = ["<s>"] + [str(t) for t in reversed_[0, :-1]]
    save(causal_picture(self_w[0, 0], tokens, change, k), args.out, "causal_mask.png")
    result = {"retrieval_accuracy": float(np.mean(found == target)),
              "weight_on_match": float(on_match.mean()), "reverse_accuracy": accuracy, "d": D,
              "score_spread": raw, "scaled_score_spread": scaled,
              "anti_diagonal": anti, "anti_diagonal_per_head": per_head.tolist(),
              "causal_change_before": before_causal, "unmasked_change_before": before_open}
    if not args.quick:
        shares, final_losses = [], []
        for seed in (0, 1, 2):  # the share it gets right moves a lot with the seed: three of them
            open_model, open_losses = train_reverser(vocab, length, steps, causal=False, seed=seed)
            shares.append(float((open_model.generate(test) == reversed_).all(axis=1).mean()))
            final_losses.append(open_losses[-1])
        open_accuracy = float(np.median(shares))
        print(f"   The same model trained without the mask (seeds 0-2): final training loss at most "
              f"{max(final_losses):.4f} (it can peek),\n   but generating one token at a time, with no "
              f"future to peek at, it reverses only {open_accuracy:.0%} of the sequences (median; range "
              f"{min(shares):.0%}-{max(shares):.0%}).")
        result["unmasked_reverse_accuracy"] = open_accuracy
        result["unmasked_range"] = [min(shares), max(shares)]

    print("\n4. A Transformer LM and an LSTM LM of about the same size on Python's documentation "
          "(characters)")
    runs = compare_lms(args.out, args.quick)
    print(f"   {'':12} {'parameters':>10} {'validation loss':>16} {'CPU seconds':>12}")
    for name, run in runs.items():
        print(f"   {name:12} {run['params']:>10,} {run['valid']:>16.3f} {run['seconds']:>12.1f}")
    first = next(iter(runs.values()))
    print(f"   (unigram baseline {first['unigram']:.3f}, trigram {first['trigram']:.3f} nats per character)")
    best, other = sorted(runs, key=lambda name: runs[name]["valid"])
    ratio = runs["Transformer"]["seconds"] / runs["LSTM"]["seconds"]
    share = first["chars_seen"] / first["train_chars"]
    print(f"   On this small budget the {best} ends lower ({runs[best]['valid']:.2f} vs "
          f"{runs[other]['valid']:.2f} nats per character);\n   the Transformer used {ratio:.1f} times the "
          f"LSTM's CPU time. Both are still behind the trigram counts ({first['trigram']:.2f}): the\n"
          f"   {first['chars_seen']:,} characters they saw are {share:.0%} of the {first['train_chars']:,} "
          "training characters the counts were made from.")
    lstm = runs["LSTM"]
    easier = "so the held-out text is simply easier" if lstm["train_final"] > lstm["valid"] else \
        "so the gap is the running average's lag"
    print(f"   The training loss (each step's batch, measured before its update, averaged) sits above the "
          f"validation\n   loss. The final LSTM scores {lstm['train_final']:.2f} nats per character on "
          f"the last {lstm['valid_chars']:,} training characters\n   and {lstm['valid']:.2f} on the held-out "
          f"ones, {easier}.")
    save(lm_picture(runs, 64 * 32), args.out, "lm_comparison.png")
    result |= {f"{name.lower()}_valid_loss": run["valid"] for name, run in runs.items()}
    result |= {f"{name.lower()}_params": run["params"] for name, run in runs.items()}
    result |= {"trigram_loss": first["trigram"], "lstm_train_final": runs["LSTM"]["train_final"],
               "cpu_ratio": runs["Transformer"]["seconds"] / runs["LSTM"]["seconds"],
               "chars_seen": first["chars_seen"], "train_chars": first["train_chars"]}
    return result


def readme_figures(r: dict) -> dict[str, str]:
    figures = {"weight_on_match": f"{r['weight_on_match']:.2f}",
               "spread": f"{r['score_spread']:.1f} for d = {r['d']}", "anti": f"{r['anti_diagonal']:.2f}",
               "reverse": f"{r['reverse_accuracy']:.0%}", "lstm": f"{r['lstm_valid_loss']:.2f}",
               "transformer": f"{r['transformer_valid_loss']:.2f}", "trigram": f"{r['trigram_loss']:.2f}",
               # the ratio itself depends on the machine and its load (2.1-2.6 measured): only its side
               "cpu": "more CPU time than the LSTM" if r["cpu_ratio"] > 1 else "less CPU time than the LSTM",
               "train_final": f"{r['lstm_train_final']:.2f}",
               "share": f"{r['chars_seen'] / r['train_chars']:.0%} of the training text",
               "unmasked_change": f"{r['unmasked_change_before']:.1f}"}
    if "unmasked_reverse_accuracy" in r:
        lo, hi = r["unmasked_range"]
        figures["unmasked"] = (f"{r['unmasked_reverse_accuracy']:.0%} of new sequences (median of 3 seeds; "
                               f"{lo:.0%}-{hi:.0%})")
    return figures


if __name__ == "__main__":
    main()
