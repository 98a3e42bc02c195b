"""Where a picture's nodes go: one long row, or time steps wrapped into rows that fit a page.

`to_dot` draws in one of two layouts. ``"row"`` runs everything left to right (Graphviz's rankdir LR), the
time steps of an unroll one after the other: right for a few steps, a wall for many. Rows of k steps run
top to bottom (rankdir TB): the steps of one row sit side by side, left to right, and the next row starts
under the first step of the row above, so the state passed from the end of a row to the start of the
next is one arrow back to the left margin (k = 1: time runs downwards). ``"auto"`` keeps one row when the
picture is narrow enough and otherwise runs time downwards (see `choose` for why not rows of k > 1).

    >>> from tinygrad_seq import Tensor, graph
    >>> w = Tensor([0.5, -1.0], requires_grad=True)
    >>> 'rankdir="LR"' in graph.to_dot((w * w).sum())  # a small graph stays one row
    True

The layout reads each drawn node's time step (`steps`), picks a layout (`choose`) and writes the ranks
Graphviz must respect (`constraints`): invisible edges, ``rank=same`` groups, and the real edges that must
not pull a node into another rank (``constraint=false``). `fit_svg` makes an SVG scale to its column.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from .graph_analysis import time_step

__all__ = ["choose", "constraints", "fit_svg", "steps", "widths"]

# Page geometry in inches, measured on dot's output (Helvetica 10, nodesep 0.25, ranksep 0.35).
_PAGE = 14.0  # widest picture wanted: at a 900 px column its 9 pt text still shows 6 px high
_GAP = 0.35  # between two nodes of a rank, or two ranks
_LABEL = 1.0  # a state edge's label between two steps ("h ‖g‖ 6.0e-02")
_CHAR, _PAD = 0.065, 0.35  # one character of a 10 pt label, and a node's padding
_LABEL_TEXT = re.compile(r'label="((?:[^"\\]|\\.)*)"')

Step = tuple[tuple[str, ...], float]  # (the unroll's scope, the step's position; a gap: its mean step)


def steps(items: dict[tuple, Any]) -> dict[tuple, Step]:
    """The time step each drawn node belongs to (nodes outside every unroll are left out)."""
    found: dict[tuple, Step] = {}
    for key, it in items.items():
        if it.kind == "gap":
            found[key] = (it.key[1], sum(it.steps) / max(len(it.steps), 1))
            continue
        op_scope = it.fn.scope if it.kind == "op" and it.fn is not None else it.cluster
        s = time_step(it.key[1] if it.kind == "box" else op_scope)
        if s:
            found[key] = (s[0], float(s[1]))
    return found


def _unrolls(step: dict[tuple, Step]) -> list[list[list[tuple]]]:
    """Each unroll as its list of steps in time order, a step as the keys of its nodes."""
    by: dict[tuple[str, ...], dict[float, list[tuple]]] = {}
    for key, (parent, k) in step.items():
        by.setdefault(parent, {}).setdefault(k, []).append(key)
    return [[ks[k] for k in sorted(ks)] for ks in by.values()]


def _ends(step: dict[tuple, Step], links: list[tuple[tuple, tuple]]) -> tuple[set[tuple], set[tuple]]:
    """(nodes with a predecessor in their own step, nodes with a successor in their own step)."""
    has_in, has_out = set(), set()
    for a, b in links:
        if a in step and step.get(b) == step[a]:
            has_out.add(a)
            has_in.add(b)
    return has_in, has_out


def _depths(keys: list[tuple], links: list[tuple[tuple, tuple]]) -> dict[tuple, int]:
    """Longest-path rank of each node over the links among `keys` (Kahn's order: no recursion)."""
    inside = set(keys)
    succ: dict[tuple, list[tuple]] = {k: [] for k in keys}
    indeg = dict.fromkeys(keys, 0)
    for a, b in links:
        if a in inside and b in inside and a != b:
            succ[a].append(b)
            indeg[b] += 1
    depth = dict.fromkeys(keys, 0)
    queue = deque(k for k in keys if indeg[k] == 0)
    while queue:
        a = queue.popleft()
        for b in succ[a]:
            depth[b] = max(depth[b], depth[a] + 1)
            indeg[b] -= 1
            if indeg[b] == 0:
                queue.append(b)
    return depth


def widths(lines: dict[tuple, str]) -> dict[tuple, float]:
    """Each node's width in inches, estimated from the longest line (or record field) of its DOT label."""
    found = {}
    for key, line in lines.items():
        m = _LABEL_TEXT.search(line)
        parts = re.split(r"\\n|\|", m.group(1)) if m else [""]
        found[key] = max(len(p) for p in parts) * _CHAR + _PAD
    return found


def choose(layout: str | int, links: list[tuple[tuple, tuple]], step: dict[tuple, Step],
           width: dict[tuple, float]) -> int | None:
    """Steps per row (rankdir TB), or None for one long row (rankdir LR); `width`: each node's (inches).

    ``"auto"``: one row if its estimated width fits a page, else time runs downwards (one step a row):
    side by side, two steps' state edges are flat edges, whose labels dot either reorders the row for
    or cannot route (Graphviz 2.43), so rows of k > 1 steps show them as ``xlabel``, which may crowd.
    """
    if layout == "row":
        return None
    if isinstance(layout, int) and not isinstance(layout, bool):
        if layout < 1:
            raise ValueError(f"to_dot: layout={layout}: steps per row must be at least 1")
        return layout
    if layout != "auto":
        raise ValueError(f"to_dot: layout={layout!r} is not 'auto', 'row' or a number of steps per row")
    has_in, has_out = _ends(step, links)
    unrolls = _unrolls(step)
    order = [(a, b) for run in unrolls for s0, s1 in zip(run, run[1:])
             for a in s0 if a not in has_out for b in s1 if b not in has_in]
    n = max((len(run) for run in unrolls), default=1)
    if _row_width(list(width), links + order, width) + _LABEL * (n - 1) <= _PAGE:
        return None
    return 1


def _row_width(keys: list[tuple], links: list[tuple[tuple, tuple]], width: dict[tuple, float]) -> float:
    """Estimated width of `keys` laid out left to right in ranks: the widest node of each rank, summed."""
    by_rank: dict[int, float] = {}
    for key, d in _depths(keys, links).items():
        by_rank[d] = max(by_rank.get(d, 0.0), width[key] + _GAP)
    return sum(by_rank.values())


def constraints(links: list[tuple[tuple, tuple]], step: dict[tuple, Step], number: dict[tuple, str],
                per_row: int | None) -> tuple[list[str], set[tuple[tuple, tuple]]]:
    """DOT lines that order the time steps, and the links that must not constrain ranks.

    One row (per_row None): each step's exits (no successor inside the step) point invisibly to the next
    step's entries (no predecessor inside it), so steps whose first op does not depend on the previous
    step (x_t @ W_ih) still line up in time. Rows of k steps: the entries of a row's steps share a rank,
    edges between them keep the steps left to right, links between two steps of
    one row do not count for ranks, and every exit of a row points invisibly to the next row's entries.
    """
    has_in, has_out = _ends(step, links)
    out: list[str] = []
    loose: set[tuple[tuple, tuple]] = set()

    def invisible(a: tuple, b: tuple) -> str:
        return f"  {number[a]} -> {number[b]} [style=invis];"

    for run in _unrolls(step):
        exits = [[k for k in keys if k not in has_out] for keys in run]
        entries = [[k for k in keys if k not in has_in] for keys in run]
        if per_row is None:
            out += [invisible(a, b) for j in range(len(run) - 1) for a in exits[j] for b in entries[j + 1]]
            continue
        row_of = {k: j // per_row for j, keys in enumerate(run) for k in keys}
        pos_of = {k: j for j, keys in enumerate(run) for k in keys}
        loose.update((a, b) for a, b in links if a in row_of and b in row_of and pos_of[a] != pos_of[b]
                     and row_of[a] == row_of[b])
        for start in range(0, len(run), per_row):
            row = range(start, min(start + per_row, len(run)))
            out.append("  {rank=same; " + "; ".join(number[k] for j in row for k in entries[j]) + "}")
            out += [invisible(entries[j][0], entries[j + 1][0]) for j in row if j + 1 in row]
            if start + per_row < len(run):
                nxt = entries[start + per_row]
                out += [invisible(a, b) for j in row for a in exits[j] for b in nxt]
                # a heavy edge pulls the next row's first step under this row's first: rows start aligned
                out.append(f"  {number[entries[start][0]]} -> {number[nxt[0]]} [style=invis, weight=8];")
    return out, loose


_SIZE = re.compile(r'<svg width="([0-9.]+)pt" height="([0-9.]+)pt"')


def fit_svg(svg: str, width: int | None = None) -> str:
    """Graphviz's SVG drawn `width` px wide (default: its own size), shrinking to fit a narrower column.

    The viewBox stays, so the drawing scales; ``max-width: 100%`` lets a notebook cell or a docs page
    narrower than the picture show all of it (height follows the aspect ratio).
    """
    m = _SIZE.search(svg)
    if m is None:
        return svg
    w_pt, h_pt = float(m.group(1)), float(m.group(2))
    w_px = width if width is not None else round(w_pt * 4 / 3)  # 1 pt = 4/3 px (96 dpi)
    h_px = round(w_px * h_pt / w_pt)
    return svg.replace(m.group(0), f'<svg width="{w_px}px" height="{h_px}px" '
                       'style="max-width: 100%; height: auto"', 1)
