"""Language models over token ids, and what a learner does with one: evaluate, generate, score.

Two kinds of model, both mapping ids (T, B) to next-token logits (T, B, V) and a state to carry, and
both telling how far back they can read (``model.context``: a Transformer's window, None if unbounded):

    RecurrentLM      Embedding -> RNN | LSTM | GRU (layers, dropout) -> Dropout -> Linear decoder;
                     the state (h, or (h, c)) carries over to the next chunk of the same streams
    TransformerLM    token + learned position embeddings -> N causal pre-norm encoder layers (GELU)
                     -> LayerNorm -> Linear head; its context is the chunk, so its state is None

    >>> config = LMConfig(model="lstm", vocab_size=len(vocab), hidden=128)
    >>> model = build_model(config, rng=np.random.default_rng(0))
    >>> logits, state = model(ids[:, None])                       # (T, 1) -> (T, 1, V)
    >>> evaluate(model, valid_ids).perplexity
    >>> baselines(train_ids, valid_ids, len(vocab))["trigram"].loss

Losses are in nats per token; bits per token = nats / ln 2; perplexity = e^nats. Sampling and scoring
sentences live in `nn.lm.sampling`, training in `nn.lm.training`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

import numpy as np

from tinygrad_seq import functional as F
from tinygrad_seq.seeding import generator
from tinygrad_seq.tensor import Tensor

from .. import init
from ..attention import MultiheadAttention
from ..containers import ModuleList
from ..linear import Dropout, Embedding, LayerNorm, Linear
from ..module import Module, evaluating
from ..recurrent import GRU, LSTM, RNN
from ..transformer import LearnedPositionalEncoding, TransformerEncoderLayer
from .ngram import NGramLM

__all__ = [
    "MODELS", "Evaluation", "LMConfig", "RecurrentLM", "TransformerLM", "baselines", "build_model",
    "chunk_loss", "detach_state", "evaluate", "set_dropout", "token_logp", "unfused",
]

MODELS = ("rnn", "lstm", "gru", "transformer")

State = Any  # None, a Tensor (RNN, GRU) or a tuple (h, c) (LSTM)


@dataclass
class LMConfig:
    """The shape of a language model; saved as JSON in its checkpoint, so a model can be rebuilt from it.

    ``embed`` defaults to ``hidden`` (it must equal it to tie weights); ``heads``, ``ff`` (default
    4 * hidden) and ``context`` (the longest input, for the learned positions) concern the Transformer.
    ``dropout`` None (the default) lets the training run choose it from how many passes over the
    training text its budget buys (`nn.lm.training.dropout_for`); the model is built without dropout
    until then, and a checkpoint always records the number used.
    """

    # Each kind's own defaults where they differ from the fields' (chosen by measurement: see
    # benchmarks/lm_sweep.py and its table in the docs); `LMConfig.defaults(kind)` applies them.
    PER_KIND: ClassVar[dict[str, dict[str, Any]]] = {
        "rnn": {}, "lstm": {}, "gru": {},
        "transformer": {"hidden": 128, "layers": 4, "tie_weights": True},
    }

    model: str = "gru"
    vocab_size: int = 0
    hidden: int = 256
    layers: int = 1
    dropout: float | None = None
    embed: int | None = None
    tie_weights: bool = False
    heads: int = 4
    ff: int | None = None
    context: int = 64

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"LMConfig: model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.vocab_size < 1 or self.hidden < 1 or self.layers < 1 or self.context < 1:
            raise ValueError(f"LMConfig: vocab_size, hidden, layers and context must be positive, got "
                             f"{self.vocab_size}, {self.hidden}, {self.layers}, {self.context}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LMConfig: dropout must be in [0, 1) or None (chosen by the training run), "
                             f"got {self.dropout}")
        if self.embed is None:
            self.embed = self.hidden
        if self.tie_weights and self.model != "transformer" and self.embed != self.hidden:
            raise ValueError(
                f"LMConfig: tied weights need embed == hidden, got {self.embed} and {self.hidden}")
        if self.model == "transformer" and self.hidden % self.heads:
            raise ValueError(f"LMConfig: hidden {self.hidden} must be divisible by heads {self.heads}")
        if self.ff is None:
            self.ff = 4 * self.hidden

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def defaults(cls, kind: str) -> dict[str, Any]:
        """The fields a model of `kind` gets when none is given (the kind's own, else the field's)."""
        if kind not in MODELS:
            raise ValueError(f"LMConfig.defaults: kind must be one of {', '.join(MODELS)}, got {kind!r}")
        return dict(cls.PER_KIND[kind])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LMConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"LMConfig.from_dict: unknown keys {unknown}")
        return cls(**d)


class RecurrentLM(Module):
    """Embedding -> RNN | LSTM | GRU -> Dropout -> Linear: ids (T, B) -> logits (T, B, V), new state.

    The LSTM's forget-gate bias starts at 1 (remember by default). Embedding rows start from
    U(-0.1, 0.1), small enough that tied weights (``decoder.weight is embedding.weight``) start with
    logits near zero. Dropout applies between recurrent layers and to the last layer's output.
    The recurrent layer and the output Linear are fused (``fused=True``: one graph node each, for
    speed); inside ``with unfused(lm):`` they run op by op, to draw or differentiate twice through every
    time step.

    Example::

        >>> lm = RecurrentLM(LMConfig("gru", vocab_size=10, hidden=16), rng=np.random.default_rng(0))
        >>> logits, h = lm(np.zeros((5, 2), dtype=np.int64))
        >>> logits.shape, h.shape
        ((5, 2, 10), (1, 2, 16))
    """

    def __init__(self, config: LMConfig, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        rng = generator(rng)
        self.config = config
        assert config.embed is not None  # set by LMConfig.__post_init__
        V, E, H = config.vocab_size, config.embed, config.hidden
        self.embedding = Embedding(V, E, rng=rng)
        init.uniform_(self.embedding.weight, -0.1, 0.1, rng)
        self.rnn: LSTM | GRU | RNN
        p = config.dropout or 0.0
        kwargs: dict[str, Any] = dict(num_layers=config.layers, rng=rng, fused=True,
                                      dropout=p if config.layers > 1 else 0.0)
        if config.model == "lstm":
            self.rnn = LSTM(E, H, forget_bias=1.0, **kwargs)
        elif config.model == "gru":
            self.rnn = GRU(E, H, **kwargs)
        elif config.model == "rnn":
            self.rnn = RNN(E, H, **kwargs)
        else:
            raise ValueError(f"RecurrentLM: model must be rnn, lstm or gru, got {config.model!r}")
        self.dropout = Dropout(p, rng=rng)
        self.decoder = Linear(H, V, rng=rng, fused=True)
        assert self.decoder.bias is not None
        init.zeros_(self.decoder.bias)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight  # one Parameter, listed once by parameters()

    @property
    def context(self) -> None:
        """None: the state carries everything read so far, so any length of input fits."""
        return None

    def forward(self, ids: Any, state: State = None) -> tuple[Tensor, State]:
        x = self.embedding(ids)  # (T, B) -> (T, B, E)
        out, state = self.rnn(x, state)  # (T, B, E) -> (T, B, H)
        return self.decoder(self.dropout(out)), state  # (T, B, H) -> (T, B, V)

    def extra_repr(self) -> str:
        return f"{self.config.model}, vocab={self.config.vocab_size}, tied={self.config.tie_weights}"


class TransformerLM(Module):
    """A small causal Transformer: ids (T, B) -> logits (T, B, V), with T <= ``config.context``.

    Token and learned position embeddings (from N(0, 0.02)), ``config.layers`` pre-norm encoder layers
    with GELU and a causal mask, a final LayerNorm and a Linear head. It sees only the chunk it is given,
    so the state it returns is always None (the argument exists so that both models train alike). Its
    layers, final norm and head are fused (attention, LayerNorm, GELU, Linear as one node each, for
    speed); inside ``with unfused(lm):`` they run as the composed ops, to draw or differentiate twice
    through them.
    """

    def __init__(self, config: LMConfig, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        rng = generator(rng)
        self.config = config
        V, d = config.vocab_size, config.hidden
        self.embedding = Embedding(V, d, rng=rng)
        init.normal_(self.embedding.weight, 0.0, 0.02, rng)
        self.position = LearnedPositionalEncoding(config.context, d, rng=rng)
        init.normal_(self.position.weight, 0.0, 0.02, rng)
        assert config.ff is not None  # set by LMConfig.__post_init__
        self.layers = ModuleList(
            TransformerEncoderLayer(d, config.heads, config.ff, config.dropout or 0.0, activation="gelu",
                                    norm_first=True, rng=rng, fused=True)
            for _ in range(config.layers)
        )
        self.norm = LayerNorm(d, fused=True)
        self.head = Linear(d, V, rng=rng, fused=True)
        assert self.head.bias is not None
        init.zeros_(self.head.bias)
        if config.tie_weights:
            self.head.weight = self.embedding.weight

    @property
    def context(self) -> int:
        """The most positions it reads at once (its learned positions); longer inputs raise."""
        return self.config.context

    def forward(self, ids: Any, state: State = None) -> tuple[Tensor, State]:
        T = np.shape(ids)[0]
        if T > self.config.context:
            raise ValueError(f"TransformerLM: {T} positions exceed its context of {self.config.context}")
        x = self.position(self.embedding(ids))  # (T, B) -> (T, B, d)
        for layer in self.layers:
            x = layer(x, is_causal=True)  # (T, B, d)
        return self.head(self.norm(x)), None  # (T, B, d) -> (T, B, V)

    def extra_repr(self) -> str:
        c = self.config
        return f"vocab={c.vocab_size}, d={c.hidden}, heads={c.heads}, context={c.context}"


def set_dropout(model: RecurrentLM | TransformerLM, p: float) -> None:
    """Make every dropout of `model` drop with probability `p` (and record it in ``model.config``): the
    output and between-layer dropout of a recurrent LM, the attention, residual and feed-forward dropout
    of a Transformer. The weights are untouched."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"set_dropout: p must be in [0, 1), got {p}")
    for module in model.modules():
        if isinstance(module, Dropout):
            module.p = p
        elif isinstance(module, (RNN, LSTM, GRU)) and module.num_layers > 1:
            module.dropout = p  # between layers (not after the last: that is the model's own Dropout)
        elif isinstance(module, MultiheadAttention):
            module.dropout = p
    model.config = replace(model.config, dropout=p)


def build_model(config: LMConfig,
                rng: np.random.Generator | int | None = None) -> RecurrentLM | TransformerLM:
    """The model that `config` describes, initialised from `rng` (a Generator or a seed)."""
    cls = TransformerLM if config.model == "transformer" else RecurrentLM
    return cls(config, rng=generator(rng))


@contextlib.contextmanager
def unfused(model: Module) -> Iterator[Module]:
    """Inside the block every fused layer of `model` runs as the composed ops it replaces; restored after.

    The same weights and values: a recurrent layer steps through time in small ops (a scope per step),
    attention, LayerNorm and GELU are drawn and differentiated op by op (twice, too). Any model works:
    the switch is the ``fused`` attribute of each layer that has one.

        >>> with unfused(model):
        ...     loss, _ = chunk_loss(model, ids[:-1], ids[1:])   # a picture or a gradcheck per op
    """
    switches = [(m, m.fused) for m in model.modules() if isinstance(getattr(m, "fused", None), bool)]
    for module, _ in switches:
        module.fused = False
    try:
        yield model
    finally:
        for module, fused in switches:  # parents first: a layer's switch sets its sublayers, then theirs
            module.fused = fused


def detach_state(state: State) -> State:
    """The same state cut from its graph: the next chunk starts from its values, not its history."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)


def chunk_loss(model: Module, inputs: np.ndarray, targets: np.ndarray, state: State = None,
               reduction: str = "mean") -> tuple[Tensor, State]:
    """Cross-entropy (fused: one node) of the model's predictions for a (T, B) chunk, and the state after."""
    logits, state = model(inputs, state)  # (T, B, V)
    V = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction=reduction,
                           fused=True)  # (T*B, V)
    return loss, state


# ------------------------------------------------------------------------------------------- evaluate


@dataclass
class Evaluation:
    """Average cross-entropy over ``tokens`` predictions, in nats per token."""

    loss: float
    tokens: int
    unk: int = 0  # how many of the predicted tokens are <unk> (0 when not counted)

    @property
    def unk_share(self) -> float:
        return self.unk / self.tokens if self.tokens else 0.0

    @property
    def bits_per_token(self) -> float:
        return self.loss / math.log(2)

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss) if self.loss < 709 else math.inf  # e^709 is near float64's largest

    def to_dict(self) -> dict[str, float | int]:
        return {"loss": self.loss, "bits_per_token": self.bits_per_token, "perplexity": self.perplexity,
                "tokens": self.tokens, "unk": self.unk, "unk_share": self.unk_share}


EVAL_ELEMENTS = 1 << 22  # logits (tokens x vocabulary) one forward pass of `token_logp` may hold: 16 MB
BASELINE_TOKENS = 1 << 23  # the count baselines' training tokens at most: about 0.5 GB to count them
LANE_TOKENS = 1 << 16  # a recurrent model reads a longer stream as lanes of this many predictions
WARMUP_TOKENS = 1024  # tokens each lane after the first reads before its first prediction


def _chosen(logits: Any, targets: np.ndarray) -> np.ndarray:
    """log p of each target: (T, B, V) logits, (T, B) ids -> (T, B) float64."""
    logp = logits.log_softmax(axis=-1).numpy()  # (T, B, V)
    return np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0].astype(np.float64)


def token_logp(model: Module, stream: np.ndarray, chunk: int = 4096, windows: int | None = None,
               advance: Callable[[int], None] | None = None) -> np.ndarray:
    """log p(stream[i] | what comes before it) for i = 1 .. N - 1: (N,) ids -> (N - 1,) float64.

    The stream is read as one text, whatever the batch sizes elsewhere. A recurrent model reads it in
    one lane (B = 1), `chunk` tokens per forward pass, its state carried from pass to pass: every
    token is predicted from the whole text before it, exactly as if read token by token. A stream of
    more than `LANE_TOKENS` predictions is read as lanes of that many side by side (so that a long
    split takes seconds, not minutes), each lane after the first starting from the state its
    `WARMUP_TOKENS` preceding tokens give (read, not scored); the lanes depend on the stream's length
    alone, never on a batch size. A
    Transformer reads at most its context C: the first window of C tokens scores its every position
    (each from all the tokens before it); each next window ends ``C // 2`` tokens later and scores only
    those, so every later token is predicted from between C - C // 2 and C - 1 tokens before it. The
    windows are independent: `windows` of them (default: ``chunk // C``) share one forward pass, which
    changes the speed and memory, not the numbers. No graph is recorded; dropout is off. `advance(n)`,
    if given, is told of the n tokens each pass scored (a progress bar), every token once.
    """
    stream = np.asarray(stream, dtype=np.int64)
    if stream.ndim != 1 or len(stream) < 2:
        raise ValueError(f"evaluate: need a 1-D stream of at least 2 tokens (one to predict from, one to "
                         f"predict), got shape {stream.shape}")
    logp = np.empty(len(stream) - 1, dtype=np.float64)
    advance = advance or (lambda n: None)
    with evaluating(model):
        if model.context is None:
            _lane_logp(model, stream, logp, chunk, advance)
        else:
            _window_logp(model, stream, logp, windows or max(1, chunk // model.context), advance)
    return logp


def _read(model: Module, inputs: np.ndarray, targets: np.ndarray, chunk: int,
          advance: Callable[[int], None], scored: list[tuple[int, int]]) -> np.ndarray:
    """log p of `targets` (T, B) after `inputs` (T, B), read `chunk` rows per pass, the state carried;
    `advance` is told, after each pass, how many of its rows fall in column b's scored rows scored[b]."""
    out, state = np.empty(targets.shape, dtype=np.float64), None
    for begin in range(0, len(inputs), chunk):
        end = min(begin + chunk, len(inputs))
        logits, state = model(inputs[begin:end], state)  # (t, B) -> (t, B, V)
        out[begin:end] = _chosen(logits, targets[begin:end])
        advance(sum(max(0, min(end, hi) - max(begin, lo)) for lo, hi in scored))
    return out


def _lane_logp(model: Module, stream: np.ndarray, logp: np.ndarray, chunk: int,
               advance: Callable[[int], None]) -> None:
    """Fill `logp` (log p of stream[1:]) with a recurrent model: lane 0 from the start, lanes k >= 1 of
    `LANE_TOKENS` predictions from position k * LANE_TOKENS, each read after its `WARMUP_TOKENS`."""
    n, W = len(logp), min(WARMUP_TOKENS, LANE_TOKENS)
    first = min(n, LANE_TOKENS)
    logp[:first] = _read(model, stream[:first, None], stream[1:first + 1, None], chunk, advance,
                         [(0, first)])[:, 0]
    starts = list(range(LANE_TOKENS, n, LANE_TOKENS))
    if not starts:
        return
    padded = np.concatenate([stream, np.zeros(LANE_TOKENS, dtype=stream.dtype)])  # the last lane's tail
    # lane k reads inputs [start - W, start + LANE) and predicts the next token of each
    inputs = np.stack([padded[a - W:a + LANE_TOKENS] for a in starts], axis=1)  # (W + LANE, lanes)
    targets = np.stack([padded[a - W + 1:a + LANE_TOKENS + 1] for a in starts], axis=1)
    scored = [(W, W + min(LANE_TOKENS, n - a)) for a in starts]
    read = _read(model, inputs, targets, max(1, chunk // len(starts)), advance, scored)[W:]  # (LANE, lanes)
    for column, a in enumerate(starts):
        logp[a:a + LANE_TOKENS] = read[:min(LANE_TOKENS, n - a), column]


def _window_logp(model: Module, stream: np.ndarray, logp: np.ndarray, per_pass: int,
                 advance: Callable[[int], None]) -> None:
    """Fill `logp` (log p of stream[1:]) with a Transformer: windows of its context, `per_pass` at once."""
    C, n = model.context, len(stream) - 1
    if n <= C:
        logits, _ = model(stream[:-1, None])  # (n, 1) -> (n, 1, V)
        logp[:] = _chosen(logits, stream[1:, None])[:, 0]
        advance(n)
        return
    stride = max(1, C // 2)
    # (first position read, first scored): a window scores [e, e + stride), reading C tokens up to its end
    starts = [(0, 0)] + [(min(e + stride, n) - C, e) for e in range(C, n, stride)]
    for i in range(0, len(starts), per_pass):
        group = starts[i:i + per_pass]
        inputs = np.stack([stream[a:a + C] for a, _ in group], axis=1)  # (C, b)
        targets = np.stack([stream[a + 1:a + C + 1] for a, _ in group], axis=1)  # (C, b)
        logits, _ = model(inputs)  # (C, b) -> (C, b, V)
        chosen = _chosen(logits, targets)  # (C, b)
        for column, (a, first) in enumerate(group):
            logp[first:a + C] = chosen[first - a:, column]
            advance(a + C - first)


def evaluate(model: Module, ids: np.ndarray, batch_size: int = 16, seq_len: int | None = None,
             unk_id: int | None = None, advance: Callable[[int], None] | None = None) -> Evaluation:
    """Loss (nats/token), bits per token and perplexity of `model` on the token stream `ids`.

    Every token after the first is predicted once, as `token_logp` reads the stream: a recurrent model
    with the whole text before it (one lane), a Transformer with a fixed window of at least half its
    context. The result does not depend on `batch_size` (how many Transformer windows one pass reads)
    nor on `seq_len` (tokens per pass of a recurrent model; default: as many as keep the logits under
    `EVAL_ELEMENTS`); they only set speed and memory. ``unk_id``: count the targets that are ``<unk>``.
    `advance(n)`, if given, is told of the tokens each pass scored (a progress bar).
    The model's train/eval mode is restored after.
    """
    V = max(1, getattr(getattr(model, "config", None), "vocab_size", 1))
    chunk = seq_len if seq_len is not None and model.context is None else max(64, EVAL_ELEMENTS // V)
    logp = token_logp(model, ids, chunk=chunk, windows=batch_size, advance=advance)
    unk = int(np.count_nonzero(np.asarray(ids)[1:] == unk_id)) if unk_id is not None else 0
    return Evaluation(float(-logp.mean()), len(logp), unk)


def baselines(train_ids: np.ndarray, ids: np.ndarray, vocab_size: int) -> dict[str, Evaluation]:
    """Count models fit on `train_ids`, scored on the tokens `evaluate(model, ids)` predicts.

    ``uniform`` (loss log V), ``unigram``, ``bigram`` and ``trigram`` (interpolated Kneser-Ney; see
    `nn.lm.ngram`), each reading `ids` as one stream. A model that learned something beats all of them.
    An order whose n-grams a vocabulary this large cannot number (`NGramLM.fits`) is left out. They
    are fit on at most the first `BASELINE_TOKENS` training tokens, so a huge corpus fits in memory.
    """
    train_ids = np.asarray(train_ids)[:BASELINE_TOKENS]
    ids = np.asarray(ids)
    if len(ids) < 2:
        raise ValueError(
            f"evaluate: need at least 2 tokens (one to predict from, one to predict), got {len(ids)}")
    results = {"uniform": Evaluation(math.log(vocab_size), len(ids) - 1)}
    for order, name in ((1, "unigram"), (2, "bigram"), (3, "trigram")):
        if NGramLM.fits(order, vocab_size):
            total, count = NGramLM(order, vocab_size).fit(train_ids).nll(ids)
            results[name] = Evaluation(total / count, count)
    return results
