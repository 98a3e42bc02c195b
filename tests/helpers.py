"""Helpers shared by several test files: layer builders, NumPy references, strategies, DOT readers.

A helper used by one test file stays in that file; one that a second file needs moves here, so that no
test file imports from another. The op catalogue (`op_catalogue.py`) and the browser driver
(`browser.py`) are the other shared modules.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import sys
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import strategies as st

import tinygrad_seq as ts
from tinygrad_seq import Function, Tensor, nn
from tinygrad_seq.autograd import toposort
from tinygrad_seq.nn.attention import MultiheadAttention
from tinygrad_seq.nn.lm.checkpoint import load_model
from tinygrad_seq.nn.lm.models import LMConfig, build_model
from tinygrad_seq.nn.lm.text import Vocab
from tinygrad_seq.nn.lm.training import TrainConfig, Trainer

F64 = np.float64


# ------------------------------------------------------------------------------------ recurrent layers

KINDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def make_layer(kind: str, I: int, H: int, seed: int = 0, dtype=F64, **kw) -> nn.Module:
    rng = np.random.default_rng(seed)
    if kind.startswith("rnn"):
        return nn.RNN(I, H, nonlinearity=kind[4:], rng=rng, dtype=dtype, **kw)
    return {"lstm": nn.LSTM, "gru": nn.GRU}[kind](I, H, rng=rng, dtype=dtype, **kw)


def n_states(kind: str) -> int:
    return 2 if kind == "lstm" else 1


def flat(*tensors: Tensor) -> Tensor:
    """Every output in one vector, so that one gradient check covers them all."""
    return ts.concatenate([t.reshape(-1) for t in tensors])


def gradcheck_module(module: nn.Module, call: Callable[..., Tensor], inputs: list, fast: bool) -> None:
    """gradcheck `call(run, *inputs)` with respect to the inputs and every parameter of `module`.

    `run` calls the module with gradcheck's float64 copies in place of its parameters.
    """
    names = [name for name, _ in module.named_parameters()]
    n = len(inputs)

    def fn(*args):
        swapped = dict(zip(names, args[n:]))
        return call(lambda *a, **k: nn.functional_call(module, swapped, *a, **k), *args[:n])

    params = [p.data for p in module.parameters()]
    # the check means something only if the swapped tensors are the ones the module computes with
    args = [v if isinstance(v, Tensor) else Tensor(v, requires_grad=True) for v in list(inputs) + params]
    used = {id(x) for node in toposort([fn(*args)]) for x in node.inputs}
    assert all(id(a) in used for a in args[n:]), "functional_call did not swap every parameter in"
    report = ts.gradcheck(fn, list(inputs) + params, fast=fast, raise_exception=False)
    assert report, str(report)


def layer_outputs(kind: str, result) -> tuple[Tensor, ...]:
    out, state = result
    return (out, *state) if kind == "lstm" else (out, state)


# ------------------------------------------------------------------------------------ attention


def rng_of(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def np_softmax_rows(scores: np.ndarray, blocked: np.ndarray) -> np.ndarray:
    """Softmax over the last axis ignoring blocked entries; a row with nothing allowed is all zeros."""
    s = np.where(blocked, -np.inf, scores)
    top = s.max(axis=-1, keepdims=True)
    dead = np.isneginf(top)
    e = np.exp(s - np.where(dead, 0.0, top))
    total = e.sum(axis=-1, keepdims=True)
    return np.where(dead, 0.0, e / np.where(dead, 1.0, total))


def np_sdpa(q, k, v, mask=None, causal=False):
    """softmax(Q K^T / sqrt(E) + mask) V in plain NumPy; a bool mask is True where NOT allowed."""
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    blocked = np.zeros(scores.shape, dtype=bool)
    if mask is not None and mask.dtype == bool:
        blocked = blocked | mask
    elif mask is not None:
        scores = scores + np.where(np.isneginf(mask), 0.0, mask)
        blocked = blocked | np.isneginf(mask)
    if causal:
        L, S = scores.shape[-2:]
        blocked = blocked | (np.arange(S)[None, :] > np.arange(L)[:, None])
    w = np_softmax_rows(scores, blocked)
    return w @ v, w


def np_mha(mha, query, key, value, key_padding_mask=None, attn_mask=None, causal=False):
    """MultiheadAttention written out from its parameters, one batch element and one head at a time.

    query (B, L, E), key (B, S, kdim), value (B, S, vdim), all batch-first NumPy arrays.
    Returns the output (B, L, E) and the per-head weights (B, heads, L, S).
    """
    E, H = mha.embed_dim, mha.num_heads
    D = E // H
    if mha.in_proj_weight is not None:
        wq, wk, wv = np.split(mha.in_proj_weight.numpy(), 3)
    else:
        wq, wk, wv = (w.numpy() for w in (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight))
    bias = mha.in_proj_bias.numpy() if mha.in_proj_bias is not None else np.zeros(3 * E)
    bq, bk, bv = np.split(bias, 3)
    wo = mha.out_proj.weight.numpy()
    bo = mha.out_proj.bias.numpy() if mha.out_proj.bias is not None else np.zeros(E)
    B, L, S = query.shape[0], query.shape[1], key.shape[1]
    out = np.zeros((B, L, E))
    weights = np.zeros((B, H, L, S))
    for b in range(B):
        q, k, v = query[b] @ wq.T + bq, key[b] @ wk.T + bk, value[b] @ wv.T + bv
        heads = []
        for h in range(H):
            cols = slice(h * D, (h + 1) * D)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(D)  # (L, S)
            blocked = np.zeros((L, S), dtype=bool)
            for m in (attn_mask, key_padding_mask):
                if m is None:
                    continue
                if m is key_padding_mask:
                    m = m[b][None, :]
                elif m.ndim == 3:
                    m = m[b * H + h]
                if m.dtype == bool:
                    blocked |= np.broadcast_to(m, (L, S))
                else:
                    scores = scores + np.where(np.isneginf(m), 0.0, m)
                    blocked |= np.broadcast_to(np.isneginf(m), (L, S))
            if causal:
                blocked |= np.triu(np.ones((L, S), dtype=bool), k=1)
            w = np_softmax_rows(scores, blocked)
            weights[b, h] = w
            heads.append(w @ v[:, cols])
        out[b] = np.concatenate(heads, axis=1) @ wo.T + bo
    return out, weights


@st.composite
def attention_problem(draw):
    """(q, k, v, mask or None, causal) with small random sizes and every kind of mask."""
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    L, S, E, Ev = (draw(st.integers(1, 5)) for _ in range(4))
    rng = rng_of(draw(st.integers(0, 2**16)))
    q, k, v = (rng.standard_normal(batch + shape) for shape in ((L, E), (S, E), (S, Ev)))
    kind = draw(st.sampled_from(["none", "bool", "float", "float-inf", "causal", "bool+causal"]))
    mask_shape = draw(st.sampled_from([(L, S), batch + (L, S), (1, S)]))
    mask = None
    if kind.startswith("bool"):
        mask = rng.random(mask_shape) < 0.4
    elif kind == "float":
        mask = rng.standard_normal(mask_shape)
    elif kind == "float-inf":
        mask = np.where(rng.random(mask_shape) < 0.4, -np.inf, rng.standard_normal(mask_shape))
    return q, k, v, mask, "causal" in kind


def make_mha(E=8, H=2, seed=0, **kwargs) -> MultiheadAttention:
    mha = MultiheadAttention(E, H, rng=rng_of(seed), **kwargs).astype(np.float64)
    # nonzero biases, so that a bias applied in the wrong place shows up
    r = rng_of(seed + 1)
    for p in (mha.in_proj_bias, mha.out_proj.bias):
        if p is not None:
            p.data = r.standard_normal(p.shape)
    return mha


@st.composite
def mha_problem(draw):
    H = draw(st.integers(1, 3))
    E = H * draw(st.integers(1, 3))
    B, L = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    cross = draw(st.booleans())
    S = draw(st.integers(1, 4)) if cross else L
    kdim, vdim = (draw(st.sampled_from([E, 2, 5])) for _ in range(2)) if cross else (E, E)
    seed = draw(st.integers(0, 2**16))
    rng = rng_of(seed)
    query = rng.standard_normal((B, L, E))
    key = rng.standard_normal((B, S, kdim)) if cross else query
    value = rng.standard_normal((B, S, vdim)) if cross else query
    padding = rng.random((B, S)) < 0.3 if draw(st.booleans()) else None
    mask_kind = draw(st.sampled_from(["none", "bool", "float", "per-head"]))
    attn_mask = {
        "none": None,
        "bool": rng.random((L, S)) < 0.3,
        "float": rng.standard_normal((L, S)),
        "per-head": np.where(rng.random((B * H, L, S)) < 0.3, -np.inf, rng.standard_normal((B * H, L, S))),
    }[mask_kind]
    return dict(E=E, H=H, kdim=kdim, vdim=vdim, seed=seed, query=query, key=key, value=value,
                padding=padding, attn_mask=attn_mask, causal=draw(st.booleans()) and not cross,
                batch_first=draw(st.booleans()), average=draw(st.booleans()), cross=cross)


# ------------------------------------------------------------------------------------ any module


def randomise(module: nn.Module, seed: int) -> nn.Module:
    """float64, and every parameter random (LayerNorm's ones/zeros would hide a swapped weight and bias)."""
    module.astype(np.float64).eval()
    rng = rng_of(seed)
    for p in module.parameters():
        p.data = p.numpy() + 0.3 * rng.standard_normal(p.shape)
    return module


def params_of(module: nn.Module) -> tuple[list[str], list[np.ndarray]]:
    names, values = zip(*module.named_parameters())
    return list(names), [v.numpy() for v in values]


# ------------------------------------------------------------------------------------ graph pictures

NODE = re.compile(r"^\s*(n\d+) \[(.*)\];$", re.M)
EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)(?: \[(.*)\])?;$", re.M)
LABEL = re.compile(r'label="((?:[^"\\]|\\.)*)"')


def nodes(dot: str) -> dict[str, str]:
    """node id -> its label (DOT's \\n kept as two characters; a record's fields in either layout)."""
    found = {m.group(1): LABEL.search(m.group(2)).group(1) for m in NODE.finditer(dot)}
    return {n: label[1:-1] if label.startswith("{") and label.endswith("}") else label
            for n, label in found.items()}


def edges(dot: str, invisible: bool = False) -> list[tuple[str, str, str]]:
    found = [(m.group(1), m.group(2), m.group(3) or "") for m in EDGE.finditer(dot)]
    return [e for e in found if ("style=invis" in e[2]) == invisible]


def dot_available() -> bool:
    if shutil.which("dot"):
        return True
    if os.environ.get("CI"):
        pytest.fail("Graphviz's `dot` program is not on PATH, and CI must render pictures: install graphviz")
    pytest.skip("Graphviz's `dot` program is not on PATH (apt-get/brew/conda/winget install graphviz)")
    return False


def layout_x(dot: str) -> dict[str, float]:
    """x position of every node in dot's layout (`plain` output)."""
    import graphviz

    plain = graphviz.pipe("dot", "plain", dot.encode()).decode()
    rows = [line.split() for line in plain.splitlines() if line.startswith("node ")]
    return {row[1]: float(row[2]) for row in rows}


def rnn(T: int, H: int = 3, B: int = 2, scale: float = 0.5, seed: int = 0, detach_at: int | None = None,
        every_step: bool = False):
    """A tanh RNN unrolled in scope("rnn") / scope("t=k"); the loss reads the last state (or every one)."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.normal(size=(T, B, 2)))
    w_ih = Tensor(rng.normal(size=(2, H)) * scale, requires_grad=True)
    w_hh = Tensor(rng.normal(size=(H, H)) * scale, requires_grad=True)
    b = Tensor(rng.normal(size=H) * 0.1, requires_grad=True)
    h = ts.zeros(B, H, dtype=np.float64)
    states = []
    with ts.scope("rnn"):
        for t in range(T):
            with ts.scope(f"t={t}"):
                if t == detach_at:
                    h = h.detach()
                h = ts.tag((x[t] @ w_ih + h @ w_hh + b).tanh(), "h")  # (B, H), named for the picture
                states.append(h)
    loss = sum((s * s).sum() for s in states) if every_step else (h * h).sum()
    return loss, {"w_ih": w_ih, "w_hh": w_hh, "b": b}


# ------------------------------------------------------------------------------------ a user's op


class Cube(Function):
    """A user's op, the README's: out = x^3, dx = factor x^2 grad with factor 3."""

    factor = 3

    def forward(self, x):
        self.save_for_backward(x)
        return x**3

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * self.factor * x**2


class CubeWrong(Cube):
    """The README's planted bug: dx = 2 x^2 grad where 3 x^2 grad is right (backward / differences = 2/3)."""

    factor = 2


# ------------------------------------------------------------------------------------ language models

FOX = "the quick brown fox jumps over the lazy dog\n"
WORDS = "the cat sat on the mat .\nthe dog sat on the log .\na cat and a dog .\n"


def quiet_trainer(model, vocab, train_ids, valid_ids, out_dir, **cfg) -> Trainer:
    """A Trainer with tiny settings that prints into a string, not the terminal."""
    settings = dict(seq_len=8, batch_size=2, lr=1e-2, warmup=0, eval_every=1000, eval_tokens=None,
                    eval_batch=2)
    return Trainer(model, vocab, train_ids, valid_ids, TrainConfig(**(settings | cfg)), out_dir,
                   stream=io.StringIO())


def make_run(tmp_path, name, steps=None, **cfg):
    """A quiet two-layer LSTM run on FOX in tmp_path/name: (trainer, vocab, ids)."""
    vocab = Vocab.chars(FOX)
    ids = vocab.encode(FOX * 3)
    model = build_model(LMConfig("lstm", len(vocab), hidden=8, layers=2, dropout=0.3), rng=3)
    trainer = quiet_trainer(model, vocab, ids, ids[:20], tmp_path / name, eval_every=3, **cfg)
    return trainer, vocab, ids


def resume_from(tmp_path, name, vocab, ids):
    """A Trainer resumed from the checkpoint of the run tmp_path/name (made by `make_run`)."""
    model, _, ckpt = load_model(tmp_path / name / "checkpoint.npz")
    model.train()
    return Trainer.resume(ckpt, model, ids, ids[:20], tmp_path / name, stream=io.StringIO())


class Terminal(io.StringIO):
    """A text stream that says it is a terminal (progress bars draw with carriage returns)."""

    def isatty(self) -> bool:
        return True


def hide(monkeypatch, *packages: str) -> None:
    """Make `import package` (and its submodules, even those already imported) fail as if not installed."""
    for package in packages:
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")] + [package]:
            monkeypatch.setitem(sys.modules, name, None)


# ---------------------------------------------------------------------------------------------
# lessons (demos/NN_name.py) run in --quick mode by the test_demos_*.py files
# ---------------------------------------------------------------------------------------------

DEMOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demos")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_lesson(name: str):
    """The lesson module demos/NAME.py (its folder goes on sys.path once, as the lessons import common)."""
    import sys

    if DEMOS not in sys.path:
        sys.path.insert(0, DEMOS)
    from common import load_lesson as load

    return load(name)


def run_lesson(name: str, out) -> tuple:
    """Run a lesson with --quick into `out`; check that each picture it promises is a real PNG and that
    every figure its page quotes is text. Returns (the lesson's module, its result)."""
    demo = load_lesson(name)
    result = demo.main(["--quick", "--out", str(out)])
    for picture in demo.PICTURES:
        path = os.path.join(str(out), picture)
        with open(path, "rb") as f:
            head = f.read(8)
        assert os.path.getsize(path) > 5000 and head == PNG_MAGIC, picture
    assert all(isinstance(v, str) and v for v in demo.readme_figures(result).values())
    return demo, result
