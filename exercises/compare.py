"""Compare a learner's array with the right one and say, in plain words, where and how it is wrong.

An array's `Layout` names its axes in the exercise's words ("time step", "batch", "unit") and, for
packed gates, which block of an axis is which gate (i/f/g/o, r/z/n). `compare` raises `Failed` with:
the array's name, the element (with its gate block and time step), the two values, and a diagnosis
drawn from the numbers when one fits: the sign flipped, a factor of 2 or 1/2, the transpose, one gate's
block alone wrong, one time step alone wrong, one step's share left out or counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .report import Failed

__all__ = ["Axis", "Layout", "compare", "close"]

RTOL, ATOL = 1e-5, 1e-7  # float64 everywhere: a right answer agrees to many more digits than this


@dataclass(frozen=True)
class Axis:
    """One axis of an array: its name, and the gate letters when it holds equal blocks, one per gate."""

    name: str
    gates: str = ""
    time: str = ""  # "forward": a wrong value spreads to later steps; "backward": to earlier ones (BPTT);
    # "each": steps that do not feed each other (a loss per step)


@dataclass(frozen=True)
class Layout:
    """The axes of an array, in order; `of` names what a gradient is the gradient of (for shape errors)."""

    axes: tuple[Axis, ...]
    of: str = ""


def layout(*names: str | Axis, of: str = "") -> Layout:
    """Layout("batch", Axis("column", gates="ifgo")) from axis names or Axes."""
    return Layout(tuple(a if isinstance(a, Axis) else Axis(a) for a in names), of)


def close(a: np.ndarray, b: np.ndarray, atol: float = ATOL) -> bool:
    """Equal shapes and values to the checks' tolerance."""
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=atol))


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _block(axis: Axis, size: int, i: int) -> tuple[str, int, int]:
    """(gate letter, first, last index) of the gate block holding index i of an axis of `size`."""
    n = size // len(axis.gates)
    k = i // n
    return axis.gates[k], k * n, (k + 1) * n - 1


def describe(index: tuple[int, ...], shape: tuple[int, ...], lay: Layout) -> str:
    """'time step t=2, gate f (columns 4-7), batch 1, column 5' for an element of an array."""
    parts: list[str] = []
    for i, (axis, size) in zip(index, zip(lay.axes, shape)):
        if axis.time:
            parts.insert(0, f"{axis.name} t={i}")
        elif axis.gates and size % len(axis.gates) == 0:
            gate, lo, hi = _block(axis, size, i)
            parts.append(f"gate {gate} ({axis.name}s {lo}-{hi}), {axis.name} {i}")
        else:
            parts.append(f"{axis.name} {i}")
    return ", ".join(parts) if parts else "its only element"


def _ratio(got: np.ndarray, want: np.ndarray) -> float | None:
    """r when got == r * want (to the tolerance) for a nonzero want, else None."""
    denominator = float(np.sum(want * want))
    if denominator == 0:
        return None
    r = float(np.sum(got * want)) / denominator
    return r if close(got, r * want) else None


def _how(got: np.ndarray, want: np.ndarray) -> str | None:
    """Sign, factor, transpose or square: what turns the right answer into this one, if anything simple."""
    if close(got, want * want) and not close(want, want * want):
        return "it is the square of the right value (a square root missing?)"
    r = _ratio(got, want)
    if r is not None:
        for value, text in ((-1.0, "the sign is flipped: the right answer is minus yours"),
                            (2.0, "it is exactly 2 times the right answer (a factor of 2 too many)"),
                            (0.5, "it is exactly half the right answer (a factor of 2 missing)"),
                            (0.0, "it is all zeros")):
            if abs(r - value) < 1e-6:
                return text
        for k in range(3, 65):
            if abs(1 / r - k) < 1e-6 if abs(r) > 1e-9 else False:
                return f"it is the right answer divided by {k} (a mean where a sum belongs?)"
            if abs(r - k) < 1e-6:
                return f"it is the right answer times {k} (a sum where a mean belongs, or a factor too many?)"
        if abs(r) > 1e-9 and got.size > 1:  # one number is always some multiple of another
            return f"it is the right answer times {r:.4g} (a factor is wrong or missing)"
    if got.ndim == 2 and got.shape == got.shape[::-1] and close(got, want.T):
        return "it is the transpose of the right answer"
    return None


def _blocks(got: np.ndarray, want: np.ndarray, lay: Layout) -> list[str]:
    """Which gate blocks are wrong, when an axis packs gates and not all of them are."""
    notes = []
    for k, axis in enumerate(lay.axes[: got.ndim]):
        size = got.shape[k]
        if not axis.gates or size % len(axis.gates):
            continue
        n = size // len(axis.gates)
        blocks = [range(j * n, (j + 1) * n) for j in range(len(axis.gates))]
        bad = [j for j, b in enumerate(blocks)
               if not close(np.take(got, b, axis=k), np.take(want, b, axis=k))]
        if 0 < len(bad) < len(axis.gates):
            names = ", ".join(axis.gates[j] for j in bad)
            right = ", ".join(g for j, g in enumerate(axis.gates) if j not in bad)
            text = f"only gate {names}'s block is wrong (gates {right} are right)" if len(bad) == 1 else \
                f"the blocks of gates {names} are wrong (gates {right} are right)"
            if len(bad) == 1:
                j = bad[0]
                how = _how(np.take(got, range(j * n, (j + 1) * n), axis=k),
                           np.take(want, range(j * n, (j + 1) * n), axis=k))
                text += f"; in that block {how}" if how else ""
            notes.append(text)
    return notes


def _steps(got: np.ndarray, want: np.ndarray, lay: Layout) -> list[str]:
    """Which time steps are wrong, and where the error enters (the first step it reaches)."""
    for k, axis in enumerate(lay.axes[: got.ndim]):
        if not axis.time:
            continue
        bad = [t for t in range(got.shape[k]) if not close(np.take(got, t, axis=k), np.take(want, t, axis=k))]
        if not bad:
            return []
        if len(bad) == 1:
            t = bad[0]
            how = _how(np.take(got, t, axis=k), np.take(want, t, axis=k))
            return [f"only {axis.name} t={t} is wrong" + (f"; there {how}" if how else "")]
        if axis.time == "each":
            return [f"wrong at {axis.name}s {', '.join(map(str, bad))}"]
        enters = max(bad) if axis.time == "backward" else min(bad)
        flow = "backward in time" if axis.time == "backward" else "forward in time"
        return [f"wrong at {axis.name}s {', '.join(map(str, bad))}: the error enters at t={enters} and is "
                f"carried {flow} from there"]
    return []


def _shares(got: np.ndarray, want: np.ndarray, parts: Sequence[np.ndarray], unit: str) -> list[str]:
    """A total summed over steps that leaves one step's share out, or counts it twice."""
    for t, part in enumerate(parts):
        if not np.any(part):
            continue
        if close(got, want - part):
            return [f"it leaves out the share of {unit} {t}: a total over steps must add every step's share"]
        if close(got, want + part):
            return [f"it counts the share of {unit} {t} twice"]
    return []


def compare(name: str, got: object, want: np.ndarray, lay: Layout, *,
            parts: Sequence[np.ndarray] = (), unit: str = "time step",
            numeric: Callable[[tuple[int, ...]], float] | None = None,
            known: Sequence[tuple[np.ndarray, str]] = (), atol: float = ATOL) -> None:
    """Raise Failed when `got` is not `want`: which element, the values, and what the difference looks like.

    `parts`: the shares (one per step) that `want` sums, to spot one left out. `numeric(index)`: the
    central difference of the learner's own forward at an element, quoted beside the values. `known`:
    (wrong answer, what mistake gives it) pairs an exercise knows of.
    """
    if got is None:
        raise Failed([f"{name} is None: return an array of shape {want.shape}"])
    if hasattr(got, "numpy") and not isinstance(got, np.ndarray):  # a Tensor where an array was asked for
        got = got.numpy()
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Failed([f"{name} is not an array of numbers (it is a {type(got).__name__})"]) from None
    if arr.shape != want.shape:
        of = f" (a gradient has the shape of what it is the gradient of: {lay.of})" if lay.of else ""
        lines = [f"{name} has shape {arr.shape}, it should have shape {want.shape}{of}"]
        if arr.shape == want.shape[::-1]:
            lines.append("  it looks like the transpose of the right answer")
        elif arr.ndim < want.ndim or arr.size < want.size:
            lines.append("did you sum over the wrong axis (or one axis too many)? sum over the axes that "
                         "the forward pass broadcast, and keep the others")
        raise Failed(lines)
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise Failed([f"{name} holds {arr[bad]} at {describe(bad, arr.shape, lay)}"])
    if close(arr, want, atol):
        return
    wrong = ~np.isclose(arr, want, rtol=RTOL, atol=atol)
    index = _first(wrong, lay)
    at = describe(index, arr.shape, lay)
    line = f"{name} differs at {at}: yours {_fmt(arr[index])}, expected {_fmt(want[index])}"
    lines = [line]
    if numeric is not None:
        lines.append(f"  central differences of your forward give {_fmt(numeric(index))} there")
    notes = [text for alt, text in known if close(arr, alt, max(atol, 1e-6))][:1]
    how = _how(arr, want)
    notes += ([how] if how else []) + _blocks(arr, want, lay) + _steps(arr, want, lay)
    notes += _shares(arr, want, parts, unit)
    if not how and not notes:
        notes.append(f"{int(wrong.sum())} of its {arr.size} elements are wrong")
    raise Failed(lines + [f"  {n}" for n in notes])


def _first(wrong: np.ndarray, lay: Layout) -> tuple[int, ...]:
    """The element to show: the first wrong one, at the step where an error in time enters."""
    cells = np.argwhere(wrong)
    for k, axis in enumerate(lay.axes[: wrong.ndim]):
        if axis.time == "backward":
            cells = cells[cells[:, k] == cells[:, k].max()]
        elif axis.time:
            cells = cells[cells[:, k] == cells[:, k].min()]
    return tuple(int(i) for i in cells[0])
