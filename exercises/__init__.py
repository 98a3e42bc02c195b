"""The exercise track: write the maths yourself, and the engine marks it.

    >>> from tinygrad_seq.exercises import check
    >>> print(check("gru_cell", MyGRUCell))          # doctest: +SKIP
    gru_cell: FAILING
      backward: dW_h differs at gate z (columns 3-5), row 0, column 4: yours 0.12, expected -0.12 ...

Each exercise (`EXERCISES`) has a stub to fill in (`tinygrad-seq exercises start DIR`), hints, and a
check: the forward against the project's own reference (an `nn` layer or the engine's ops) on small
shapes in float64, then each gradient by its name, with the gate block, the time step and the element
that went wrong, and what the numbers suggest (the sign, a factor of 2, a transpose, one gate's block).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from .checking import Context
from .files import load, solution_text, stub_text
from .registry import EXERCISES, Exercise, find
from .report import Failed, NotStarted, NotWritten, Report

__all__ = ["EXERCISES", "Exercise", "NotWritten", "Report", "check", "check_file", "find", "solution_text",
           "stub_text"]


def _namespace(exercise: Exercise, objects: tuple[Any, ...]) -> dict[str, Any]:
    """The objects an exercise needs: from a module, a dict, or the objects (by name, else in order)."""
    if len(objects) == 1 and isinstance(objects[0], ModuleType | dict):
        source = objects[0] if isinstance(objects[0], dict) else vars(objects[0])
        missing = [n for n in exercise.writes if n not in source]
        if missing:
            raise TypeError(f"check({exercise.name!r}): {', '.join(missing)} not found")
        return {n: source[n] for n in exercise.writes}
    if len(objects) != len(exercise.writes):
        raise TypeError(f"check({exercise.name!r}, ...) needs {len(exercise.writes)} objects: "
                        f"{', '.join(exercise.writes)}; got {len(objects)}")
    by_name = {getattr(o, "__name__", None): o for o in objects}
    if set(exercise.writes) <= set(by_name):
        return {n: by_name[n] for n in exercise.writes}
    return dict(zip(exercise.writes, objects))


def _run(exercise: Exercise, get: Any, pictures: str | None, seed: int) -> Report:
    ctx = Context(pictures, seed)
    try:
        lines = exercise.check(get(), ctx)
    except NotStarted as stub:
        return Report(exercise.name, "not started", [str(stub)])
    except Failed as wrong:
        notes = [f"  {n}" for n in ctx.notes or []]
        return Report(exercise.name, "failing", wrong.lines + notes, ctx.picture)
    return Report(exercise.name, "passed", lines)


def check(name: str, *objects: Any, pictures: str | None = None, seed: int = 0) -> Report:
    """Check the learner's code for exercise `name`: a Report (truthy when it passes; print it to read why).

    `objects`: what the exercise asks for (e.g. ``check("gru_cell", GRUCell)``), or one module or dict holding
    them. ``pictures``: a folder for a picture of the unrolled graph with the wrong node marked. ``seed``:
    another seed checks on other shapes and values.
    """
    exercise = find(name)
    return _run(exercise, lambda: _namespace(exercise, objects), pictures, seed)


def check_file(name: str, directory: str, pictures: str | None = None, seed: int = 0) -> Report:
    """Check DIR/NAME.py, the learner's file for exercise `name` (options as for `check`)."""
    exercise = find(name)
    path = os.path.join(directory, f"{exercise.name}.py")
    return _run(exercise, lambda: load(path, exercise.writes), pictures, seed)
