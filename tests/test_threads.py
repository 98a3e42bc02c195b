"""blas_threads: the one place that sets how many threads BLAS uses (threadpoolctl), and its flags."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info

from tinygrad_seq.nn.lm import cli
from tinygrad_seq.nn.lm.threads import DEFAULT_THREADS, blas_threads


def blas_counts() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_blas_threads_limits_inside_the_block_and_restores_after():
    before = blas_counts()
    assert before, "NumPy's BLAS is not visible to threadpoolctl"
    with blas_threads(1):
        assert blas_counts() == [1] * len(before)
    assert blas_counts() == before
    with blas_threads(None):  # None changes nothing
        assert blas_counts() == before
    with pytest.raises(ValueError, match="at least 1"):
        blas_threads(0)


def test_one_thread_is_the_default_of_the_command_and_each_command_takes_threads():
    assert DEFAULT_THREADS == 1
    parser = cli.build_parser()
    assert parser.parse_args(["train", "--out", "run"]).threads == 1
    assert parser.parse_args(["sample", "run", "--threads", "2"]).threads == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "run", "--threads", "0"])
