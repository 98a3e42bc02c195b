"""keep_freed_memory: a step's freed buffers stay with the process, so the next step does not fault them in
again (counted in page faults of a fresh process, with and without it); the user's own settings win."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

STEPS = """
import resource, sys
import numpy as np
from tinygrad_seq.nn.lm.allocator import keep_freed_memory
print(keep_freed_memory() if sys.argv[1] == "kept" else None)

def step():  # five 8 MB buffers alive at once and freed together, as in a training step
    buffers = [np.ones(2**20) for _ in range(5)]
    return sum(float(b[0]) for b in buffers)

step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")


def steps(mode: str, **env: str) -> tuple[str, int]:
    """(what keep_freed_memory returned, page faults of 20 steps) in a fresh interpreter."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env
    out = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True,
                         env=environment).stdout.split()
    return out[0], int(out[1])


def test_freed_buffers_are_kept_for_the_next_step_instead_of_faulting_in_again():
    said, kept = steps("kept")
    _, given_back = steps("default")
    assert said == "True"
    assert given_back > 20 * 1000  # each step touches 40 MB of fresh pages (10,240 pages of 4 KB)
    assert kept < given_back / 20


def test_the_users_own_malloc_settings_are_left_alone():
    said, _ = steps("kept", MALLOC_TRIM_THRESHOLD_="131072")
    assert said == "False"
