"""The explorer's page: HTML with each model's SVG drawn here, its data as JSON, a small script inline.

`page(models, title)` turns what `explorer.analyse` found into one self-contained HTML text. The unroll
is laid out here in Python (deterministic), its colours, strips and the panels below it come from
`explore_panels`; the script (explore.js) expands the colour strips into cells, shows and hides what
the time slider and the clicks select, names the cell under the mouse, follows a unit over time, and
redraws the share bars on a log scale or for one loss term; the style sheet is explore.css. Both are
inlined.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from html import escape

from .explore_panels import (
    TARGET,
    cell_size,
    distributions,
    diverging,
    legend,
    num,
    probability_colour,
    share_panels,
    show,
    step_panels,
    strip,
)
from .graph_style import norm_colour, text_colour

__all__ = ["page"]

_LEFT, _COL, _GAP, _X0 = 74, 40, 7, 4  # row labels' width; a step's column; the gap between two; step 0's x
_FOLLOW = 22  # the height of a followed unit's row
_HERE = os.path.dirname(os.path.abspath(__file__))

# one row of the unroll: (label, height, "fwd" or "bwd", draw(step k, x, y) -> SVG)
Row = tuple[str, float, str, Callable[[int, float, float], str]]


def page(models: list[dict], title: str) -> str:
    """One self-contained HTML page showing `models` (from `explorer.analyse`) side by side."""
    longest = max(m["T"] for m in models)
    for j, m in enumerate(models):
        m["id"] = f"m{j}"
    data = {"T": longest, "models": [_data(m) for m in models]}
    how = (
        "Move the slider: first the forward pass, step by step (input, hidden state, output distribution), "
        "then the backward pass from the loss, lighting up the gradient that reaches each step. Hover a "
        "cell for its unit and value; click a cell of h or c to follow that unit over time. Click a "
        "parameter to split its gradient by time step (BPTT's sum: the bars add up to the whole "
        "gradient); click a step to see its gates."
    )
    end = 2 * longest - 1
    body = [
        f'<h1>{escape(title)}</h1><p class="how">{escape(how)}</p>',
        f'<div class="controls"><input type="range" id="time" min="0" max="{end}" value="{end}" '
        'aria-label="time step"><span id="phase"></span><label class="follow">follow unit <input '
        'type="number" id="unit" min="0" step="1" placeholder="–" aria-label="unit to follow"></label>'
        f'<div class="legend">{legend()}</div></div>',
        '<div class="models">' + "".join(_model(m) for m in models) + "</div>",
        '<div id="tip" hidden></div>',
    ]
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")  # cannot close the script
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>\n{_read('explore.css')}</style></head>\n<body>\n" + "\n".join(body)
        + f'\n<script type="application/json" id="explore-data">{payload}</script>\n'
        f"<script>\n{_read('explore.js')}</script>\n</body></html>\n"
    )


def _data(m: dict) -> dict:
    """What the script needs of one model: captions, the strips' geometry and values (for the hover and
    the followed unit), the gradient boxes and step shares of the whole loss and of each term."""
    strips = []
    for label, values, _ in _strip_rows(m):
        strips.append({"label": label, "values": values, "state": label in [s["name"] for s in m["states"]]})
    outputs = m["outputs"] or []
    whole = {"label": "L", "boxes": _boxes([s["grad_norm"] for s in m["states"]]),
             "params": [{"total": p["total"], "shares": [[s["along"], s["norm"]] for s in p["shares"]]}
                        for p in m["params"]]}
    terms = [{"label": t["label"], "boxes": _boxes(t["grad_norm"]), "params": t["params"]}
             for t in m["terms"]]
    return {"id": m["id"], "name": m["name"], "T": m["T"], "captions": _captions(m), "x0": _X0,
            "col": _COL, "gap": _GAP, "strips": strips, "targets": m["targets"],
            "classes": outputs[0]["labels"] if outputs and outputs[0] else None,
            "gradients": [whole] + terms}


def _boxes(norms: list[list[float | None]]) -> list[list[list[str]]]:
    """Per state, per step: the gradient box's [fill, text colour, text]."""
    out = []
    for per in norms:
        row = []
        for norm in per:
            fill = "#ffffff" if norm is None else norm_colour(norm)
            row.append([fill, text_colour(fill), num(norm)])
        out.append(row)
    return out


def _read(name: str) -> str:
    with open(os.path.join(_HERE, name), encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------------------------------------
# one model: its parameters, the unroll, the panels below it
# ---------------------------------------------------------------------------------------------


def _model(m: dict) -> str:
    pid = m["id"]
    loss = f' <span class="loss">loss {m["loss"]:.4g}</span>' if m["loss"] is not None else ""
    chips = "".join(
        f'<button class="param" id="{pid}-p{j}" data-model="{pid}" data-param="{j}">{escape(p["name"])} '
        f'<small>{"×".join(map(str, p["shape"])) or "scalar"}</small></button>'
        for j, p in enumerate(m["params"])
    )
    equations = "".join(f"<div>{escape(line)}</div>" for line in m["equations"])
    defs = (f'<div class="defs"><div><b>loss</b> {escape(m["loss_text"])}</div>'
            f"<div><b>each step</b></div><div class=\"eq\">{equations}</div></div>")
    panels = distributions(m) + share_panels(m) + step_panels(m)
    labels, unroll = _svg(m)
    return (
        f'<section class="model" id="{pid}" data-selected-param="{_default_param(m)}">'
        f"<h2>{escape(m['name'])}{loss}</h2>{defs}{_term_choice(m)}<div>{chips}</div>"
        f'<div class="unroll">{labels}<div class="scroll">{unroll}</div></div>'
        f'<p class="caption" id="{pid}-caption"></p><div class="panels">{panels}</div></section>'
    )


def _term_choice(m: dict) -> str:
    """Radio buttons: the gradient of the whole loss, or of one step's own loss L_t."""
    if not m["terms"]:
        return ""
    name = f'{m["id"]}-term'
    options = [(0, "L, the whole loss")] + [(j + 1, f"{t['label']} = {t['value']:.3g}") for j, t in
                                            enumerate(m["terms"])]
    return ('<div class="terms">gradient of: ' + "".join(
        f'<label><input type="radio" name="{name}" class="term" data-model="{m["id"]}" value="{j}"'
        f'{" checked" if j == 0 else ""}> {escape(text)}</label>' for j, text in options)
        + ' <span class="note">(one term L_t reaches only the steps up to t)</span></div>')


def _default_param(m: dict) -> int:
    """The recurrent weight (named *hh*, not a bias) if there is one, else the one spread over most steps."""
    ps = m["params"]
    last = [p["name"].rsplit(".", 1)[-1].lower() for p in ps]
    named = [j for j, n in enumerate(last) if "hh" in n and not n.startswith("b")]
    if named:
        return named[0]
    return max(range(len(ps)), key=lambda j: sum(s["norm"] > 0 for s in ps[j]["shares"]), default=0)


def _strip_rows(m: dict) -> list[tuple[str, list, Callable[[float], str]]]:
    """The colour-strip rows, top to bottom: (label, values per step, colour)."""
    rows: list[tuple[str, list, Callable[[float], str]]] = []
    if m["inputs"]:
        rows.append(("input", m["inputs"], diverging(_top(m["inputs"]))))
    for s in m["states"]:
        rows.append((s["name"], s["values"], diverging(_top(s["values"]))))
    if m["outputs"]:
        rows.append(("p(next)", [o and o["probs"] for o in m["outputs"]], probability_colour))
    return rows


_SPACE = {"input": (48, (1.2, 6)), "p(next)": (60, (1.2, 6))}  # a row's height and its cells' size limits


def _rows(m: dict) -> list[Row]:
    """The rows of the unroll, top to bottom: token, input, states, output distribution, the followed
    unit, gradients, t."""
    rows: list[Row] = []
    if m["tokens"]:
        rows.append(("reads", 14, "fwd", lambda k, x, y: (
            f'<text x="{x + _COL / 2}" y="{y + 12}" text-anchor="middle" font-size="13" '
            f'font-weight="bold">{escape(show(m["tokens"][k]))}</text>')))
    states = [s["name"] for s in m["states"]]
    for label, values, colour in _strip_rows(m):
        space, limits = _SPACE.get(label, (96, (1.5, 8)))
        target = m["targets"] if label == "p(next)" else None
        shown = f"{label} ({len(next((v for v in values if v), []))})" if label != "p(next)" else label
        rows.append(_strip_row(shown, label, values, space, limits, colour, label in states, target))
    for s in m["states"]:  # the followed unit: drawn by the script
        rows.append((f"{s['name']}[·]", _FOLLOW, "fwd", lambda k, x, y, name=s["name"]: (  # type: ignore[misc]
            f'<g class="follow" data-state="{name}" data-step="{k}" data-x="{x}" data-y="{y}"></g>')))
    for j, s in enumerate(m["states"]):
        norms = s["grad_norm"]
        rows.append((f"‖dL/d{s['name']}‖", 18, "bwd",
                     lambda k, x, y, norms=norms, j=j: _grad_box(norms[k], x, y, j, k)))  # type: ignore[misc]
    rows.append(("", 12, "fwd", lambda k, x, y: (
        f'<text x="{x + _COL / 2}" y="{y + 10}" text-anchor="middle" font-size="12" fill="#555">'
        f'{m["steps"][k]}</text>')))
    return rows


def _top(rows: list) -> float:
    return max((abs(v) for r in rows if r for v in r), default=0.0)


def _strip_row(label: str, row: str, per_step: list, space: float, limits: tuple[float, float],
               colour: Callable[[float], str], arrows: bool = False, targets: list | None = None) -> Row:
    """A row of vertical colour strips, one per step (and an arrow to the next step for a state, and a
    mark on each step's target class)."""
    n = len(next((v for v in per_step if v), []))
    cell = cell_size(n, space, *limits)
    T = len(per_step)

    def draw(k: int, x: float, y: float) -> str:
        if not per_step[k]:
            return ""
        out = strip(per_step[k], x, y, _COL, cell, colour, f"{label} at t={k}", row=row)
        if arrows and k + 1 < T:  # the state passed on to the next step
            mid = y + n * cell / 2
            out += (f'<path d="M{x + _COL + 1} {mid:.1f} h{_GAP - 3}" stroke="#333" stroke-width="1.5"/>'
                    f'<path d="M{x + _COL + _GAP - 1} {mid:.1f} l-3 -3 v6 z" fill="#333"/>')
        if targets is not None and 0 <= targets[k] < n:  # the class it should predict
            top = y + targets[k] * cell
            out += (f'<rect class="target" data-step="{k}" data-class="{targets[k]}" x="{x - 1}" '
                    f'y="{top - 0.5:.2f}" width="{_COL + 2}" height="{max(cell, 1.5) + 1:.2f}" fill="none" '
                    f'stroke="{TARGET}" stroke-width="1.5"/><path d="M{x - 4} {top + cell / 2 - 3:.1f} l4 3 '
                    f'l-4 3 z" fill="{TARGET}"/>')
        return out

    return label, n * cell, "fwd", draw


def _grad_box(norm: float | None, x: float, y: float, state: int, k: int) -> str:
    fill = "#ffffff" if norm is None else norm_colour(norm)
    text = num(norm)
    return (f'<g class="gbox" data-state="{state}" data-step="{k}"><rect x="{x}" y="{y}" width="{_COL}" '
            f'height="18" rx="3" fill="{fill}" stroke="#999" stroke-width="0.5"/><text x="{x + _COL / 2}" '
            f'y="{y + 13}" text-anchor="middle" font-size="9.5" fill="{text_colour(fill)}">{escape(text)}'
            "</text></g>")


def _svg(m: dict) -> tuple[str, str]:
    """(the row labels, the unroll): a column per step (a group for the forward rows, one for the gradient
    rows), the loss. The labels stay put while the unroll scrolls sideways."""
    T = m["T"]
    xs = [_X0 + k * (_COL + _GAP) for k in range(T)]
    labels: list[str] = []
    drawn: dict[str, list[list[str]]] = {"fwd": [[] for _ in range(T)], "bwd": [[] for _ in range(T)]}
    y, grad_rows, hint = 4.0, [], ""
    for label, height, kind, draw in _rows(m):
        named = ' class="follow-label"' if label.endswith("[·]") else ""  # the script writes the unit in
        labels.append(f'<text x="{_LEFT - 8}" y="{y + height / 2 + 4:.1f}" text-anchor="end" font-size="12"'
                      f"{named}>{escape(label)}</text>")
        for k in range(T):
            drawn[kind][k].append(draw(k, xs[k], y))
        if named and not hint:  # what the empty row is for, until a unit is followed
            hint = (f'<text class="follow-hint" x="{_X0 + 4}" y="{y + height / 2 + 4:.1f}" font-size="11" '
                    'fill="#777">click a cell of h or c (or type a unit above) to follow it here</text>')
        if kind == "bwd":
            grad_rows.append(y)
        y += height + 6
    height, x_loss = y + 2, xs[-1] + _COL + 14
    out = [f'<svg class="main" xmlns="http://www.w3.org/2000/svg" width="{x_loss + 80}" '
           f'height="{height:.0f}">']
    for k in range(T):
        out += [f'<rect class="frame" data-step="{k}" x="{xs[k] - 3}" y="1" width="{_COL + 6}" '
                f'height="{height - 2:.0f}" rx="4" fill="none" stroke="#f59e0b" stroke-width="2"/>',
                f'<g class="fwd" data-step="{k}">{"".join(drawn["fwd"][k])}</g>',
                f'<g class="bwd" data-step="{k}">{"".join(drawn["bwd"][k])}</g>']
    if grad_rows:  # the loss, where the backward pass starts
        top, box = grad_rows[0], grad_rows[-1] + 18 - grad_rows[0]
        value = f" {m['loss']:.3g}" if m["loss"] is not None else ""
        out += [f'<rect x="{x_loss}" y="{top:.1f}" width="70" height="{box:.1f}" rx="4" fill="#e6d3f5" '
                'stroke="#8e6bb0"/>', f'<text class="loss-name" x="{x_loss + 35}" '
                f'y="{top + box / 2 + 4:.1f}" text-anchor="middle" font-size="12">loss{value}</text>']
    out.append(f'<g class="marks"></g>{hint}')  # the followed unit's outline, drawn by the script
    out += [f'<rect class="col" data-model="{m["id"]}" data-col="{k}" x="{xs[k] - 3}" y="0" '
            f'width="{_COL + 6}" height="{height:.0f}"/>' for k in range(T)]
    side = f'<svg class="labels" width="{_LEFT}" height="{height:.0f}">{"".join(labels)}</svg>'
    return side, "".join(out) + "</svg>"


def _captions(m: dict) -> list[str]:
    """What the slider's 2T positions say: T forward steps, then the backward pass from t=T-1 to t=0."""
    T, out = m["T"], []
    for k in range(T):
        words = [f"forward, t={k}:"]
        if m["tokens"]:
            words.append(f"reads “{show(m['tokens'][k])}”,")
        for s in m["states"]:
            if s["values"][k]:
                words.append(f"{s['name']}_{k} has |values| ≤ {max(abs(x) for x in s['values'][k]):.2f},")
        o = m["outputs"][k] if m["outputs"] else None
        if o:
            i = max(range(len(o["probs"])), key=lambda i: o["probs"][i])
            words.append(f"and predicts “{show(o['labels'][i])}” next (p = {o['probs'][i]:.2f})")
        out.append(" ".join(words).rstrip(","))
    for k in range(T - 1, -1, -1):
        norms = ", ".join(f"‖dL/d{s['name']}_{k}‖ = {num(s['grad_norm'][k])}" for s in m["states"])
        last = ", ".join(num(s["grad_norm"][T - 1]) for s in m["states"])
        out.append(f"backward: the gradient has flowed from the loss back to t={k}: {norms} "
                   f"(at t={T - 1}: {last})")
    return out
