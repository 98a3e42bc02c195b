"""docs/architecture.md matches the tree, its modules and its test files; imports point one way (exercises,
nn.lm -> nn -> core), no loop in the core."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAP = (ROOT / "docs" / "architecture.md").read_text()
PACKAGES = {"tinygrad_seq": ROOT / "tinygrad_seq", "nn": ROOT / "nn", "nn/lm": ROOT / "nn" / "lm",
            "nn/kernels": ROOT / "nn" / "kernels", "exercises": ROOT / "exercises"}


def _section(title: str) -> str:
    """The text of the map's section whose heading contains `title`."""
    parts = re.split(r"^##+ ", MAP, flags=re.M)
    (text,) = [p for p in parts if p.splitlines()[0].find(title) >= 0]
    return text


def _named_files(text: str) -> set[str]:
    return set(re.findall(r"^\| `([\w/]+\.py)` \|", text, flags=re.M))


SECTIONS = {"tinygrad_seq": "The core", "nn": "The layers", "nn/kernels": "nn/kernels/",
            "nn/lm": "language-model toolkit", "exercises": "The exercise track"}


@pytest.mark.parametrize("package", sorted(SECTIONS))
def test_the_map_names_every_module_of_each_package_and_nothing_else(package):
    on_disk = {p.name for p in PACKAGES[package].glob("*.py") if p.name != "__init__.py"}
    named = _named_files(_section(SECTIONS[package]))
    assert named == on_disk, f"docs/architecture.md is out of date for {package}/: " \
        f"missing {sorted(on_disk - named)}, gone {sorted(named - on_disk)}"


TESTS = ROOT / "tests"
NAMED_AFTER = {"tinygrad_seq": "", "nn": "", "nn/lm": "", "nn/kernels": "kernels_", "exercises": "exercises_"}


def _test_names(text: str) -> list[str]:
    """The test files (or `test_x_*.py` patterns) a piece of the map names."""
    return re.findall(r"`(test_[\w*]+\.py)`", text)


def _test_map_problems(text: str, modules: set[str], test_files: set[str]) -> list[str]:
    """What is wrong with the test map `text` (the section "Where the tests are") for the modules on disk
    ("nn/lm/text.py", ...) and the test files there ("test_text.py", ...)."""
    rows = dict(re.findall(r"^\| `([\w/]+/\w+\.py)` \| (.*) \|$", text, flags=re.M))
    problems = [f"no row for {m}" for m in sorted(modules - set(rows))]
    problems += [f"a row for {m}, which is no module" for m in sorted(set(rows) - modules)]
    for module, cell in sorted(rows.items()):
        named = _test_names(cell)
        if not named and not cell.startswith("none"):
            problems.append(f"{module}: name its test file, or say `none: why`")
        package, stem = module.rsplit("/", 1)[0], Path(module).stem
        own = f"test_{NAMED_AFTER.get(package, '')}{stem}.py"
        if own in test_files and own not in named:
            problems.append(f"tests/{own} is named after {module}: list it in its row")
    named = _test_names(text)
    problems += [f"names tests/{n}: no such file" for n in named if not fnmatch.filter(test_files, n)]
    listed = {f for n in named for f in fnmatch.filter(test_files, n)}
    problems += [f"tests/{f} is in no row" for f in sorted(test_files - listed)]
    return problems


def test_the_test_map_has_a_row_for_every_module_and_names_every_test_file():
    modules = {f"{package}/{p.name}" for package, folder in PACKAGES.items() for p in folder.glob("*.py")}
    test_files = {p.name for p in TESTS.glob("test_*.py")}
    problems = _test_map_problems(_section("Where the tests are"), modules, test_files)
    assert not problems, "docs/architecture.md's test map (\"Where the tests are\") is out of date:\n" + \
        "\n".join(problems)


def test_the_test_map_check_finds_missing_rows_missing_files_and_unlisted_ones():
    text = ("| `nn/a.py` | `test_a.py`, `test_gone.py` |\n| `nn/b.py` | tested somewhere |\n"
            "| `nn/c.py` | none: re-exports |\n| `nn/d.py` | `test_x.py` |\n"
            "| `test_demos_*.py` | lessons |\n")
    modules = {"nn/a.py", "nn/b.py", "nn/c.py", "nn/d.py", "nn/new.py"}
    files = {"test_a.py", "test_d.py", "test_x.py", "test_demos_one.py", "test_extra.py"}
    assert _test_map_problems(text, modules, files) == [
        "no row for nn/new.py", "nn/b.py: name its test file, or say `none: why`",
        "tests/test_d.py is named after nn/d.py: list it in its row",
        "names tests/test_gone.py: no such file",
        "tests/test_d.py is in no row", "tests/test_extra.py is in no row"]
    assert _test_map_problems(text, modules - {"nn/new.py"} | {"nn/e.py"}, files)[0] == "no row for nn/e.py"
    assert "a row for nn/new.py, which is no module" in _test_map_problems(
        text + "| `nn/new.py` | none: x |\n", modules - {"nn/new.py"}, files)


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of the tinygrad_seq modules `path` imports at run time (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(
        node.test) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
            found.update(n for n in names if n.startswith("tinygrad_seq"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tinygrad_seq"))
    return found


def _modules() -> dict[str, set[str]]:
    """Every module of the project by its installed name -> the project modules it imports."""
    homes = {"tinygrad_seq": ROOT / "tinygrad_seq", "tinygrad_seq.nn": ROOT / "nn",
             "tinygrad_seq.exercises": ROOT / "exercises"}
    out = {}
    for prefix, folder in homes.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            if prefix == "tinygrad_seq" and path.parent != folder:
                continue
            package = ".".join((prefix, *rel[:-1]))  # the package a relative import starts from
            name = package if rel[-1] == "__init__" else f"{package}.{rel[-1]}"
            out[name] = _imports(path, package)
    return out


def test_imports_are_resolved_to_the_modules_they_name():
    """The import reader, on files whose imports are known: relative ones from a package's __init__ and
    from a module, `from . import x`, absolute ones, and nothing under TYPE_CHECKING."""
    modules = _modules()
    assert {"tinygrad_seq.nn.lm.models", "tinygrad_seq.nn.lm.checkpoint"} <= modules["tinygrad_seq.nn.lm"]
    assert {"tinygrad_seq.nn.lm.checks", "tinygrad_seq.nn.lm.models"} <= modules["tinygrad_seq.nn.lm.cli"]
    assert "tinygrad_seq.nn.attention" in modules["tinygrad_seq.nn.lm.checks"]  # from ..attention import
    assert "tinygrad_seq.localization" in modules["tinygrad_seq.gradient_check"]  # from . import localization
    assert "tinygrad_seq.tensor" in modules["tinygrad_seq.nn.module"]  # absolute
    assert "tinygrad_seq.localization" not in modules["tinygrad_seq.gradcheck_report"]  # TYPE_CHECKING only


def test_no_test_file_imports_another():
    """Helpers shared by test files live in tests/helpers.py, so each test file stands on its own."""
    tests = ROOT / "tests"
    names = {p.stem for p in tests.glob("test_*.py")}
    for path in sorted(tests.glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & names, f"{path.name} imports {sorted(imported & names)}: move it to helpers.py"


def test_the_core_never_imports_nn_and_layers_never_import_the_lm_toolkit():
    for name, deps in _modules().items():
        if name == "tinygrad_seq.__main__":
            continue  # the command's entry point: `python -m tinygrad_seq` runs nn.lm.cli
        if name.startswith("tinygrad_seq.exercises"):
            continue  # above nn (see the next test)
        if not name.startswith("tinygrad_seq.nn"):
            assert not [d for d in deps if d.startswith("tinygrad_seq.nn")], name
        elif not name.startswith("tinygrad_seq.nn.lm"):
            assert not [d for d in deps if d.startswith("tinygrad_seq.nn.lm")], name


def test_nothing_below_the_exercises_imports_them_but_the_command():
    modules = _modules()
    assert {"tinygrad_seq.exercises.check_rnn", "tinygrad_seq.exercises.solutions.gru_cell"} <= set(modules)
    for name, deps in modules.items():
        if name.startswith("tinygrad_seq.exercises"):
            assert not [d for d in deps if d.startswith("tinygrad_seq.nn.lm")], name  # beside the toolkit
        elif name != "tinygrad_seq.nn.lm.cli":  # the command registers `tinygrad-seq exercises`
            assert not [d for d in deps if d.startswith("tinygrad_seq.exercises")], name


def test_the_core_modules_import_each_other_without_a_loop():
    mods = {n: d for n, d in _modules().items() if not n.startswith("tinygrad_seq.nn")}
    graph = {n: {d for d in deps if d in mods and d != n and d != "tinygrad_seq"} for n, deps in mods.items()
             if n != "tinygrad_seq"}
    state: dict[str, int] = {}
    for start in graph:  # iterative depth-first search for a back edge
        stack = [(start, iter(sorted(graph[start])))]
        state.setdefault(start, 1)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                raise AssertionError(f"import loop: {' -> '.join(n for n, _ in stack)} -> {child}")
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(sorted(graph.get(child, ())))))
    assert "tinygrad_seq.tensor" not in graph["tinygrad_seq.autograd"]
    assert "tinygrad_seq.ops" not in graph["tinygrad_seq.autograd"]
