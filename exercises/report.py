"""What a check says: the report, the stub's marker, and the learner's own line when their code raises."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import tinygrad_seq as core
from tinygrad_seq import nn

__all__ = ["Failed", "NotStarted", "NotWritten", "Report", "call"]

class NotWritten(NotImplementedError):
    """Raised by a stub's body: the exercise is not written yet (a check reports "not started")."""


class NotStarted(Exception):
    """A check reached a stub that still raises NotWritten; the message names which one."""


class Failed(Exception):
    """A check found a wrong answer; `lines` say what, where, and what it looks like."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = lines


@dataclass
class Report:
    """The outcome of checking one exercise: truthy when it passed; `str` reads as the feedback.

    `status` is "passed", "failing" or "not started"; `lines` explain it (the first is the one-line
    reason shown in a table); `picture` is the path of a graph drawn for it, if one was.
    """

    exercise: str
    status: str
    lines: list[str] = field(default_factory=list)
    picture: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __bool__(self) -> bool:
        return self.passed

    @property
    def why(self) -> str:
        return self.lines[0] if self.lines else ""

    def __str__(self) -> str:
        body = [f"  {line}" for text in self.lines for line in text.splitlines()]
        if self.picture:
            body.append(f"  picture of the unrolled graph, the wrong op marked in red: {self.picture}")
        return "\n".join([f"{self.exercise}: {self.status.upper()}", *body])


# the folders of this package, the core and the layers: frames there are not the learner's code
_LIBRARY = tuple(os.path.dirname(os.path.abspath(str(path))) + os.sep
                 for path in (__file__, core.__file__, nn.__file__))


def _in_library(path: str) -> bool:
    """True for a frame in NumPy, the standard library or this package (not the learner's code)."""
    path = os.path.abspath(path)
    return (path.startswith(_LIBRARY) or f"{os.sep}numpy{os.sep}" in path
            or (f"{os.sep}lib{os.sep}python" in path and "site-packages" not in path))


def where(error: BaseException) -> list[str]:
    """The learner's innermost line on the traceback of `error`: file, line, function and source."""
    frames = traceback.extract_tb(error.__traceback__)
    mine = [f for f in frames if not _in_library(f.filename)]
    if not mine:
        return []
    f = mine[-1]
    return [f'  File "{f.filename}", line {f.lineno}, in {f.name}', f"    {(f.line or '').strip()}"]


def call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) for learner code: a stub -> NotStarted, an exception -> Failed at their line."""
    try:
        return fn(*args, **kwargs)
    except NotWritten as stub:
        raise NotStarted(f"{stub.args[0] if stub.args else what} is not written yet") from stub
    except (Failed, NotStarted):
        raise
    except Exception as error:  # anything the learner's code raises is feedback, not a crash of the check
        raise Failed([f"{what} raised {type(error).__name__}: {error}", *where(error)]) from error
