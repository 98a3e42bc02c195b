"""Central finite differences against analytic gradients, input by input: the engine under gradcheck.

`check_inputs(fn, inputs, ...)` returns a `GradcheckReport`; `tinygrad_seq.gradient_check` (whole
functions) and `tinygrad_seq.localization` (one graph node at a time) are built on it. How the comparison
works (full and fast mode, the step size, the rounding allowance, the kink test) is described in
`tinygrad_seq.gradient_check`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import enable_grad, grad, no_grad
from .gradcheck_report import GradcheckReport, InputCheck
from .tensor import Tensor

_LOCATE_MAX = 10_000  # fast mode locates a failing element only in inputs up to this many elements
NOTHING_CHECKED = "no input is checked: pass float arrays, or Tensors with requires_grad=True"
_KINK = 10.0  # one-sided differences further apart than this many tolerances: not differentiable here


def prepare_inputs(inputs: Sequence[Any]) -> tuple[list[Any], list[str], list[str]]:
    """float64 copies of floating inputs; kinds "checked", "constant" or "raw" (passed unchanged)."""
    values, kinds, notes = [], [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            array, wanted = x.data, x.requires_grad
        elif isinstance(x, np.ndarray | np.generic):
            array, wanted = np.asarray(x), True
        else:
            array, wanted = None, False
        if array is None or array.dtype.kind != "f":
            what = type(x).__name__ if array is None else f"dtype {array.dtype}"
            values.append(x)
            kinds.append("raw")
            notes.append(f"input {i}: not checked ({what}, passed unchanged)")
            continue
        values.append(np.array(array, dtype=np.float64))
        kinds.append("checked" if wanted else "constant")
        if not wanted:
            notes.append(f"input {i}: constant (a Tensor with requires_grad=False)")
    return values, kinds, notes


def call_with(fn: Callable, values: list, kinds: list[str], at: int = -1, value: Any = None) -> tuple:
    """fn on fresh Tensors made from `values` (with values[at] replaced by `value`): (out, args)."""
    args = [v if k == "raw" else Tensor((value if i == at else v).copy(), requires_grad=k == "checked")
            for i, (v, k) in enumerate(zip(values, kinds))]
    return fn(*args), args


def output_problem(out: Any) -> str | None:
    if not isinstance(out, Tensor):
        return f"fn must return a Tensor, but it returned {type(out).__name__}"
    if out.dtype != np.float64:
        return (f"fn returned dtype {out.dtype}, but finite differences need float64; it probably mixes in "
                "float32 constants (Python floats and lists become float32: pass dtype=np.float64)")
    if not np.all(np.isfinite(out.data)):
        return "fn's output holds NaN or Inf at the given point"
    return None


def _compare(analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float,
             noise: np.ndarray | float = 0.0) -> tuple:
    """(passed, max abs err, max rel err, flat index of the worst entry, its abs err and tol); `noise` is
    the rounding error of the differences, added to the tolerance."""
    err = np.abs(analytic - numeric)
    tol = atol + rtol * np.abs(numeric) + noise
    with np.errstate(divide="ignore", invalid="ignore"):  # the worst entry is the one nearest failing
        ratio = np.where(err == 0, 0.0, err / tol)
    worst = int(np.argmax(np.where(np.isnan(ratio), np.inf, ratio)))
    rel = err / np.maximum(np.abs(numeric), max(atol, np.finfo(np.float64).tiny))
    return bool(np.all(err <= tol)), float(err.max()), float(rel.max()), worst, float(err.flat[worst]), \
        float(tol.flat[worst])


def _difference(fn: Callable, values: list, kinds: list[str], i: int, direction: np.ndarray, eps: float,
                f0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """With x = values[i], flattened: the central difference (f(x + eps d) - f(x - eps d)) / 2 eps and the
    gap between the one-sided ones, (f(x + eps d) - 2 f(x) + f(x - eps d)) / eps (about eps f'' if smooth)."""
    plus, _ = call_with(fn, values, kinds, i, values[i] + eps * direction)
    minus, _ = call_with(fn, values, kinds, i, values[i] - eps * direction)
    plus, minus = plus.data.reshape(-1), minus.data.reshape(-1)
    return (plus - minus) / (2 * eps), (plus - 2 * f0 + minus) / eps


def _find_kink(check: InputCheck, numeric: np.ndarray, gap: np.ndarray, noise: np.ndarray | float,
               atol: float, rtol: float, where: Callable[[int], tuple[int, ...] | str]) -> None:
    """Mark `check` where one-sided differences disagree (`where` turns a flat index into a place)."""
    ratio = np.abs(gap) / (_KINK * (atol + rtol * np.abs(numeric) + noise))
    if ratio.size and np.nanmax(ratio) > 1:
        k = int(np.nanargmax(ratio))
        check.kink = where(k)
        check.slopes = (float(numeric.flat[k] - gap.flat[k] / 2), float(numeric.flat[k] + gap.flat[k] / 2))


def _steps(x: np.ndarray) -> np.ndarray:
    """How far each element is moved, in units of eps: max(1, |x|), so that x + eps * step is exact enough."""
    return np.maximum(1.0, np.abs(x))


def _noise(f0: np.ndarray, eps: float) -> np.ndarray:
    """The rounding error of a difference quotient of f, per output element: a few ulps of f over eps
    (|f| = 1e9 gives 2e-7 / 1e-6, a 20% error that no tolerance on the gradient would allow for)."""
    return 8 * np.finfo(np.float64).eps * np.abs(f0) / eps


def _columns(fn: Callable, values: list, kinds: list[str], i: int, eps: float, f0: np.ndarray,
             u: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central differences, one-sided gaps (`_difference`) and their rounding error along each coordinate
    of input i, as (outputs, input elements) arrays; projected on `u` when given, as (input elements,)."""
    x = values[i]
    steps = _steps(x).reshape(-1)
    pairs = [_difference(fn, values, kinds, i, _unit(x.shape, j) * steps[j], eps, f0) for j in range(x.size)]
    numeric = np.array([c for c, _ in pairs]).reshape(x.size, -1).T / steps
    gap = np.array([g for _, g in pairs]).reshape(x.size, -1).T / steps
    noise = _noise(f0, eps)[:, None] / steps
    return (numeric, gap, noise) if u is None else (u @ numeric, u @ gap, np.abs(u) @ noise)


def _unit(shape: tuple[int, ...], j: int) -> np.ndarray:
    e = np.zeros(shape)
    e.flat[j] = 1.0
    return e


def _full(fn: Callable, values: list, kinds: list[str], i: int, jacobian: np.ndarray, f0: np.ndarray,
          eps: float, atol: float, rtol: float, name_output: Callable[[int], str], n_out: int) -> InputCheck:
    """Compare input i's analytic Jacobian with one built column by column from central differences."""
    x = values[i]
    if jacobian.size == 0:
        return InputCheck(i, x.shape, True, 0.0, 0.0)
    numeric, gap, noise = _columns(fn, values, kinds, i, eps, f0)
    ok, max_abs, max_rel, worst, err, tol = _compare(jacobian, numeric, atol, rtol, noise)
    r, j = divmod(worst, x.size)
    check = InputCheck(i, x.shape, ok, max_abs, max_rel, element_of(j, x.shape),
                       name_output(r) if n_out > 1 else None, float(jacobian[r, j]), float(numeric[r, j]),
                       err, tol)
    _find_kink(check, numeric, gap, noise, atol, rtol, lambda k: element_of(k % x.size, x.shape))
    return check


def _fast(fn: Callable, values: list, kinds: list[str], i: int, vjp: np.ndarray, u: np.ndarray,
          v: np.ndarray, f0: np.ndarray, eps: float, atol: float, rtol: float) -> InputCheck:
    """Compare <J^T u, v> with the directional difference along v; on failure (or a kink along v) find
    the worst element by differences along each coordinate."""
    x, u = values[i], u.reshape(-1)
    a = float(np.sum(vjp * v))
    numeric, gap = _difference(fn, values, kinds, i, v, eps, f0)
    n = float(numeric @ u)
    noise: Any = float(np.abs(u) @ _noise(f0, eps))  # a number here, an array per element below
    ok, max_abs, max_rel, _, err, tol = _compare(np.array(a), np.array(n), atol, rtol, noise)
    check = InputCheck(i, x.shape, ok, max_abs, max_rel, None, None, a, n, err, tol, projection=(a, n))
    _find_kink(check, np.array(n), np.array(gap @ u), noise, atol, rtol, lambda k: "along v")
    if (not ok or check.kink is not None) and 0 < x.size <= _LOCATE_MAX:
        analytic = vjp.reshape(-1)
        numeric, gap, noise = _columns(fn, values, kinds, i, eps, f0, u)
        _, _, _, j, check.abs_err, check.tol = _compare(analytic, numeric, atol, rtol, noise)
        check.element = element_of(j, x.shape)
        check.analytic, check.numeric = float(analytic[j]), float(numeric[j])
        _find_kink(check, numeric, gap, noise, atol, rtol, lambda k: element_of(k, x.shape))
    return check


def element_of(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(e) for e in np.unravel_index(flat, shape))


def check_inputs(fn: Callable, inputs: Sequence[Any], eps: float, atol: float, rtol: float, fast: bool,
                 seed: int, title: str = "gradcheck", labels: dict[int, str] | None = None,
                 name_output: Callable[[int], str] | None = None) -> GradcheckReport:
    values, kinds, notes = prepare_inputs(inputs)
    report = GradcheckReport(title, "fast" if fast else "full", eps, atol, rtol, notes=notes)
    checked = [i for i, k in enumerate(kinds) if k == "checked"]
    if not checked:
        report.problems.append(NOTHING_CHECKED)
        return report
    with enable_grad():
        out, args = call_with(fn, values, kinds)
    problem = output_problem(out)
    with no_grad():
        again, _ = call_with(fn, values, kinds)
    if problem is None and not np.array_equal(out.data, again.data):
        diff = np.max(np.abs(out.data - again.data)) if again.shape == out.shape else np.inf
        problem = (f"fn is not deterministic: two calls at the same point differ (by up to {diff:.3g}); "
                   "seed its randomness (e.g. dropout with a fixed Generator) or switch it off")
    if problem is not None:
        report.problems.append(problem)
        return report
    targets = [args[i] for i in checked]
    f0 = out.data.reshape(-1)
    name_output = name_output or (lambda r: str(element_of(r, out.shape)))
    if fast:
        rng = np.random.default_rng(seed)
        u = rng.standard_normal(out.shape)
        vjps = grad(out, targets, grad_outputs=Tensor(u), retain_graph=True)
        with no_grad():
            report.checks = [_fast(fn, values, kinds, i, vjp.data, u,
                                   rng.standard_normal(values[i].shape) * _steps(values[i]), f0, eps, atol,
                                   rtol) for i, vjp in zip(checked, vjps)]
    else:
        jacobians = [np.zeros((out.size, values[i].size)) for i in checked]
        for r in range(out.size):
            rows = grad(out, targets, grad_outputs=Tensor(_unit(out.shape, r)), retain_graph=True)
            for jacobian, row in zip(jacobians, rows):
                jacobian[r] = row.data.reshape(-1)
        with no_grad():
            report.checks = [_full(fn, values, kinds, i, jacobian, f0, eps, atol, rtol, name_output, out.size)
                             for i, jacobian in zip(checked, jacobians)]
    for check in report.checks:
        check.label = (labels or {}).get(check.index, "")
    return report


