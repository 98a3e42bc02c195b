"""The explorer's drawing pieces: colours, colour strips, the panels below the unroll, the legend.

`explore_page` lays out the unroll and assembles the page from these. Colours: states and inputs blue
(negative), white (0), red (positive), scaled to the largest |value| of their row; gates white (0) to
dark blue (1) (the tanh candidates g and n blue (-1), white (0), red (1)); probabilities the same on a
square-root scale, the target class green; gradient norms on the renderer's fixed log scale
(`graph_style`), so that the explorer and the pictures agree.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from .graph_style import NORM_SCALE

__all__ = ["DARK", "DECADES", "MID", "NEG", "POS", "SHARE", "TARGET", "cell_size", "distributions",
           "diverging", "gate_colour", "legend", "mix", "num", "probability_colour", "share_panels", "show",
           "step_panels", "strip"]

NEG, MID, POS, DARK, SHARE = "#2166ac", "#f7f7f7", "#b2182b", "#08306b", "#b8860b"
TARGET = "#1a9850"  # the target class, in p(next) and the output distribution
DECADES = 6  # the share bars' log scale shows this many decades below the largest


# ---------------------------------------------------------------------------------------------
# colours and small helpers
# ---------------------------------------------------------------------------------------------


def mix(c0: str, c1: str, f: float) -> str:
    """The colour a fraction `f` (0..1) of the way from c0 to c1."""
    f = min(max(f, 0.0), 1.0)
    rgb = (round(int(c0[i : i + 2], 16) * (1 - f) + int(c1[i : i + 2], 16) * f) for i in (1, 3, 5))
    return "#" + "".join(f"{v:02x}" for v in rgb)


def diverging(top: float) -> Callable[[float], str]:
    """Blue (-top) .. white (0) .. red (+top)."""
    top = top or 1.0
    return lambda v: mix(MID, POS, v / top) if v >= 0 else mix(MID, NEG, -v / top)


def gate_colour(v: float) -> str:
    """A sigmoid gate's colour: white (0) .. dark blue (1)."""
    return mix("#ffffff", DARK, v)


def probability_colour(v: float) -> str:
    """A probability's colour: white (0) .. dark blue (1) on a square-root scale (small ones show)."""
    return mix("#ffffff", DARK, max(v, 0.0) ** 0.5)


def num(v: float | None) -> str:
    """A gradient norm as drawn: 1.2e-03, "0" when exactly zero, "–" when nothing reaches it."""
    return "–" if v is None else "0" if v == 0 else f"{v:.1e}"


def show(token: str) -> str:
    """A token as drawn: white space made visible."""
    return {" ": "␣", "\n": "↵", "\t": "⇥"}.get(token, token)


def cell_size(n: int, space: float, lo: float, hi: float) -> float:
    """The size of one of n cells sharing `space`, kept within [lo, hi]."""
    return min(max(space / max(n, 1), lo), hi)


def strip(values: list[float], x: float, y: float, size: float, cell: float, colour: Callable[[float], str],
           tip: str, across: bool = False, row: str = "") -> str:
    """A colour strip, one cell per value, stacked down (or `across`), named by its tooltip.

    The cells' colours are packed into the group (``data-fill``) and drawn by the script: an LSTM page
    has tens of thousands of cells, and a rect each would make it megabytes. A strip running across
    (the gates) also carries its values, shown on each cell's tooltip.
    """
    fill = ",".join(colour(v)[1:] for v in values)
    shown = f' data-values="{",".join(f"{v:.3g}" for v in values)}"' if across else ""
    return (f'<g class="strip" data-row="{escape(row)}" data-x="{x:.1f}" data-y="{y:.2f}" data-size="{size}" '
            f'data-cell="{cell:.3f}" data-across="{int(across)}" data-fill="{fill}"{shown}>'
            f"<title>{escape(tip)}</title></g>")


# ---------------------------------------------------------------------------------------------
# the panels below the unroll (one of each kind shown at a time)
# ---------------------------------------------------------------------------------------------


def distributions(m: dict) -> str:
    """The output distribution of each step: its most likely classes as bars, and the target's."""
    if not m["outputs"]:
        return ""
    out = ['<div class="panel"><h3>output distribution</h3>']
    for k, o in enumerate(m["outputs"]):
        if o is None:
            continue
        target = m["targets"][k] if m["targets"] else None
        best = sorted(range(len(o["probs"])), key=lambda i: -o["probs"][i])[:8]
        if target is not None and target not in best and 0 <= target < len(o["probs"]):
            best.append(target)
        bars = "".join(
            f'<text x="28" y="{14 + 16 * r}" text-anchor="end" font-size="12">{escape(show(o["labels"][i]))}'
            f'</text><rect x="32" y="{4 + 16 * r}" width="{150 * o["probs"][i]:.1f}" height="12" '
            f'fill="{TARGET if i == target else DARK}"/><text x="{36 + 150 * o["probs"][i]:.1f}" '
            f'y="{14 + 16 * r}" font-size="11">'
            f'{o["probs"][i]:.3f}{" ← target" if i == target else ""}</text>'
            for r, i in enumerate(best)
        )
        out.append(f'<div class="dist" data-step="{k}" hidden><div>next, after t={k}</div>'
                   f'<svg width="260" height="{8 + 16 * len(best)}">{bars}</svg></div>')
    return "".join(out) + "</div>"


def share_panels(m: dict) -> str:
    """Per parameter: each step's share of its gradient as bars that add up to the whole gradient.

    A bar is the share's component along the whole gradient g, <share, g> / ‖g‖: these add up to ‖g‖
    exactly, and one can be negative. The dashed outline behind it is the share's own norm. The script
    redraws the bars on a log scale, or for one loss term. A parameter used only outside the loop gets
    one sentence: there is nothing to split.
    """
    out = ['<div class="panel">']
    for j, p in enumerate(m["params"]):
        name, short = escape(p["name"]), escape(p["name"].rsplit(".", 1)[-1])
        head = f'<div class="share" id="{m["id"]}-share-{j}" data-param="{j}" hidden>'
        if not p["in_loop"]:
            out.append(f"{head}<h3>{name}: used once, outside the loop</h3><div>no step reads it: it is "
                       "used once, outside the loop (before or after the steps), so its gradient "
                       f"(‖dL/d{short}‖ = <b class=\"total-text\">{p['total']:.4g}</b>) has no share per "
                       "step to show</div></div>")
            continue
        shares = p["shares"]
        w = cell_size(len(shares), 600, 2, 36)
        gap = 4 if w >= 8 else 1
        biggest = max([abs(s["along"]) for s in shares] + [s["norm"] for s in shares] + [p["total"], 1e-300])
        scale = 90 / biggest
        base = 98
        deepest = max([-s["along"] * scale for s in shares] + [0.0])  # a negative bar hangs below the axis
        below = max(deepest, 30.0) if deepest > 0 else 0.0  # room for it, on either scale
        height = base + below + 24
        bars, every = [], -(-30 // int(w + gap))  # label every bar, or every 2nd, 3rd... when they are narrow
        for i, s in enumerate(shares):
            x, a, nh = 46 + i * (w + gap), s["along"] * scale, s["norm"] * scale
            bars.append(
                f'<g class="bar" data-key="{escape(s["key"])}" data-along="{s["along"]!r}" '
                f'data-norm="{s["norm"]!r}"><title>{escape(s["label"])}: adds {s["along"]:.4g} to the '
                f'gradient; on its own, size {s["norm"]:.4g}</title>'
                f'<rect class="norm" x="{x:.1f}" y="{base - nh:.1f}" width="{w:.1f}" '
                f'height="{nh:.1f}" fill="none" stroke="{SHARE}" stroke-dasharray="2,2"/>'
                f'<rect class="along" x="{x:.1f}" y="{min(base, base - a):.1f}" width="{w:.1f}" '
                f'height="{abs(a):.1f}" fill="{SHARE}"/>'
                f'<text x="{x + w / 2:.1f}" y="{height - 8:.0f}" text-anchor="middle" font-size="10">'
                f'{escape(s["label"]) if i % every == 0 else ""}</text></g>'
            )
        x_sum, tot, ws = 56 + len(shares) * (w + gap), p["total"] * scale, max(w, 14)
        bars += [f'<g class="total" data-total="{p["total"]!r}"><rect x="{x_sum:.1f}" y="{base - tot:.1f}" '
                 f'width="{ws:.1f}" height="{tot:.1f}" fill="#555"/><text x="{x_sum + ws / 2:.1f}" '
                 f'y="{height - 8:.0f}" text-anchor="middle" font-size="10">sum</text></g>',
                 f'<line x1="42" x2="{x_sum + ws + 4:.1f}" y1="{base}" y2="{base}" stroke="#333"/>',
                 f'<g class="ticks" data-base="{base}"></g>']
        out.append(
            f"{head}<h3>{name}: each step's share of dL/d{short}</h3><div>‖dL/d{short}‖ = <b "
            f'class="total-text">{p["total"]:.4g}</b>: the bars add up to it. A bar: how much that step\'s '
            f"use of {short} adds to the whole gradient (a step pulling the other way adds less than zero); "
            "dashed: the size of that step's gradient on its own.</div>"
            f'<label class="logscale"><input type="checkbox" class="log" data-model="{m["id"]}"> log scale '
            f"(linear by default: only there do the bars add up to the sum; log shows the early steps, "
            f"{DECADES} decades below the largest bar)</label>"
            f'<svg width="{x_sum + ws + 12:.0f}" height="{height:.0f}" data-base="{base}" data-top="90" '
            f'data-below="{below:.1f}" '
            f'data-decades="{DECADES}">{"".join(bars)}</svg></div>'
        )
    return "".join(out) + "</div>"


def step_panels(m: dict) -> str:
    """Per step: its gates as heat strips and the gradient norm reaching its states."""
    out = ['<div class="panel">']
    for k in range(m["T"]):
        reads = f" (reads {escape(show(m['tokens'][k]))})" if m["tokens"] else ""
        norms = ", ".join(f"‖dL/d{s['name']}‖ = {num(s['grad_norm'][k])}" for s in m["states"])
        gates, width, strips = m["gates"][k], 0.0, []
        for r, gate in enumerate(gates):
            cell = cell_size(len(gate["values"]), 360, 3, 16)
            width = max(width, cell * len(gate["values"]))
            label = f'<text x="14" y="{14 + 18 * r}" text-anchor="end" font-size="12">{escape(gate["label"])}'
            colour = gate_colour if gate["low"] == 0 else diverging(1.0)  # a tanh candidate: -1 .. 1
            strips.append(label + "</text>" + strip(gate["values"], 20, 2 + 18 * r, 15, cell, colour,
                                                     gate["label"], across=True))
        size = f'width="{width + 26:.0f}" height="{4 + 18 * len(gates)}"'
        scale = "white 0, dark 1" + ("; candidates: blue -1, white 0, red 1" if any(
            gate["low"] for gate in gates) else "")
        shown = (f'<div>gates ({scale})</div><svg {size}>{"".join(strips)}</svg>' if gates else
                 "<div>no gates in this step: nothing in a plain RNN decides what to keep</div>")
        out.append(f'<div class="stepinfo" id="{m["id"]}-step-{k}" data-step="{k}" hidden>'
                   f'<h3>step t={k}{reads}</h3><div>gradient reaching it: <span class="stepnorms">{norms}'
                   f"</span></div>{shown}</div>")
    return "".join(out) + "</div>"


def legend() -> str:
    def swatch(c: str) -> str:
        return f'<span class="swatch" style="background:{c}"></span>'

    return (
        f"states and inputs {swatch(NEG)} negative {swatch(MID)} 0 {swatch(POS)} positive (scaled to the "
        f"row's largest |value|) · gates {swatch('#ffffff')} 0 {swatch(DARK)} 1 · p(next) the same, "
        f"square-root scale, {swatch(TARGET)} the target · ‖gradient‖, log scale: "
        f"1e{NORM_SCALE[0][0]} {''.join(swatch(c) for _, c in NORM_SCALE)} 1e+{NORM_SCALE[-1][0]}"
    )
