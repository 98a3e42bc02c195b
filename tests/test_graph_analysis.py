"""graph_analysis: what a picture computes from the graph; here, where a detached tensor was cut from."""

from __future__ import annotations

import gc

import numpy as np

from tinygrad_seq import Tensor, graph
from tinygrad_seq.graph_analysis import detach_sources


def test_detach_records_its_source_and_indexing_keeps_it():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    h = (x * 2).tanh()
    cut = h.detach()
    assert cut.detached_from is not None and cut.detached_from() is h
    assert cut[0].detached_from() is h  # a layer reading h.detach()[0] still reads a cut
    assert not cut.requires_grad and np.shares_memory(cut.numpy(), h.numpy())
    assert Tensor(np.ones(2)).detached_from is None  # an ordinary tensor was cut from nothing
    assert Tensor(np.ones(2)).detach().detached_from is None  # nor is a detach of a constant: no graph to cut


def test_detach_sources_reads_the_recorded_source_never_the_memory():
    x = Tensor(np.ones(3), requires_grad=True)
    h = (x * 2).tanh()
    cut, copied = h.detach(), Tensor(h.numpy())  # `copied` shares h's memory but was made by hand
    assert np.shares_memory(copied.numpy(), h.numpy())
    assert detach_sources([cut, copied, x]) == {id(cut): h}
    dot = graph.to_dot((cut * x + copied * x).sum())
    assert dot.count("✂ detached") == 1 and dot.count("✂ detach\"") == 1  # one leaf cut, one dashed edge


def test_a_freed_source_is_reported_as_none():
    x = Tensor(np.ones(3), requires_grad=True)
    h = (x * 2).tanh()
    cut = h.detach()
    del h
    gc.collect()
    assert detach_sources([cut]) == {id(cut): None}  # cut from something no longer there
