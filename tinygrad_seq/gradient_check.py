"""Check analytic gradients against central finite differences, and say where they disagree.

    >>> import numpy as np
    >>> from tinygrad_seq import gradcheck
    >>> bool(gradcheck(lambda x, w: (x @ w).tanh(), [np.ones((2, 3)), np.full((3, 4), 0.1)]))
    True

Full mode builds the Jacobian J (output elements x input elements) of each checked input twice:
column by column with central differences, (f(x + h e_j) - f(x - h e_j)) / 2 h, and row by
row with one vector-Jacobian product per output element. Fast mode compares one random projection
per input, <u, J v>: analytically as <J^T u, v>, numerically as <f(x + eps v) - f(x - eps v), u> / 2 eps;
when a projection disagrees it locates the worst element of J^T u by differences along each
coordinate of that input. An entry passes when |analytic - numeric| <= atol + rtol * |numeric| + the
rounding error of the difference (a few ulps of f over the step). The step is eps * max(1, |x_j|)
(and v scaled likewise): eps alone would be lost to rounding on an entry like -1e9 (a masked score).

The same evaluations give the one-sided differences (f(x + eps d) - f(x)) / eps and (f(x) - f(x - eps d))
/ eps; where they disagree by far more than the tolerance, fn has a kink at this point (relu at 0, a tie
in max, abs at 0, clip at a bound) and no gradient can match both sides: the report says so.
``localize=True`` then finds which node of fn's graph is wrong (`tinygrad_seq.localization`). The report
classes live in `tinygrad_seq.gradcheck_report`, the differences themselves in
`tinygrad_seq.finite_differences`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import localization
from .autograd import enable_grad, grad, no_grad
from .finite_differences import (
    NOTHING_CHECKED,
    call_with,
    check_inputs,
    element_of,
    output_problem,
    prepare_inputs,
)
from .gradcheck_report import GradcheckError, GradcheckReport, InputCheck
from .tensor import Tensor, concatenate

__all__ = ["GradcheckError", "GradcheckReport", "InputCheck", "gradcheck", "gradgradcheck"]


def _finish(report: GradcheckReport, raise_exception: bool) -> GradcheckReport:
    if raise_exception and not report:
        raise GradcheckError(report)
    return report


def gradcheck(fn: Callable[..., Tensor], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, fast: bool = False, raise_exception: bool = True,
              seed: int = 0, localize: bool = False) -> GradcheckReport:
    """Compare fn's analytic gradients with central finite differences, in float64.

    Inputs (a list of Tensors or arrays) are copied to float64; float arrays and Tensors with
    requires_grad=True are checked, float Tensors without it are constants, anything else (integer
    indices, Python values) is passed unchanged. ``fast=True`` compares one random projection
    <u, J v> per input instead of the whole Jacobian. ``localize=True``: when the check fails, check
    every node of fn's graph alone and name the first whose backward is wrong (op, scope, line of
    code, input, element; see `tinygrad_seq.localization`). Raises GradcheckError on failure unless
    ``raise_exception=False``; returns a GradcheckReport (truthy when it passes).

    Example: ``gradcheck(lambda x: x.softmax(axis=-1), [np.random.default_rng(0).normal(size=(2, 3))])``
    """
    inputs = [inputs] if isinstance(inputs, Tensor | np.ndarray) else list(inputs)
    report = check_inputs(fn, inputs, eps, atol, rtol, fast, seed)
    if localize and not report and not report.problems:
        report.localized = localization.localize(fn, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed)
    return _finish(report, raise_exception)


def gradgradcheck(fn: Callable[..., Tensor], inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, fast: bool = False, raise_exception: bool = True,
                  seed: int = 0) -> GradcheckReport:
    """Gradcheck the gradient: g(inputs, v) = grad(fn(inputs), inputs, grad_outputs=v, create_graph=True).

    `v` (``grad_outputs``, random from `seed` when not given) is an extra checked input, the last
    one. The output of g is the checked inputs' gradients, flattened and concatenated.

    Example: ``gradgradcheck(lambda x: (x * x).tanh(), [np.array([0.3, -1.2])])``
    """
    inputs = [inputs] if isinstance(inputs, Tensor | np.ndarray) else list(inputs)
    values, kinds, _ = prepare_inputs(inputs)
    checked = [i for i, k in enumerate(kinds) if k == "checked"]
    report = GradcheckReport("gradgradcheck", "fast" if fast else "full", eps, atol, rtol)
    with no_grad():
        out, _ = call_with(fn, values, kinds) if checked else (None, None)
    problem = output_problem(out) if checked else NOTHING_CHECKED
    if problem is not None:
        report.problems.append(problem)
        return _finish(report, raise_exception)
    if grad_outputs is None:
        v = np.random.default_rng(seed).standard_normal(out.shape)
    else:
        v = np.array(grad_outputs.data if isinstance(grad_outputs, Tensor) else grad_outputs, np.float64)
        if v.shape != out.shape:
            raise ValueError(f"gradgradcheck: grad_outputs has shape {v.shape}, fn's output {out.shape}")
    starts = np.cumsum([0] + [values[i].size for i in checked])

    def gradient_of_fn(*args: Any) -> Tensor:
        with enable_grad():
            y = fn(*args[:-1])
            grads = grad(y, [args[i] for i in checked], grad_outputs=args[-1], create_graph=True)
        return concatenate([g.reshape(-1) for g in grads])

    def name_output(r: int) -> str:
        k = int(np.searchsorted(starts, r, side="right")) - 1
        element = element_of(r - starts[k], values[checked[k]].shape)
        return f"{r} (gradient of input {checked[k]}, element {element})"

    wrapped = [v_ if k == "raw" else Tensor(v_, requires_grad=k == "checked") for v_, k in zip(values, kinds)]
    report = check_inputs(gradient_of_fn, [*wrapped, Tensor(v, requires_grad=True)], eps, atol, rtol, fast,
                          seed, "gradgradcheck", {len(values): "v"}, name_output)
    report.notes.append(f"checked function: the gradients of inputs {checked} (flattened, concatenated) "
                        f"given grad_outputs v = input {len(values)}")
    return _finish(report, raise_exception)
