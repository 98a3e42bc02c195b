"""The colours of gradient norms, shared by the graph pictures and the BPTT explorer.

One fixed log scale, dark blue (vanishing) -> green -> yellow -> red (exploding): fixed, not fitted to each
picture, so that two pictures (an RNN's and an LSTM's) can be compared.
"""

from __future__ import annotations

import math

__all__ = ["BAD_COLOUR", "NORM_SCALE", "ZERO_COLOUR", "norm_colour", "text_colour"]

# (log10 of the norm, colour) stops; linear in log10 between them
NORM_SCALE = (
    (-8, "#1a237e"), (-6, "#2166ac"), (-4, "#26a69a"), (-2, "#66bd63"), (0, "#fee04c"), (2, "#d73027"),
)
ZERO_COLOUR, BAD_COLOUR = "#e0e0e0", "#ff00ff"  # exactly zero (cut off, e.g. by a detach); NaN or Inf


def norm_colour(norm: float) -> str:
    """The colour of a gradient norm on the fixed log scale (linear in log10 between the stops)."""
    if norm == 0:
        return ZERO_COLOUR
    if not math.isfinite(norm):
        return BAD_COLOUR
    x = min(max(math.log10(norm), NORM_SCALE[0][0]), NORM_SCALE[-1][0])
    for (x0, c0), (x1, c1) in zip(NORM_SCALE, NORM_SCALE[1:]):
        if x <= x1:
            f = (x - x0) / (x1 - x0)
            rgb = (round(int(c0[i : i + 2], 16) * (1 - f) + int(c1[i : i + 2], 16) * f) for i in (1, 3, 5))
            return "#" + "".join(f"{v:02x}" for v in rgb)
    return NORM_SCALE[-1][1]


def text_colour(fill: str) -> str:
    """Black or white text, whichever reads on `fill`."""
    r, g, b = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
