"""tinygrad_seq.tags: `tag` records (scope, name) once per scope and returns the tensor it tags."""

from __future__ import annotations

import numpy as np

import tinygrad_seq as ts
from tinygrad_seq import Tensor


def test_tag_records_the_scope_once_and_returns_the_tensor():
    x = Tensor(np.ones(2))
    with ts.scope("loop"):
        assert ts.tag(x, "input") is x
        ts.tag(x, "input")  # a loop reading the same tensor again adds nothing
    with ts.scope("loop"), ts.scope("t=0"):
        ts.tag(x, "input")
    assert x.tags == ((("loop",), "input"), (("loop", "t=0"), "input"))
    assert Tensor(np.ones(2)).tags == ()  # untagged tensors share the class's empty tuple
