"""Lesson 9: inside the hidden state. One unit of a char-LSTM learns to track "inside a quote".

    .venv/bin/python demos/09_hidden_state.py            # about a minute
    .venv/bin/python demos/09_hidden_state.py --quick    # a few seconds

The script writes a corpus of short stories in which people say things in quotes, and in which asides
sit in brackets, nested up to two deep: `the fox said "RUN HOME NOW" (and [quietly] left).` Inside
quotes people shout in CAPITALS. So after a space inside a quote, only a model that *remembers* it is
inside can predict that the next letter is a capital; the quote marks themselves are far behind.

A character-level LSTM language model (`nn.lm.RecurrentLM`) learns this text. Then we read every
hidden unit on fresh text and ask which one best separates "inside a quote" from "outside": the
largest difference between its mean activation inside and outside. We print both means, next to the
same search on the untrained network (the best of many random units always differs a little; training
makes one of them a switch from one end of its range to the other). Not every feature gets a unit of
its own: in the full run the unit that best follows the number of open brackets explains much less
of it than a linear read-out of all the units together (least squares on half of the text, tested on
the other half). What the network knows about brackets is spread over many units.

Pictures (in out/demos/09_hidden_state/):
  quote_unit.html   the text, each character's background coloured by the quote unit (blue -1 .. red +1);
                    open it in a browser
  quote_unit.png    the same colouring drawn as a picture
  gates.png         the quote unit's activation, then the input (i), forget (f) and output (o) gates of
                    the units that follow quotes most closely, character by character
  loss_curve.png    the training curve (written by the training loop)
  explorer.html     40 characters around a quote in the BPTT explorer, the trained LSTM next to the same
                    LSTM untrained: its gates (click a step) and its output distribution at every step

The gates are read by re-running the LSTM's equations in NumPy from the model's own weights; the script
checks that this re-run reproduces the model's hidden states.
"""

from __future__ import annotations

import html
import io
import os

import numpy as np
from common import parse_args, plt, save
from matplotlib.colors import ListedColormap

from tinygrad_seq import graph, no_grad
from tinygrad_seq.nn.lm.models import LMConfig, build_model, chunk_loss, unfused
from tinygrad_seq.nn.lm.training import TrainConfig, Trainer, prepare_data

EXPLORED = 40  # characters shown in the BPTT explorer
PICTURES = ("quote_unit.png", "gates.png")

# ------------------------------------------------------------------------------------------ the corpus

SUBJECTS = ["the fox", "a cat", "my aunt", "the old man", "she", "he", "the teacher", "our cook", "a boy",
            "the king", "the nurse", "his dog"]
SAYING = ["said", "asked", "shouted", "whispered", "wrote", "cried", "sang"]
SHOUTS = ["RUN", "HOME", "NOW", "STOP", "WAIT", "HERE", "COME", "BACK", "NOT", "YET", "WHERE", "IS", "IT",
          "HELLO", "GOOD", "NIGHT", "THANK", "YOU", "LOOK", "OUT", "NO", "YES", "HELP", "ME"]
ACTIONS = ["left", "ran home", "sat down", "went to bed", "laughed", "ate the pie", "read a book",
           "smiled", "waited", "looked at the sea"]
ASIDES = ["quietly", "of course", "as usual", "for once", "again", "at last", "slowly", "in the rain",
          "with a hat", "twice"]


def shout(rng: np.random.Generator) -> str:
    """One to six capitalised words: what is said inside the quotes."""
    return " ".join(rng.choice(SHOUTS, size=rng.integers(1, 7)))


def aside(rng: np.random.Generator) -> str:
    """A bracketed aside, sometimes with a nested [aside] inside it."""
    inner = f" [{rng.choice(ASIDES)}]" if rng.random() < 0.5 else ""
    return f"(and{inner} {rng.choice(ACTIONS)})" if rng.random() < 0.5 else f"({rng.choice(ASIDES)}{inner})"


def sentence(rng: np.random.Generator) -> str:
    subject, says, action = rng.choice(SUBJECTS), rng.choice(SAYING), rng.choice(ACTIONS)
    tail = f" {aside(rng)}" if rng.random() < 0.5 else ""
    form = rng.integers(4)
    if form == 0:
        return f'{subject} {says} "{shout(rng)}"{tail}.'
    if form == 1:
        return f'"{shout(rng)}" {says} {subject}{tail}.'
    if form == 2:
        return f'{subject} {action}{tail} and {says} "{shout(rng)}".'
    return f"{subject} {action}{tail}."


def make_corpus(chars: int, rng: np.random.Generator) -> str:
    """Lines of two to four sentences, about `chars` characters in all."""
    lines, size = [], 0
    while size < chars:
        line = " ".join(sentence(rng) for _ in range(rng.integers(2, 5)))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def inside_quotes(text: str) -> np.ndarray:
    """(N,) bool: True where the state after reading character t is inside a quote (odd count of quotes)."""
    return np.cumsum([c == '"' for c in text]) % 2 == 1


def bracket_depth(text: str) -> np.ndarray:
    """(N,) int: how many brackets are open after reading character t."""
    return np.cumsum([(c in "([") - (c in ")]") for c in text])


# -------------------------------------------------------------------------------- reading the LSTM


def lstm_trace(model, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Run the model's one-layer LSTM over `ids` (N,) in NumPy; every gate and state, each (N, H).

    The same equations as nn.recurrent (gates i, f, g, o stacked in the weights' rows), in float64.
    """
    params = {name: p.numpy().astype(np.float64) for name, p in model.named_parameters()}
    x = params["embedding.weight"][ids]  # (N,) -> (N, E)
    w_ih, w_hh = params["rnn.weight_ih_l0"], params["rnn.weight_hh_l0"]
    bias = params["rnn.bias_ih_l0"] + params["rnn.bias_hh_l0"]
    H = w_hh.shape[1]
    pre = x @ w_ih.T + bias  # (N, E) @ (E, 4H) -> (N, 4H)
    h, c = np.zeros(H), np.zeros(H)
    out = {k: np.zeros((len(ids), H)) for k in "ifgoch"}
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))
    for t in range(len(ids)):
        z = pre[t] + w_hh @ h  # (4H,)
        i, f, g, o = sigmoid(z[:H]), sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sigmoid(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            out[k][t] = v
    return out


def model_hidden(model, ids: np.ndarray) -> np.ndarray:
    """The model's own hidden states for `ids`: (N, H), from nn.LSTM."""
    with no_grad():
        x = model.embedding(ids[:, None])  # (N, 1) -> (N, 1, E)
        h, _ = model.rnn(x)  # (N, 1, H)
    return h.numpy()[:, 0]


def mean_differences(h: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """(H,): each unit's mean activation where `inside` is True minus its mean where it is False."""
    return h[inside].mean(axis=0) - h[~inside].mean(axis=0)


def correlations(h: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of h (N, H) with target (N,); 0 for a constant unit."""
    hc = h - h.mean(axis=0)
    tc = target - target.mean()
    denom = np.sqrt((hc ** 2).sum(axis=0) * (tc ** 2).sum())
    return np.where(denom > 0, hc.T @ tc / np.where(denom > 0, denom, 1.0), 0.0)


def best_unit(h: np.ndarray, target: np.ndarray) -> tuple[int, float]:
    """(unit, correlation): the unit whose activation follows `target` most closely (either sign)."""
    r = correlations(h, target.astype(np.float64))
    unit = int(np.argmax(np.abs(r)))
    return unit, float(r[unit])


def probe_r2(h: np.ndarray, target: np.ndarray) -> float:
    """R^2 on the second half of a linear read-out of all units, fitted by least squares on the first half."""
    X = np.concatenate([h, np.ones((len(h), 1))], axis=1)  # (N, H) -> (N, H + 1): a bias column
    half = len(X) // 2
    w, *_ = np.linalg.lstsq(X[:half], target[:half], rcond=None)
    residual = target[half:] - X[half:] @ w
    return float(1.0 - residual.var() / target[half:].var())


def quote_unit(h: np.ndarray, inside: np.ndarray) -> tuple[int, float, float]:
    """(unit, mean inside, mean outside) for the unit with the largest |mean inside - mean outside|."""
    unit = int(np.argmax(np.abs(mean_differences(h, inside))))
    return unit, float(h[inside, unit].mean()), float(h[~inside, unit].mean())


# ------------------------------------------------------------------------------------------ pictures

# matplotlib's blue-white-red map mixed 40% with white, so black letters stay readable on every colour
_BWR = plt.get_cmap("bwr")(np.linspace(0, 1, 256))[:, :3]
PALE = ListedColormap(0.6 * _BWR + 0.4, name="pale_bwr")


def colour(value: float) -> tuple[float, float, float]:
    """-1 -> blue, 0 -> white, +1 -> red."""
    r, g, b, _ = PALE((np.clip(value, -1.0, 1.0) + 1.0) / 2.0)
    return r, g, b


def write_html(path: str, text: str, rows: list[tuple[str, np.ndarray]], summary: str) -> None:
    """A self-contained page: for each (title, activations), the text with coloured backgrounds."""
    rgb = lambda v: "rgb({},{},{})".format(*(int(round(255 * c)) for c in colour(v)))
    legend = "".join(f'<span style="background:{rgb(v)}">&nbsp;{v:+.1f}&nbsp;</span>'
                     for v in np.linspace(-1, 1, 9))
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>Lesson 9: inside the hidden state</title>",
        "<style>body{font-family:sans-serif;max-width:62em;margin:2em auto;line-height:1.4}"
        "pre{font-family:monospace;font-size:15px;line-height:1.7;white-space:pre-wrap}</style>",
        "</head><body>",
        "<h1>Inside the hidden state of a char-LSTM</h1>",
        f"<p>{html.escape(summary)}</p>",
        f"<p>Background colour: the unit's activation after reading that character. {legend}</p>",
    ]
    for title, values in rows:
        spans = []
        for char, v in zip(text, values):
            shown = "&#8629;\n" if char == "\n" else html.escape(char)
            spans.append(f'<span style="background:{rgb(v)}" title="{v:+.2f}">{shown}</span>')
        parts += [f"<h2>{html.escape(title)}</h2>", "<pre>" + "".join(spans) + "</pre>"]
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    print(f"  wrote {path}")


def text_picture(text: str, values: np.ndarray, width: int, title: str):
    """The text on a grid, one cell per character, each cell coloured by its value (-1 blue .. +1 red)."""
    lines, line, vals, row = [], "", [], []
    for char, v in zip(text, values):
        if char == "\n" or len(line) == width:
            lines.append(line)
            vals.append(row)
            line, row = "", []
            if char == "\n":
                continue
        line += char
        row.append(v)
    if line:
        lines.append(line)
        vals.append(row)
    grid = np.full((len(lines), width), np.nan)
    for r, row in enumerate(vals):
        grid[r, :len(row)] = row
    fig, ax = plt.subplots(figsize=(0.105 * width + 1.3, 0.26 * len(lines) + 0.9))
    image = ax.imshow(grid, cmap=PALE.with_extremes(bad="white"), vmin=-1, vmax=1, aspect="auto",
                      interpolation="nearest")
    for r, line in enumerate(lines):
        for col, char in enumerate(line):
            if char != " ":
                ax.text(col, r, char, ha="center", va="center", family="monospace", fontsize=8.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01, label="activation")
    return fig


def gates_picture(text: str, trace: dict[str, np.ndarray], units: list[int], labels: list[str],
                  quote: int, inside: np.ndarray):
    """Top: the quote unit's h with the quoted stretches shaded. Below: i, f, o of `units` as heat maps."""
    n = len(text)
    marks = [t for t, c in enumerate(text) if c == '"']
    fig, axes = plt.subplots(4, 1, figsize=(15, 8.4), sharex=True,
                             gridspec_kw={"height_ratios": [1.1, 1, 1, 1]})
    top = axes[0]
    for t in np.flatnonzero(inside):
        top.axvspan(t - 0.5, t + 0.5, color="gold", alpha=0.35, linewidth=0)
    top.plot(np.arange(n), trace["h"][:, quote], color="tab:red", marker=".", markersize=3,
             label=f"h of unit {quote}")
    top.axhline(0, color="gray", linewidth=0.6)
    top.set_ylim(-1.05, 1.05)
    top.set_ylabel("activation h")
    top.set_title(f"Unit {quote} switches at the quote marks (shaded: inside a quote; dotted lines: the "
                  "quote marks)")
    top.legend(loc="lower right", fontsize=8)
    for ax, key, name in zip(axes[1:], "ifo", ("input gate i: how much new content is written",
                                               "forget gate f: how much of the old cell is kept",
                                               "output gate o: how much of the cell is shown as h")):
        image = ax.imshow(trace[key][:, units].T, aspect="auto", cmap="viridis", vmin=0, vmax=1,
                          interpolation="nearest")
        ax.set_yticks(range(len(units)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_title(f"{name} (0 = closed, 1 = open)", fontsize=9, loc="left")
        ax.set_title("\u0394 = mean h inside quotes - mean h outside", fontsize=8, loc="right")
        fig.colorbar(image, ax=ax, fraction=0.015, pad=0.005)
    for t in marks:  # the quote marks as lines through every panel
        top.axvline(t, color="black", linestyle=":", linewidth=1)
        for ax in axes[1:]:
            ax.axvline(t, color="red", linestyle=":", linewidth=1.2)
    shown = ["\u21b5" if c == "\n" else ("\u2423" if c == " " else c) for c in text]
    axes[-1].set_xticks(np.arange(n))
    axes[-1].set_xticklabels(shown, fontsize=7, family="monospace")
    for t in marks:  # the quote marks in red under the heat maps
        label = axes[-1].get_xticklabels()[t]
        label.set_color("red")
        label.set_fontweight("bold")
    axes[-1].set_xlabel("the character just read")
    return fig


# ---------------------------------------------------------------------------------------------- main


def main(argv=None) -> dict:
    args = parse_args("09_hidden_state", __doc__, argv,
                      extra=[("--seed", {"type": int, "default": 0, "help": "corpus and weights seed"})])
    rng = np.random.default_rng(args.seed)
    if args.quick:
        hidden, steps, seq_len, batch, corpus_chars, lines_shown, window = 32, 100, 32, 16, 30_000, 4, 70
    else:
        hidden, steps, seq_len, batch, corpus_chars, lines_shown, window = 64, 550, 64, 32, 300_000, 8, 110
    text = make_corpus(corpus_chars, rng)
    # fresh text, never trained on, to read the units with
    fresh = make_corpus(1500 if args.quick else 3000, np.random.default_rng(args.seed + 1000))
    config = TrainConfig(corpus="quotes and brackets", level="char", seq_len=seq_len, batch_size=batch,
                         lr=1e-2 if args.quick else 5e-3, warmup=20, eval_every=10**9, eval_tokens=5000,
                         seed=args.seed)
    vocab, train_ids, valid_ids = prepare_data(text, config)
    model = build_model(LMConfig("lstm", vocab_size=len(vocab), hidden=hidden, dropout=0.0), rng=args.seed)
    print(f"A char-LSTM ({hidden} hidden units, {len(vocab)} characters) learns {len(text):,} characters "
          f"of quoted, bracketed stories, e.g.\n  {text.splitlines()[0][:110]}")

    ids = vocab.encode(fresh)
    inside, depth = inside_quotes(fresh), bracket_depth(fresh)
    u0, in0, out0 = quote_unit(lstm_trace(model, ids)["h"], inside)

    trainer = Trainer(model, vocab, train_ids, valid_ids, config, out_dir=args.out, stream=io.StringIO())
    result = trainer.run(steps=steps, sample_length=0, progress=False)
    base = result.baselines
    print(f"\nTrained {steps} steps of {seq_len} x {batch} characters: validation loss "
          f"{result.evaluation.loss:.3f} nats/char (unigram {base['unigram'].loss:.3f}, "
          f"trigram {base['trigram'].loss:.3f}).")

    trace = lstm_trace(model, ids)
    agree = float(np.abs(trace["h"] - model_hidden(model, ids)).max())
    if agree > 1e-4:
        raise RuntimeError(f"the NumPy re-run of the LSTM disagrees with the model by {agree:.2g}")
    h_all = trace["h"]
    unit, mean_in, mean_out = quote_unit(h_all, inside)
    r = float(correlations(h_all, inside.astype(np.float64))[unit])
    bracket, r_bracket = best_unit(h_all, depth)
    depth_r2, quote_r2 = probe_r2(h_all, depth.astype(np.float64)), probe_r2(h_all, inside.astype(np.float64))
    print(f"(The NumPy re-run of the LSTM reproduces the model's hidden states to {agree:.1e}.)\n")
    print(f"Every unit read on {len(fresh):,} characters of fresh text, {inside.mean():.0%} of them inside "
          f"quotes; the unit\nwith the largest difference between its mean activation inside and outside:")
    print(f"  {'':10} {'unit':>5} {'mean inside':>12} {'mean outside':>13} {'difference':>11}")
    for name, u, m_in, m_out in (("untrained", u0, in0, out0), ("trained", unit, mean_in, mean_out)):
        print(f"  {name:10} {u:>5} {m_in:>+12.3f} {m_out:>+13.3f} {m_in - m_out:>+11.3f}")
    print(f"\nUnit {unit} is a switch (correlation {r:+.2f} with the inside-quote indicator): it flips when "
          f"a quote opens,\nholds its value across the spaces and words in between, and flips back when "
          f"the quote closes.\nIt is the memory that predicts the capitals.")
    word_a = np.array([c == "a" and (t == 0 or fresh[t - 1] in " \n") for t, c in enumerate(fresh)])
    dip_a = float(h_all[word_a & ~inside, unit].mean())
    print(f"Outside quotes it is not constant: after a word-initial 'a' it dips to {dip_a:+.2f} on average "
          f"(outside quotes\nelsewhere {h_all[~word_a & ~inside, unit].mean():+.2f}): a second job the same "
          "unit does.")
    marks = np.array([c == '"' for c in fresh])
    f_mark, f_rest = trace["f"][marks, unit].mean(), trace["f"][~marks, unit].mean()
    i_mark, i_rest = trace["i"][marks, unit].mean(), trace["i"][~marks, unit].mean()
    print(f"Its gates at a quote mark vs elsewhere: forget gate f {f_mark:.2f} vs {f_rest:.2f}, input gate "
          f"i {i_mark:.2f} vs {i_rest:.2f}\n(f near 0 drops what the cell held; i open writes the new value)."
          "\n")
    print("How much of a feature one unit explains (R^2 = correlation squared), and how much a linear "
          "read-out of\nall the units explains on held-out text:")
    print(f"  {'feature':26} {'best unit':>9} {'R^2, that unit':>15} {'R^2, all units':>15}")
    print(f"  {'inside a quote':26} {unit:>9} {r * r:>15.2f} {quote_r2:>15.2f}")
    print(f"  {'number of open brackets':26} {bracket:>9} {r_bracket ** 2:>15.2f} {depth_r2:>15.2f}")
    print(f"The quote has a unit of its own. The bracket depth has none: one unit explains "
          f"{r_bracket ** 2:.2f} of it, all {hidden}\nunits together {depth_r2:.2f}.")

    summary = (f"A {hidden}-unit char-LSTM trained on quoted, bracketed stories, read on text it never saw. "
               f"Unit {unit}: mean {mean_in:+.2f} inside quotes, {mean_out:+.2f} outside (correlation "
               f"{r:+.2f} with the inside-quote indicator). Unit {bracket}, the best single match for the "
               f"number of open brackets, follows it only roughly (correlation {r_bracket:+.2f}); all the "
               f"units together recover it with R^2 = {depth_r2:.2f}. Hover over a character to read the "
               f"value.")
    shown = fresh[:1500]
    page = os.path.join(args.out, "quote_unit.html")
    write_html(page, shown, [(f"Unit {unit}: inside a quote?", h_all[:len(shown), unit]),
                             (f"Unit {bracket}: how deep in brackets?", h_all[:len(shown), bracket])],
               summary)
    n = sum(len(line) for line in fresh.splitlines(keepends=True)[:lines_shown])
    fig = text_picture(fresh[:n], h_all[:n, unit], width=100,
                       title=f"Each character coloured by LSTM unit {unit} after reading it "
                             f"(blue -1, red +1): mean {mean_in:+.2f} inside quotes, {mean_out:+.2f} outside")
    save(fig, args.out, "quote_unit.png")

    start = max(fresh.find('"') - 12, 0)
    part = slice(start, start + window)
    diffs = mean_differences(h_all, inside)
    units = [int(u) for u in np.argsort(-np.abs(diffs))[:6]]
    units += [bracket] if bracket not in units else []
    labels = [f"unit {u}" + (" quote" if u == unit else " brackets" if u == bracket else "")
              + f", \u0394 {diffs[u]:+.2f}" for u in units]
    fig = gates_picture(fresh[part], {k: v[part] for k, v in trace.items()}, units, labels, unit,
                        inside[part])
    save(fig, args.out, "gates.png")

    # the start of that window in the BPTT explorer: the trained LSTM next to its initialisation
    read = fresh[start : start + EXPLORED + 1]
    x, y = vocab.encode(read[:-1])[:, None], vocab.encode(read[1:])[:, None]  # (T, 1)
    untrained = build_model(LMConfig("lstm", vocab_size=len(vocab), hidden=hidden), rng=args.seed)
    model.eval()
    with unfused(model), unfused(untrained):  # trained fused; the same weights as small ops, step-wise
        loss, loss_untrained = chunk_loss(model, x, y)[0], chunk_loss(untrained, x, y)[0]
    explorer = graph.explore(loss, params=model, name="trained char-LSTM",
                             compare={"untrained": (loss_untrained, untrained)},
                             tokens=list(read[:-1]), vocab=vocab.itos, targets=y[:, 0],
                             path=os.path.join(args.out, "explorer.html"))
    print(f"  wrote {explorer} (open it in a browser)")
    return {"quote_unit": unit, "mean_inside": mean_in, "mean_outside": mean_out, "quote_corr": r,
            "forget_at_quotes": float(f_mark), "forget_elsewhere": float(f_rest),
            "untrained_difference": in0 - out0, "dip_at_word_initial_a": dip_a, "bracket_unit": bracket,
            "bracket_corr": r_bracket,
            "bracket_probe_r2": depth_r2, "quote_probe_r2": quote_r2,
            "valid_loss": result.evaluation.loss, "trigram_loss": base["trigram"].loss, "html": page,
            "explorer": explorer}


def readme_figures(r: dict) -> dict[str, str]:
    return {"unit": f"unit {r['quote_unit']}", "inside": f"{r['mean_inside']:+.2f} inside",
            "outside": f"{r['mean_outside']:+.2f} outside",
            "untrained": f"{abs(r['untrained_difference']):.2f}",
            "dip_a": f"{r['dip_at_word_initial_a']:+.2f}",
            "forget": f"{r['forget_at_quotes']:.2f} at the quote marks "
                      f"({r['forget_elsewhere']:.2f} elsewhere)"}


if __name__ == "__main__":
    main()
