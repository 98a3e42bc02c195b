"""The distribution: its metadata, what the sdist and wheel hold, `--version`, a checkout without install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

import tinygrad_seq
from tinygrad_seq.nn.lm.cli import main

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    PROJECT = tomllib.load(f)["project"]


def test_metadata_license_authors_pythons_and_numpy_2():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    license_text = open(os.path.join(ROOT, "LICENSE"), encoding="utf-8").read()
    assert license_text.startswith("MIT License") and "tinygrad_seq developers" in license_text
    assert PROJECT["authors"] == [{"name": "tinygrad_seq developers"}]
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in PROJECT["classifiers"]
    # threadpoolctl is core: without it a bare install could not limit BLAS and trained 10-18x slower
    assert PROJECT["dependencies"] == ["numpy>=2", "threadpoolctl>=3.1"]
    assert os.path.exists(os.path.join(ROOT, "tinygrad_seq", "py.typed"))


def test_every_extra_has_lower_bounds_and_all_and_dev_are_built_from_the_others():
    extras = PROJECT["optional-dependencies"]
    own = re.compile(r"tinygrad-seq\[([a-z,]+)\]")
    for name, requirements in extras.items():
        for requirement in requirements:
            assert own.fullmatch(requirement) or ">=" in requirement, (name, requirement)
    assert extras["all"] == ["tinygrad-seq[viz,lm,test]"]
    assert "tinygrad-seq[all]" in extras["dev"]
    assert {"viz", "lm", "test"} <= set(extras)


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tinygrad-seq {tinygrad_seq.__version__}"


def _import_nn(path: str, cwd: str) -> str:
    """What `from tinygrad_seq import nn` does with `path` first on sys.path and the install hidden."""
    code = (
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower()\n"
        "                    and 'editable' not in getattr(f, '__name__', '').lower()]\n"
        "sys.path[:] = [p for p in sys.path if '__editable__' not in p]\n"
        f"sys.path.insert(0, {path!r})\n"
        "import tinygrad_seq\n"
        "try:\n"
        "    from tinygrad_seq import nn\n"
        "except ImportError as error:\n"
        "    print('ImportError:', error)\n"
        "else:\n"
        "    print('imported', nn.__file__)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=cwd).stdout


def test_a_checkout_without_install_finds_its_own_nn_folder():
    # `python -m ...` from the repository root puts the checkout ahead of any install
    assert _import_nn(ROOT, ROOT).strip() == f"imported {os.path.join(ROOT, 'nn', '__init__.py')}"


def test_the_core_folder_alone_says_pip_install_e(tmp_path):
    shutil.copytree(os.path.join(ROOT, "tinygrad_seq"), tmp_path / "tinygrad_seq")
    out = _import_nn(str(tmp_path), str(tmp_path))
    assert out.startswith("ImportError: tinygrad_seq.nn is the folder nn/"), out
    assert "pip install -e ." in out


def test_mypy_resolves_tinygrad_seq_nn_in_the_editable_install(tmp_path):
    installed = subprocess.run([sys.executable, "-c", "import tinygrad_seq.nn as m; print(m.__file__)"],
                               capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip()
    if os.path.dirname(installed) == os.path.join(ROOT, "nn"):
        pytest.skip("editable install without strict mode (an import hook mypy cannot follow): run make venv")
    pytest.importorskip("mypy", reason="mypy is in the dev extra")
    user = tmp_path / "user.py"  # outside the checkout, as a user's own script
    user.write_text("from tinygrad_seq import Tensor, nn\n\nlayer = nn.Linear(3, 2)\n"
                    "out: Tensor = layer(Tensor([[1.0, 2.0, 3.0]]))\nwrong: int = nn.LSTM(3, 4)\n"
                    "out.view(6)\n")  # the runtime __getattr__ naming reshape is hidden from type checkers
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", str(user)], capture_output=True,
                          text=True, cwd=tmp_path)
    # the errors are the deliberate ones: so mypy found nn.LSTM's type, not "module not found"
    assert "user.py:5: error: Incompatible types in assignment" in done.stdout, done.stdout
    assert 'user.py:6: error: "Tensor" has no attribute "view"' in done.stdout, done.stdout
    assert "Found 2 errors" in done.stdout and "import-not-found" not in done.stdout, done.stdout


@pytest.mark.slow
def test_the_sdist_ships_no_tests_and_the_wheel_holds_the_license_and_py_typed(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir",
                    str(tmp_path), ROOT], check=True, capture_output=True, cwd=ROOT)
    (sdist,) = tmp_path.glob("*.tar.gz")
    (wheel,) = tmp_path.glob("*.whl")
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    assert not [n for n in names if n.startswith(("tests/", "demos/", "benchmarks/"))]
    assert {"LICENSE", "pyproject.toml", "tinygrad_seq/py.typed", "nn/lm/cli.py",
            "tinygrad_seq/explore.js", "tinygrad_seq/explore.css"} <= set(names)
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
    assert "tinygrad_seq/py.typed" in names and "tinygrad_seq/nn/lm/cli.py" in names
    assert "tinygrad_seq/nn/kernels/recurrent.py" in names  # the fused layers' kernels
    assert "tinygrad_seq/exercises/solutions/gru_cell.py" in names  # the stubs are made from the solutions
    assert {"tinygrad_seq/explore.js", "tinygrad_seq/explore.css"} <= set(names)  # inlined by graph.explore
    assert any(n.endswith("licenses/LICENSE") for n in names)
    metadata = next(whl for whl in names if whl.endswith("METADATA"))
    with zipfile.ZipFile(wheel) as whl:
        text = whl.read(metadata).decode()
    assert "License-Expression: MIT" in text and "Requires-Dist: numpy>=2" in text
    assert "Requires-Dist: threadpoolctl>=3.1" in text
    assert f"Version: {tinygrad_seq.__version__}" in text
