"""Deprecated: this module is now `tinygrad_seq.gradient_check` (the report classes: `gradcheck_report`).

Kept for one release so that ``from tinygrad_seq.gradcheck import ...`` still works; importing it warns.
``tinygrad_seq.gradcheck`` itself is the function.
"""

from .deprecated import module_moved
from .gradient_check import GradcheckError, GradcheckReport, InputCheck, gradcheck, gradgradcheck

__all__ = ["GradcheckError", "GradcheckReport", "InputCheck", "gradcheck", "gradgradcheck"]

module_moved(__name__, "tinygrad_seq.gradient_check", calls=gradcheck)
