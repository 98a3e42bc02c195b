"""Shared test configuration: hypothesis profiles, hygiene checks that run around every test, and the
fixtures several test files share (`fox`, a language model trained once per session).

Profiles: ``dev`` (few examples, the default) and ``ci`` (more examples), chosen with the
``HYPOTHESIS_PROFILE`` environment variable, e.g. ``make test HYPOTHESIS_PROFILE=ci``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=20, deadline=None)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def _autograd() -> ModuleType | None:
    """The core's autograd module, or None while the core cannot be imported.

    Imported here rather than at the top so that collection still works when the core is
    momentarily broken; the tests that use it then fail on their own, with the real error.
    """
    try:
        from tinygrad_seq import autograd
    except ImportError:
        return None
    return autograd


@pytest.fixture(autouse=True)
def _grad_mode_is_restored() -> Iterator[None]:
    """Fail a test that leaves grad mode changed (a no_grad block entered and never exited)."""
    autograd = _autograd()
    if autograd is None:
        yield
        return
    before = autograd.is_grad_enabled()
    yield
    after = autograd.is_grad_enabled()
    if after != before:
        pytest.fail(
            f"the test left grad mode changed: is_grad_enabled() was {before} before it and {after} after; "
            "use `with no_grad():` / `with enable_grad():` so that the mode is restored on exit",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _scope_stack_is_empty() -> Iterator[None]:
    """Fail a test that leaves a scope open (a `scope(name)` block entered and never exited)."""
    yield
    autograd = _autograd()
    if autograd is None:
        return
    leftover = autograd.current_scope()
    if leftover != ():
        pytest.fail(
            f"the test left scopes open: current_scope() is {leftover!r} after it, expected (); "
            "use `with scope(name):` so that the scope is closed on exit",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def fox(tmp_path_factory):
    """An LSTM that has learned helpers.FOX by heart (trained once for the whole session): (model, vocab,
    the training result)."""
    from helpers import FOX, quiet_trainer

    from tinygrad_seq.nn.lm.models import LMConfig, build_model
    from tinygrad_seq.nn.lm.text import Vocab

    vocab = Vocab.chars(FOX)
    ids = vocab.encode(FOX * 4)
    model = build_model(LMConfig("lstm", len(vocab), hidden=32, dropout=0.0), rng=0)
    trainer = quiet_trainer(model, vocab, ids, ids[:46], tmp_path_factory.mktemp("fox"), seq_len=22,
                            schedule="constant")
    result = trainer.run(steps=120, sample_length=0)
    return model, vocab, result
