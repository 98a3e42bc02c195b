"""What a gradient check found: `GradcheckReport` (one per check), an `InputCheck` per checked input, and
`GradcheckError`, raised with the report when a check fails.

    >>> import numpy as np
    >>> from tinygrad_seq import gradcheck
    >>> report = gradcheck(lambda x: x * x, [np.array([1.0, 2.0])])
    >>> bool(report), report.checks[0].shape
    (True, (2,))

`tinygrad_seq.finite_differences` fills them in; `tinygrad_seq.gradient_check` and
`tinygrad_seq.localization` return them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .deprecated import warn_renamed

if TYPE_CHECKING:
    from .autograd import Function
    from .localization import Localization, NodeCheck

__all__ = ["GradcheckError", "GradcheckReport", "InputCheck"]


@dataclass
class InputCheck:
    """One checked input: its largest errors and the worst entry (`element` None: projection only)."""

    index: int
    shape: tuple[int, ...]
    passed: bool
    max_abs_err: float
    max_rel_err: float
    element: tuple[int, ...] | None = None
    output: str | None = None
    analytic: float = 0.0
    numeric: float = 0.0
    abs_err: float = 0.0
    tol: float = 0.0
    projection: tuple[float, float] | None = None  # fast mode: analytic and numeric <u, J v>
    label: str = ""
    kink: tuple[int, ...] | str | None = None  # where fn is not differentiable: an element, or "along v"
    slopes: tuple[float, float] = (0.0, 0.0)  # there: the left and right one-sided differences

    def name(self) -> str:
        label = f"{self.label}, " if self.label else ""
        return f"input {self.index} ({label}shape {self.shape})"

    def describe(self, analytic: str = "analytic", numeric: str = "numeric") -> str:
        """One line: which input and element went wrong (or how close the worst one came); `analytic` and
        `numeric` name the two sides."""
        parts = []
        if self.projection is not None:
            parts.append(f"<u, J v> {analytic} {self.projection[0]:.6g}, {numeric} {self.projection[1]:.6g}")
        if self.element is not None:
            of = " of J^T u" if self.projection is not None else ""
            output = f" of output {self.output}" if self.output else ""
            cmp = "<=" if abs(self.abs_err) <= self.tol else ">"
            parts.append(f"element {self.element}{of}{output}: {analytic} {self.analytic:.6g}, "
                         f"{numeric} {self.numeric:.6g}, abs err {self.abs_err:.2g} {cmp} tol {self.tol:.2g}")
        if self.kink is not None:
            at = f"element {self.kink}" if isinstance(self.kink, tuple) else self.kink
            left, right = self.slopes
            parts.append(f"not differentiable at this point ({at}: one-sided differences {left:.6g} from the "
                         f"left, {right:.6g} from the right; a kink such as relu at 0 or a tie in max): no "
                         "gradient matches both sides, check at another point")
        return f"{self.name()}, " + "; ".join(parts) if parts else f"{self.name()}: nothing to compare"


@dataclass
class GradcheckReport:
    """What a gradient check found; truthy when it passes, ``str()`` is a table naming what failed."""

    title: str
    mode: str
    eps: float
    atol: float
    rtol: float
    checks: list[InputCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    localized: Localization | None = None  # with localize=True after a failure: which nodes are wrong

    @property
    def passed(self) -> bool:
        return not self.problems and all(c.passed for c in self.checks)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def failures(self) -> list[InputCheck]:
        return [c for c in self.checks if not c.passed]

    def __str__(self) -> str:
        mode = "random projections <u, J v>" if self.mode == "fast" else "full Jacobian"
        lines = [f"{self.title} ({mode}; eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}): "
                 + ("passed" if self.passed else "FAILED")]
        if self.checks:
            lines.append(f"  {'input':<8}{'shape':<14}{'max abs err':<13}{'max rel err':<13}"
                         f"{'worst element':<15}{'analytic':<12}{'numeric':<12}result")
        for c in self.checks:
            a, n = (c.analytic, c.numeric) if c.element is not None else c.projection or (0.0, 0.0)
            index = f"{c.index} ({c.label})" if c.label else str(c.index)
            lines.append(f"  {index:<8}{str(c.shape):<14}{c.max_abs_err:<13.2g}{c.max_rel_err:<13.2g}"
                         f"{str(c.element if c.element is not None else '-'):<15}{a:<12.4g}{n:<12.4g}"
                         + ("ok" if c.passed else "FAIL"))
        lines += [f"  {s}" for s in self.notes]
        lines += [f"  FAIL {c.describe()}" for c in self.failures]
        lines += [f"  FAIL {p}" for p in self.problems]
        if self.localized is not None:
            lines.append(str(self.localized))
        return "\n".join(lines)

    def marks(self, order: Sequence[Function]) -> dict[int, NodeCheck]:
        """id(node) -> its failed or skipped local check, for the nodes of `order` the localization named
        (`order` may come from another run of the same code); `graph.render(..., highlight=report)`."""
        return {} if self.localized is None else self.localized.marks(order)

    @property
    def localised(self) -> Localization | None:
        """Deprecated: the old spelling of `localized`, kept for one release."""
        warn_renamed("GradcheckReport.localised", "GradcheckReport.localized")
        return self.localized


class GradcheckError(AssertionError):
    """A gradient check failed; ``.report`` is the GradcheckReport and the message is its text."""

    def __init__(self, report: GradcheckReport) -> None:
        super().__init__(str(report))
        self.report = report

    def __reduce__(self) -> tuple[type, tuple[GradcheckReport]]:  # picklable with its report
        return type(self), (self.report,)
