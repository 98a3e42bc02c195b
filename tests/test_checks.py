"""nn.lm.checks and nn.lm.models.unfused: the gradient checks of layers and models pass on the library and
fail on a wrong backward; the node count predicts the graph that is then built; unfused runs every fused
layer (recurrent, attention, LayerNorm, GELU) as small ops and restores it after."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_seq import ops
from tinygrad_seq.autograd import toposort
from tinygrad_seq.nn.lm.checks import LAYERS, gradcheck_layer, gradcheck_model, unroll_nodes
from tinygrad_seq.nn.lm.models import MODELS, LMConfig, build_model, chunk_loss, unfused

FUSED = {"FusedSequence", "ScaledDotProductAttention", "AttentionWeights", "FusedLayerNorm", "FusedGelu"}


def small(kind: str) -> LMConfig:
    return LMConfig(kind, vocab_size=12, hidden=8, heads=2, context=8)


def op_names(model, steps: int = 4) -> set[str]:
    ids = np.arange(steps + 1)[:, None] % 12  # (T + 1, 1)
    return {type(fn).__name__ for fn in toposort([chunk_loss(model, ids[:-1], ids[1:])[0]])}


@pytest.fixture
def wrong_matmul(monkeypatch):
    """MatMul's backward returns twice the right gradient (every layer here multiplies matrices)."""
    right = ops.MatMul.backward

    def doubled(self, *args, **kwargs):
        return tuple(None if g is None else 2 * g for g in right(self, *args, **kwargs))

    monkeypatch.setattr(ops.MatMul, "backward", doubled)


@pytest.mark.parametrize("kind", LAYERS)
def test_each_layer_passes_and_its_report_names_the_inputs(kind):
    report = gradcheck_layer(kind, np.random.default_rng(0))
    assert report, str(report)
    assert report.title.startswith(f"{kind} (T=4, B=2, input")
    assert "inputs: 0 = x, 1 = " in "\n".join(report.notes)
    assert len(report.checks) == 1 + (4 if kind == "mha" else 8)  # x, then every parameter


@pytest.mark.parametrize("kind", ["lstm", "mha"])
def test_a_wrong_backward_fails_the_layer_check_and_localize_names_the_op(kind, wrong_matmul):
    report = gradcheck_layer(kind, np.random.default_rng(0), localize=True)
    assert not report and report.localized is not None
    assert {n.op for n in report.localized.failed} == {"MatMul"}


def test_an_unknown_layer_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="rnn, lstm, gru, mha, got 'cnn'"):
        gradcheck_layer("cnn", np.random.default_rng(0))


@pytest.mark.parametrize("kind", MODELS)
def test_a_model_check_passes_in_float64_and_names_every_parameter(kind):
    model = build_model(small(kind), rng=0)
    ids = np.arange(6)[:, None]  # (T + 1, 1)
    report = gradcheck_model(model, ids[:-1], ids[1:])
    assert report, str(report)
    assert report.mode == "fast" and len(report.checks) == len(list(model.parameters()))
    assert all(p.dtype == np.float64 for p in model.parameters())


def test_a_transformer_checked_unfused_names_the_wrong_op_inside_attention(wrong_matmul):
    model = build_model(small("transformer"), rng=0)
    ids = np.arange(6)[:, None]
    with unfused(model):
        report = gradcheck_model(model, ids[:-1], ids[1:], localize=True)
    scopes = {"/".join(n.scope) for n in report.localized.failed}
    assert not report and any("self_attn" in s for s in scopes), scopes


@pytest.mark.parametrize("kind", MODELS)
def test_unfused_runs_every_fused_layer_as_small_ops_with_the_same_loss_and_restores_it(kind):
    model = build_model(small(kind), rng=0)
    ids = np.arange(5)[:, None]
    fused_ops = op_names(model) & FUSED
    assert fused_ops  # the models are built fused
    before = chunk_loss(model, ids[:-1], ids[1:])[0].item()
    with unfused(model) as same:
        assert same is model and not op_names(model) & FUSED
        after = chunk_loss(model, ids[:-1], ids[1:])[0].item()
    assert after == pytest.approx(before, rel=1e-5)
    assert op_names(model) & FUSED == fused_ops  # switched back


def test_unfused_restores_the_switches_when_the_block_raises():
    model = build_model(small("transformer"), rng=0)
    model.layers[0].self_attn.fused = False  # one sublayer already composed: it stays so
    with pytest.raises(RuntimeError), unfused(model):
        raise RuntimeError("inside")
    assert model.layers[0].fused and model.norm.fused and not model.layers[0].self_attn.fused


@pytest.mark.parametrize("kind", MODELS)
def test_the_node_count_predicts_the_unfused_graph_of_any_length(kind):
    config = small(kind)
    size = unroll_nodes(config)
    model = build_model(config, rng=1)
    with unfused(model):
        built = [len(toposort([chunk_loss(model, np.zeros((T, 1), np.int64), np.zeros((T, 1), np.int64))[0]]))
                 for T in (1, 3, 7)]
    assert built == [size.at(T) for T in (1, 3, 7)]
    if kind != "transformer":  # a recurrent graph grows with every step; a Transformer's is one batch
        assert size.per_step > 0 and size.at(size.most_steps(500)) <= 500 < size.at(size.most_steps(500) + 1)


def test_the_command_unfuses_a_transformer_too(wrong_matmul, capsys):
    from tinygrad_seq.nn.lm.cli import main

    args = ["gradcheck", "--model", "transformer", "--hidden", "8", "--steps", "3", "--localize"]
    assert main([*args, "--unfused"]) == 1
    unfused_out = capsys.readouterr().out
    assert main(args) == 0  # fused, no MatMul is left (attention and every Linear are fused nodes)
    fused_out = capsys.readouterr().out
    inside = "op 'MatMul' in scope 'TransformerLM/layers.0/self_attn/heads/scores'"  # Q K^T, in attention
    assert inside in unfused_out and "FAILED node" in unfused_out and "FAILED node" not in fused_out
