"""The checks of the language-model exercises: cross-entropy and perplexity, sampling, beam search."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_seq import Tensor, grad
from tinygrad_seq import functional as F

from .checking import Context
from .compare import Axis, compare, layout
from .report import Failed, call
from .solutions.beam_search import beam_search as reference_beam

__all__ = ["check_beam_search", "check_cross_entropy", "check_sampling"]


def check_cross_entropy(ns: dict[str, Any], ctx: Context) -> list[str]:
    """The summed loss and dlogits against functional.cross_entropy(reduction="sum"); perplexity."""
    rng = ctx.rng(11)
    for T, B, V, big in ((3, 2, 5, 0.0), (4, 1, 3, 1000.0)):
        logits, targets = rng.standard_normal((T, B, V)) * 2, rng.integers(0, V, (T, B))
        logits[0, 0, 0] += big  # a large logit: exp must not overflow
        z = Tensor(logits, requires_grad=True)
        steps = [F.cross_entropy(z[t], targets[t], reduction="sum") for t in range(T)]
        loss = sum(steps[1:], start=steps[0])
        (want,) = grad(loss, [z])
        got = call("sequence_cross_entropy", ns["sequence_cross_entropy"], logits.copy(), targets.copy())
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise Failed(["sequence_cross_entropy must return two things: (loss, dlogits)"])
        compare("loss", got[0], loss.numpy(), layout(), parts=[s.numpy() for s in steps],
                known=[(loss.numpy() / (T * B), "it is the mean over the tokens: the loss here is the sum")])
        compare("dlogits", got[1], want.numpy(), layout(Axis("time step", time="each"), "batch", "token"),
                known=[(want.numpy() / (T * B), "it is the gradient of the mean: the loss here is the sum")])
        total = float(loss.numpy())
        mine = call("perplexity", ns["perplexity"], logits.copy(), targets.copy())
        mistakes = [(np.array(total / (T * B)), "it is the mean loss: perplexity is e to the power of it")]
        if total < 700:  # e to the sum, when it is a finite number
            mistakes.append((np.array(math.exp(total)), "it is e to the summed loss: divide by the number "
                                                        "of tokens first"))
        compare("perplexity", mine, np.array(math.exp(total / (T * B))), layout(), known=mistakes)
    return ["the summed loss, dlogits and perplexity match functional.cross_entropy (T, B, V) = (3, 2, 5), "
            "(4, 1, 3)"]


def expected_distribution(logits: np.ndarray, temperature: float, top_k: int | None, unk_id: int | None
                          ) -> np.ndarray:
    """The probability of each token under sample_token's rules (unk masked, top-k, temperature)."""
    z = logits.astype(np.float64).copy()
    if unk_id is not None:
        z[unk_id] = -np.inf
    if top_k is not None:
        z[z < np.sort(z)[-top_k]] = -np.inf
    p = np.exp((z - z.max()) / temperature)
    return p / p.sum()


def _chi_square_p(stat: float, dof: int) -> float:
    """P(chi-square with dof degrees of freedom >= stat), by the Wilson-Hilferty normal approximation."""
    if dof <= 0:
        return 1.0
    z = ((stat / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
    return 0.5 * math.erfc(z / math.sqrt(2))


DRAWS = 4000
LOGITS = np.array([1.0, 2.0, 0.5, -1.0, 1.5, 0.0])
SETTINGS: list[dict[str, Any]] = [{}, {"temperature": 0.5}, {"temperature": 2.0, "top_k": 3},
                                  {"top_k": 4, "unk_id": 1}]


def _mistakes(settings: dict[str, Any]) -> list[tuple[np.ndarray, str]]:
    t, k, unk = settings.get("temperature", 1.0), settings.get("top_k"), settings.get("unk_id")
    found = []
    if t != 1.0:
        found += [(expected_distribution(LOGITS, 1 / t, k, unk), "the temperature multiplies the logits: "
                                                                 "divide them by it"),
                  (expected_distribution(LOGITS, 1.0, k, unk), "the temperature is not used")]
    if k is not None:
        found.append((expected_distribution(LOGITS, t, None, unk), "top-k is not applied"))
        flipped = expected_distribution(-LOGITS, 1.0, k, unk)  # the k smallest logits, kept at their values
        smallest = np.where(flipped > 0, np.exp(LOGITS / t), 0.0)
        found.append((smallest / smallest.sum(), "top-k keeps the k smallest logits: keep the k largest"))
    if unk is not None:
        found.append((expected_distribution(LOGITS, t, k, None), "<unk> is not masked"))
    return found


def check_sampling(ns: dict[str, Any], ctx: Context) -> list[str]:
    """sample_token's frequencies by a chi-square test for four settings; generate's stop rules."""
    sample = ns["sample_token"]
    for settings in SETTINGS:
        p = expected_distribution(LOGITS, settings.get("temperature", 1.0), settings.get("top_k"),
                                  settings.get("unk_id"))
        rng = np.random.default_rng(12)
        counts = np.zeros(len(LOGITS))
        for _ in range(DRAWS):
            token = call("sample_token", sample, LOGITS.copy(), rng, **settings)
            if not isinstance(token, int | np.integer) or not 0 <= int(token) < len(LOGITS):
                raise Failed([f"sample_token returned {token!r}: it must return a token id, an int in "
                              f"0..{len(LOGITS) - 1}"])
            counts[int(token)] += 1
        _judge(counts, p, settings)
    _check_generate(ns["generate"])
    return [f"sample_token's frequencies pass a chi-square test (p > 1e-4, {DRAWS} seeded draws) with "
            f"{len(SETTINGS)} settings of temperature, top-k and <unk>; generate stops at <eos> and at "
            "max_len"]


def _judge(counts: np.ndarray, p: np.ndarray, settings: dict[str, Any]) -> None:
    """Raise Failed when the counts do not fit p: a forbidden token drawn, or a chi-square p-value < 1e-4."""
    name = ", ".join(f"{k}={v}" for k, v in settings.items()) or "the defaults"
    seen = counts / counts.sum()
    forbidden = np.flatnonzero((p == 0) & (counts > 0))
    lines = []
    if forbidden.size:
        tok = int(forbidden[0])
        why = "<unk>" if tok == settings.get("unk_id") else "outside the top k"
        lines.append(f"with {name}: token {tok} ({why}) was drawn {int(counts[tok])} times in {DRAWS}; it "
                     "must never be")
    else:
        live = p > 0
        stat = float((((counts - DRAWS * p) ** 2)[live] / (DRAWS * p[live])).sum())
        p_value = _chi_square_p(stat, int(live.sum()) - 1)
        if p_value >= 1e-4:
            return
        tok = int(np.argmax(np.abs(seen - p)))
        lines.append(f"with {name}: token {tok} came out {seen[tok]:.1%} of the time, expected {p[tok]:.1%} "
                     f"(chi-square {stat:.1f}, p = {max(p_value, 1e-300):.2g}: draws this far from the "
                     "right distribution almost never happen by chance)")
    fits = [(float(np.abs(seen - q).sum()), text) for q, text in _mistakes(settings)]
    if fits and min(fits)[0] < 0.06:
        lines.append(f"  the draws look like this mistake: {min(fits)[1]}")
    raise Failed(lines)


def _check_generate(generate: Callable[..., Any]) -> None:
    V, eos = 4, 3
    seen: list[list[int]] = []

    def next_logits(tokens: list[int]) -> np.ndarray:
        seen.append(list(tokens))
        logits = np.full(V, -50.0)
        logits[eos if len(tokens) == 2 else len(tokens) % 3] = 50.0  # 0, 1, then <eos>
        return logits

    got = call("generate", generate, next_logits, np.random.default_rng(0), 10, eos)
    if list(got) != [0, 1]:
        raise Failed([f"generate returned {list(got)}: the model says 0, then 1, then <eos> (id {eos}), so "
                      "it must return [0, 1] (stop at <eos>, and do not include it)"])
    if seen[:3] != [[], [0], [0, 1]]:
        raise Failed([f"generate asked next_logits about {seen[:3]}: it must pass the tokens drawn so far "
                      "([], then [0], then [0, 1])"])
    never = np.array([0.0, 50.0, 0.0, -50.0])  # token 1, and never <eos>
    got = call("generate", generate, lambda tokens: never.copy(), np.random.default_rng(0), 5,
               eos)
    if list(got) != [1] * 5:
        raise Failed([f"generate returned {list(got)} when <eos> never comes: it must stop after max_len = "
                      "5 tokens"])


def _markov(V: int, rng: np.random.Generator) -> Callable[[tuple], np.ndarray]:
    """log-probabilities of the next token given the last one (a small random bigram model)."""
    table = rng.standard_normal((V + 1, V)) * 1.5
    table -= np.log(np.exp(table).sum(axis=1, keepdims=True))
    return lambda tokens: table[tokens[-1] if tokens else V].copy()


def _exhaustive(log_probs: Callable[[tuple], np.ndarray], V: int, max_len: int, eos: int) -> list[tuple]:
    """Every finished sequence with its score, best first: the answer a wide enough beam must give."""
    found = []
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=n):
            if eos in seq[:-1] or (n < max_len and seq[-1] != eos):
                continue
            found.append((seq, sum(float(log_probs(seq[:i])[seq[i]]) for i in range(n))))
    return sorted(found, key=lambda c: -c[1])


def check_beam_search(ns: dict[str, Any], ctx: Context) -> list[str]:
    """A beam as wide as the search space gives exhaustive search's ranking; width 1 gives greedy."""
    V, max_len, eos = 3, 3, 2
    for stream in (13, 14):
        log_probs = _markov(V, ctx.rng(stream))
        every = _exhaustive(log_probs, V, max_len, eos)
        for width in (len(every), 4, 1):
            got = call("beam_search", ns["beam_search"], log_probs, V, width, max_len, eos)
            got = [(tuple(int(t) for t in s), float(score)) for s, score in got]
            if width == 1:
                seq: tuple = ()
                while len(seq) < max_len and (not seq or seq[-1] != eos):
                    seq += (int(np.argmax(log_probs(seq))),)
                want = [c for c in every if c[0] == seq]
            elif width == len(every):
                want = every
            else:  # a narrow beam may miss the best sequence: the reference beam search is the answer
                want = reference_beam(log_probs, V, width, max_len, eos)
            _compare_beams(got, want, width, log_probs)
    return ["beam_search ranks like exhaustive search (vocabulary of 3, up to 3 tokens, <eos> = 2) with a "
            "full beam, like the reference with width 4, and like greedy search with width 1"]


def _compare_beams(got: list[tuple], want: list[tuple], width: int,
                   log_probs: Callable[[tuple], np.ndarray]) -> None:
    for seq, score in got:
        true = sum(float(log_probs(seq[:i])[seq[i]]) for i in range(len(seq)))
        if not math.isclose(score, true, rel_tol=1e-9, abs_tol=1e-9):
            probabilities = sum(math.exp(float(log_probs(seq[:i])[seq[i]])) for i in range(len(seq)))
            how = " (it looks like a sum of probabilities, not of log-probabilities)" if math.isclose(
                score, probabilities, rel_tol=1e-9) else ""
            raise Failed([f"with beam width {width}: the hypothesis {list(seq)} has score {score:.6g}, but "
                          f"the sum of its tokens' log-probabilities is {true:.6g}{how}"])
    mine = [s for s, _ in got]
    for rank, (seq, score) in enumerate(want):
        if rank >= len(mine) or mine[rank] != seq:
            where = f"you rank it {mine.index(seq) + 1}" if seq in mine else "it is missing from your beam"
            ending = " (it ends with <eos>: a finished hypothesis stays in the beam)" if seq[-1] == 2 else ""
            raise Failed([f"with beam width {width}: exhaustive search ranks {list(seq)} (log-probability "
                          f"{score:.4g}) number {rank + 1}; {where}{ending}",
                          f"  yours, best first: {[list(s) for s in mine[:len(want)]]}"])
    if len(mine) > len(want):
        raise Failed([f"with beam width {width}: {len(mine)} hypotheses returned, at most {len(want)} "
                      "expected"])
