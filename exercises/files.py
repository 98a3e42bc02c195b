"""The learner's files: each stub is its reference solution with the bodies taken out; loading one to check.

A stub keeps the solution's module docstring (the task, the equations), its imports, every signature and
docstring (shapes, what to return), and functions marked ``# given`` whole; every other body becomes
``raise NotWritten(...)``, so that a check can tell "not started" from "wrong".
"""

from __future__ import annotations

import ast
import importlib.resources
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

from .report import Failed, NotStarted, where

__all__ = ["load", "solution_text", "stub_text"]

_IMPORT = "from tinygrad_seq.exercises import NotWritten"


def solution_text(name: str) -> str:
    """The source of the reference solution of exercise `name`."""
    return importlib.resources.files("tinygrad_seq.exercises.solutions").joinpath(f"{name}.py").read_text()


def _bodies(tree: ast.Module) -> list[tuple[ast.FunctionDef, str]]:
    """The functions and methods whose bodies a stub leaves out, with their qualified names."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found.append((node, node.name))
        elif isinstance(node, ast.ClassDef):
            found += [(f, f"{node.name}.{f.name}") for f in node.body if isinstance(f, ast.FunctionDef)]
    return found


def stub_text(name: str) -> str:
    """The stub of exercise `name`: its solution with each body replaced by ``raise NotWritten(...)``."""
    source = solution_text(name)
    lines = source.splitlines()
    tree = ast.parse(source)
    for fn, qualname in sorted(_bodies(tree), key=lambda p: -p[0].lineno):
        if lines[fn.lineno - 1].rstrip().endswith("# given"):
            continue
        body = fn.body
        docstring = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        first = body[1] if docstring and len(body) > 1 else body[0]
        indent = " " * first.col_offset
        end = fn.end_lineno or fn.lineno
        lines[first.lineno - 1:end] = [f'{indent}raise NotWritten("{qualname}")  # your code here']
    after = [n.end_lineno or 0 for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    last_import = max(after, default=tree.body[0].end_lineno or 0)  # else after the module's docstring
    blank = "" if lines[last_import - 1].startswith("from tinygrad_seq") else "\n"
    how = (f"# check it: tinygrad-seq exercises check DIR {name}   (DIR: this file's folder)\n"
           f"# stuck? tinygrad-seq exercises hint {name}   (then hint {name} 2, 3: more explicit)")
    lines.insert(last_import, f"{blank}{_IMPORT}\n\n{how}")
    return "\n".join(lines) + "\n"


def load(path: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Run the learner's file and return the objects the exercise needs (Failed / NotStarted if it cannot)."""
    if not os.path.exists(path):
        raise NotStarted(f"{path} does not exist (run `tinygrad-seq exercises start` to write the stubs)")
    module_name = f"_exercise_{os.path.splitext(os.path.basename(path))[0]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # a Function subclass's pickling and repr look its module up
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        at = f'  File "{error.filename}", line {error.lineno}'
        source = f"    {(error.text or '').strip()}"
        raise Failed([f"{path} does not parse: {error.msg}", at, source]) from None
    except Exception as error:  # the learner's module raised while it loaded
        lines = [f"{path} raised {type(error).__name__} while loading: {error}", *where(error)]
        raise Failed(lines) from None
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        raise Failed([f"{path} does not define {', '.join(missing)} (the stub names what to write)"])
    return {n: getattr(module, n) for n in names}
