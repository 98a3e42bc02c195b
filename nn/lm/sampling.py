"""Sampling text from a language model and scoring sentences with it.

    >>> generate(model, vocab, prompt="The ", length=200, temperature=0.8, top_k=20, seed=0)
    >>> score(model, vocab, "the apple and pear salad").total       # log P in nats
    >>> score(model, vocab, "the apple and pair salad").total       # lower: a less likely sentence

Both read text as the start of a line: the model first reads the start token (``<eos>`` at the word level,
"\\n" at the character level), so the first token is predicted too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..module import Module, evaluating
from .models import State, token_logp
from .text import Vocab

__all__ = ["SCORE_TOKENS", "Score", "generate", "prompted_samples", "score", "start_id"]


def _context(model: Module, ids: np.ndarray) -> np.ndarray:
    """The tail of `ids` that the model can read at once (a Transformer's context; everything otherwise)."""
    return ids[-model.context:] if model.context is not None else ids


def start_id(vocab: Vocab) -> int | None:
    """The token that precedes a text: ``<eos>`` (a line just ended) or "\\n"; None if there is neither."""
    return vocab.eos_id if vocab.eos_id is not None else vocab.stoi.get("\n")


def _prime(model: Module, vocab: Vocab, prompt: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids the model reads first, ids of the prompt itself): the prompt after a start token."""
    prompt_ids = vocab.encode(prompt) if prompt else np.zeros(0, dtype=np.int64)
    if vocab.level == "word" and prompt_ids.size and prompt_ids[-1] == vocab.eos_id and \
            not prompt.endswith("\n"):
        prompt_ids = prompt_ids[:-1]  # a prompt is an unfinished line: no <eos> after it
    start = start_id(vocab)
    head = np.array([start] if start is not None else [], dtype=np.int64)
    read = np.concatenate([head, prompt_ids])
    if read.size == 0:
        raise ValueError(
            "generate: this vocabulary has no start token (<eos> or a line break): give a prompt")
    return read, prompt_ids


def _next_logits(model: Module, ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
    """The logits (V,) after reading `ids` (a 1-D stream) from `state`, and the state after it."""
    logits, state = model(ids[:, None], state)  # (T, 1) -> (T, 1, V)
    return logits.numpy()[-1, 0].astype(np.float64), state


def generate(model: Module, vocab: Vocab, prompt: str = "", length: int = 200, temperature: float = 1.0,
             top_k: int | None = None, seed: int | None = None) -> str:
    """Sample up to `length` tokens after `prompt`; returns the new text (without the prompt).

    Each token is drawn from softmax(logits / temperature) restricted to the `top_k` most likely
    tokens; temperature 0 takes the most likely token (greedy). ``<unk>`` is masked out before
    sampling, so it is never emitted, and at the word level generation stops at ``<eos>`` (the end of
    the line, not included). The same seed gives the same text. An empty prompt starts a new line.
    """
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"generate: temperature must be a finite number >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"generate: top_k must be >= 1, got {top_k}")
    if length < 0:
        raise ValueError(f"generate: length must be >= 0, got {length}")
    rng = np.random.default_rng(seed)
    read, prompt_ids = _prime(model, vocab, prompt)
    history = read
    out: list[int] = []
    with evaluating(model):
        logits, state = _next_logits(model, _context(model, read), None)
        for _ in range(length):
            token = _pick(logits, vocab, temperature, top_k, rng)
            if token == vocab.eos_id:
                break
            out.append(token)
            history = np.append(history[-(model.context or 1):], token)  # what the model reads next
            if model.context is None:  # the state carries the history: read only the new token
                logits, state = _next_logits(model, history[-1:], state)
            else:
                logits, _ = _next_logits(model, _context(model, history), None)
    return vocab.decode(np.array(out, dtype=np.int64))


def prompted_samples(model: Module, vocab: Vocab, n: int, length: int, temperature: float, top_k: int | None,
                     seed: int, prompt: str) -> list[str]:
    """`n` samples (seeds seed, seed + 1, ...), each the prompt followed by what `generate` wrote after it
    (a space between them at word level, unless the prompt ends in one)."""
    texts = [generate(model, vocab, prompt, length, temperature, top_k, seed + i) for i in range(n)]
    space = " " if vocab.level == "word" and prompt and not prompt.endswith((" ", "\n")) else ""
    return [prompt + (space if text else "") + text for text in texts]


def _pick(logits: np.ndarray, vocab: Vocab, temperature: float, top_k: int | None,
          rng: np.random.Generator) -> int:
    """One token id from (V,) logits: <unk> masked, top-k kept, then greedy or sampled at `temperature`."""
    logits = logits.copy()
    if vocab.unk_id is not None:
        logits[vocab.unk_id] = -np.inf
    if top_k is not None and top_k < len(logits):
        kth = np.partition(logits, -top_k)[-top_k]
        logits[logits < kth] = -np.inf
    if not np.isfinite(logits.max()):
        raise ValueError("generate: the model's outputs are not finite numbers (are its weights NaN?)")
    if temperature == 0:
        return int(np.argmax(logits))
    with np.errstate(over="ignore", under="ignore"):  # a tiny temperature: every other token gets p = 0
        p = np.exp((logits - logits.max()) / temperature)
    p /= p.sum()
    return int(rng.choice(len(p), p=p))


@dataclass
class Score:
    """A text's log-probability under a model: ``total`` nats, and the log p of each token.

    ``token_ids`` (N,) and ``logp`` (N,) are arrays (a long text costs 16 bytes a token);
    ``tokens`` lists them as (token, log p) pairs.
    """

    text: str
    total: float
    token_ids: np.ndarray
    logp: np.ndarray
    itos: list[str] = field(repr=False)

    @property
    def tokens(self) -> list[tuple[str, float]]:
        return [(self.itos[t], float(v)) for t, v in zip(self.token_ids, self.logp)]

    @property
    def per_token(self) -> float:
        return self.total / max(1, len(self.logp))

    @property
    def perplexity(self) -> float:
        return math.exp(-self.per_token) if -self.per_token < 709 else math.inf


SCORE_TOKENS = 4096  # tokens read per forward pass when scoring: memory stays the same for any length


def score(model: Module, vocab: Vocab, sentence: str, chunk: int = SCORE_TOKENS,
          advance: Callable[[int], None] | None = None) -> Score:
    """log P(sentence) in nats, token by token, as the start of a new line.

    Every token is predicted from those before it and from the start token (``<eos>`` at the word
    level, "\\n" at the character level if the vocabulary has it; otherwise the first character is
    given, not scored). At the word level the line's closing ``<eos>`` is scored too, so a sentence
    that ends well scores higher. Unknown words score as ``<unk>``; unknown characters raise
    ``UnknownCharacterError``.

    The text is read as `nn.lm.models.token_logp` reads a stream, in pieces of about `chunk` tokens
    without recording a graph, so any length scores in the same memory: a recurrent model carries its
    state from piece to piece (the result is the whole text's); a Transformer reads windows of its
    context that overlap by half, each token predicted from at least ``context // 2`` tokens before it.
    `advance(n)`, if given, is told of the n tokens each piece scored (a progress bar).
    """
    ids = vocab.encode(sentence)
    start = start_id(vocab)
    stream = np.concatenate([[start], ids]).astype(np.int64) if start is not None else ids
    if len(stream) < 2:
        raise ValueError(f"score: {sentence!r} has no token to score")
    targets = stream[1:]
    logp = token_logp(model, stream, chunk, advance=advance)
    return Score(sentence, float(logp.sum()), targets, logp, vocab.itos)
