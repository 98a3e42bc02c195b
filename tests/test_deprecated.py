"""Old names kept for one release (tinygrad_seq.deprecated): each still works, warns with a
DeprecationWarning that names its replacement and points at the user's line, and hides nothing new."""

from __future__ import annotations

import importlib
import sys
import types
import warnings

import numpy as np
import pytest

import tinygrad_seq
from tinygrad_seq import GradcheckReport, gradcheck, localize
from tinygrad_seq.deprecated import warn_renamed

MOVED = {  # old module path -> (new module path, names it re-exports)
    "tinygrad_seq.gradcheck": ("tinygrad_seq.gradient_check", ["gradcheck", "gradgradcheck",
                                                               "GradcheckReport",
                                                               "GradcheckError", "InputCheck"]),
    "tinygrad_seq.localize": ("tinygrad_seq.localization", ["localize", "NodeCheck"]),
    "tinygrad_seq.explore": ("tinygrad_seq.explorer", ["explore", "analyse"]),
}


@pytest.fixture
def fresh(monkeypatch):
    """Import an old module path as if for the first time; the package's attributes are restored after."""
    for name in ("gradcheck", "localize", "explore"):
        if hasattr(tinygrad_seq, name):
            monkeypatch.setattr(tinygrad_seq, name, getattr(tinygrad_seq, name))

    def load(old: str):
        monkeypatch.delitem(sys.modules, old, raising=False)
        with pytest.warns(DeprecationWarning) as caught:
            module = importlib.import_module(old)
        return module, caught

    return load


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_path_warns_and_gives_the_same_objects(old, fresh):
    new, names = MOVED[old]
    module, caught = fresh(old)
    (warning,) = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert f"the module {old} is deprecated" in str(warning.message) and new in str(warning.message)
    target = importlib.import_module(new)
    for name in names:
        assert getattr(module, name) is getattr(target, name), name


def test_the_warning_points_at_the_line_that_imports_the_old_path(monkeypatch):
    monkeypatch.setattr(tinygrad_seq, "gradcheck", tinygrad_seq.gradcheck)
    monkeypatch.delitem(sys.modules, "tinygrad_seq.gradcheck", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from tinygrad_seq.gradcheck import gradgradcheck  # noqa: F401
    assert [w.filename for w in caught] == [__file__]


@pytest.mark.parametrize("old, function", [("tinygrad_seq.gradcheck", gradcheck),
                                           ("tinygrad_seq.localize", localize)])
def test_the_package_function_named_like_an_old_module_still_works_after_importing_it(old, function, fresh):
    fresh(old)
    shadowing = getattr(tinygrad_seq, old.rsplit(".", 1)[1])  # importing a submodule sets the attribute
    assert isinstance(shadowing, types.ModuleType)
    found = shadowing(lambda x: x * x, [np.array([1.0, 2.0])])
    assert type(found) is type(function(lambda x: x * x, [np.array([1.0, 2.0])]))


def test_the_old_class_name_of_the_localization_is_the_new_class(fresh):
    from tinygrad_seq.localization import Localization

    module, _ = fresh("tinygrad_seq.localize")
    assert module.Localisation is Localization


def test_the_old_spelling_of_a_report_attribute_warns_and_reads_the_new_one():
    report = gradcheck(lambda x: x * x, [np.array([1.0])], raise_exception=False)
    assert isinstance(report, GradcheckReport) and report.localized is None
    with pytest.warns(DeprecationWarning, match=r"\.localised .* use GradcheckReport\.localized"):
        assert report.localised is None


@pytest.mark.parametrize("name", ["gradcheck_layer", "gradcheck_model"])
def test_the_layer_and_model_checks_moved_out_of_the_command(name):
    from tinygrad_seq.nn.lm import checks, cli

    with pytest.warns(DeprecationWarning, match=f"nn.lm.cli.{name} .* use tinygrad_seq.nn.lm.checks.{name}"):
        assert getattr(cli, name) is getattr(checks, name)
    with pytest.raises(AttributeError, match="no attribute 'gradcheck_everything'"):
        cli.gradcheck_everything  # noqa: B018


def test_warn_renamed_says_what_replaces_the_old_name():
    with pytest.warns(DeprecationWarning) as caught:
        warn_renamed("a.old", "a.new", stacklevel=2)
    assert str(caught[0].message) == "a.old is deprecated and will be removed in the next release: use a.new"
    assert caught[0].filename == __file__
