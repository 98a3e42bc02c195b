"""Training a language model: truncated BPTT, Adam, clipping, a schedule, progress, checkpoints, resume.

    >>> vocab, train_ids, valid_ids = prepare_data(load_corpus("pydoc"), TrainConfig())
    >>> model = build_model(LMConfig("lstm", len(vocab), hidden=256), rng=0)
    >>> trainer = Trainer(model, vocab, train_ids, valid_ids, TrainConfig(), out_dir="out")
    >>> result = trainer.run(minutes=5)        # progress bar; Ctrl-C saves and stops cleanly

One step reads the next (T, B) chunk of the B contiguous training streams, starting from the state the
previous chunk left (detached: gradients flow back at most T steps), takes the mean cross-entropy,
back-propagates, clips the global gradient norm (the norm before clipping is recorded), and lets Adam
update the weights with the learning rate of a warm-up + cosine schedule. Every ``eval_every`` steps the
validation loss is measured and a checkpoint and the loss-curve PNG are written to ``out_dir``.

Resuming restores the weights, the optimizer's moments, the schedule, the position in the data, the
carried state and every random generator's state, so an interrupted run continues exactly as if it had
never stopped.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TextIO

import numpy as np

from tinygrad_seq.extras import MissingExtra

from ..module import Module
from ..optim import Adam, CosineWithWarmup
from ..utils import clip_grad_norm_
from .allocator import keep_freed_memory
from .checkpoint import Checkpoint, CheckpointError, restore_carry, save_checkpoint, set_generator_states
from .curves import plot_history
from .metadata import MetadataError, check_meta
from .models import (
    Evaluation,
    RecurrentLM,
    TransformerLM,
    baselines,
    chunk_loss,
    detach_state,
    evaluate,
    set_dropout,
)
from .progress import Interrupts, Progress, stop_signal
from .rundir import claim
from .sampling import generate
from .text import CorpusError, Vocab, batchify, load_corpus, text_pieces
from .threads import DEFAULT_THREADS, blas_threads

__all__ = ["TrainConfig", "TrainResult", "Trainer", "TrainingError", "dropout_for", "dropout_rule",
           "prepare_data", "trained_split"]

CHECKPOINT = "checkpoint.npz"
CURVE = "loss_curve.png"


# The dropout of a model whose LMConfig leaves it to the run (None, the default): by how many passes over
# the training text the run's planned steps make. Few passes have nothing to regularise (dropout only
# slows learning); many passes memorise the text. Chosen by measurement (docs/performance.md).
DROPOUT_BY_PASSES: tuple[tuple[float, float], ...] = ((8.0, 0.0), (16.0, 0.2), (math.inf, 0.3))


def dropout_for(passes: float) -> float:
    """The dropout for a run that makes `passes` passes over its training text (`DROPOUT_BY_PASSES`)."""
    return next(p for most, p in DROPOUT_BY_PASSES if passes <= most)


def dropout_rule() -> str:
    """`DROPOUT_BY_PASSES` in words: '0 up to 8 passes over the training text, 0.2 up to 16, 0.3 beyond'."""
    parts = [f"{p:g} up to {most:g}" if math.isfinite(most) else f"{p:g} beyond"
             for most, p in DROPOUT_BY_PASSES]
    return parts[0] + " passes over the training text, " + ", ".join(parts[1:])


class TrainingError(Exception):
    """Training cannot start or continue: bad settings, a corpus too small, a mismatched checkpoint."""


@dataclass
class TrainConfig:
    """How to train: data, optimisation, schedule, validation. Saved in the checkpoint's metadata."""

    # Each kind of model's own defaults where they differ from the fields' (chosen by measurement: see
    # benchmarks/lm_sweep.py and its table in the docs); `TrainConfig.defaults(kind)` applies them.
    PER_KIND: ClassVar[dict[str, dict[str, Any]]] = {
        "rnn": {"lr": 2e-3}, "lstm": {}, "gru": {"lr": 4e-3},
        "transformer": {"lr": 1e-3, "seq_len": 64, "batch_size": 12, "warmup": 100, "clip": 1.0},
    }

    corpus: str = "pydoc"
    level: str = "char"
    seq_len: int = 32
    batch_size: int = 64
    lr: float = 8e-3
    clip: float = 5.0
    warmup: int = 50
    schedule: str = "cosine"  # "cosine": warm-up, then down to min_lr_ratio * lr; "constant": warm-up only
    min_lr_ratio: float = 0.1
    valid_fraction: float = 0.1
    eval_every: int = 100
    eval_tokens: int | None = 10_000  # validate on this many tokens during training (all at the end)
    eval_batch: int = 64
    seed: int = 0
    min_freq: int = 1
    max_vocab: int | None = None
    lower: bool = False

    def __post_init__(self) -> None:
        try:
            self._check()
        except TypeError:  # a crafted or damaged checkpoint: a string where a number belongs
            raise TrainingError(f"training settings of the wrong type: {asdict(self)}") from None

    def _check(self) -> None:
        checks = [
            (self.level in ("char", "word"), f"level must be 'char' or 'word', got {self.level!r}"),
            (self.schedule in ("cosine", "constant"),
             f"schedule must be cosine or constant, got {self.schedule!r}"),
            (self.seq_len >= 1 and self.batch_size >= 1, "seq-len and batch-size must be >= 1"),
            (all(isinstance(v, int | float) and math.isfinite(v) for v in
                 (self.lr, self.clip, self.min_lr_ratio, self.valid_fraction)),
             f"lr, clip, min-lr-ratio and valid-fraction must be finite numbers, got {self.lr}, {self.clip}, "
             f"{self.min_lr_ratio} and {self.valid_fraction}"),
            (self.lr > 0 and self.clip > 0, f"lr and clip must be > 0, got {self.lr} and {self.clip}"),
            (self.warmup >= 0 and self.eval_every >= 1, "warmup must be >= 0 and eval-every >= 1"),
            (0 < self.valid_fraction < 1, f"valid-fraction must be in (0, 1), got {self.valid_fraction}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (self.min_freq >= 1, f"min-freq must be >= 1, got {self.min_freq}"),
            (self.max_vocab is None or self.max_vocab >= 2,
             f"max-vocab counts <unk> and <eos>, so it must be >= 2, got {self.max_vocab}"),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainingError(message)

    @classmethod
    def defaults(cls, kind: str) -> dict[str, Any]:
        """The settings a model of `kind` trains with unless told (the kind's own, else the field's)."""
        if kind not in cls.PER_KIND:
            raise TrainingError(f"no training defaults for a model of kind {kind!r}")
        return dict(cls.PER_KIND[kind])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        if not isinstance(d, dict):
            raise TrainingError(f"training settings must be a mapping, got {type(d).__name__}")
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in fields(cls)}})


def split_text(text: str, valid_fraction: float) -> tuple[str, str]:
    """(training text, validation text): the last `valid_fraction` held out, cut at a line break."""
    cut = int(len(text) * (1 - valid_fraction))
    line_end = text.rfind("\n", 0, cut)
    if line_end > len(text) // 2:
        cut = line_end + 1
    return text[:cut], text[cut:]


def prepare_data(text: str, config: TrainConfig, vocab: Vocab | None = None,
                 progress: Callable[[int, int], None] | None = None) -> tuple[Vocab, np.ndarray, np.ndarray]:
    """(vocab, train ids, valid ids): the text cut at a line break, the last ``valid_fraction`` held out.

    Characters: every character of the whole text (so held-out text always encodes). Words: the
    vocabulary of the training part only (``min_freq``, ``max_vocab``, ``lower``), so held-out words
    never seen in training are ``<unk>``, as they would be for new text. Given a `vocab` (a
    checkpoint's), the text is encoded with it instead of building one. ``progress(done, total)``
    follows the encoding, in characters.
    """
    train_text, valid_text = split_text(text, config.valid_fraction)
    if vocab is not None:
        pass
    elif config.level == "char":
        vocab = Vocab.chars(text)
    else:
        vocab = Vocab.words(train_text, min_freq=config.min_freq, max_size=config.max_vocab,
                            lower=config.lower)
    total = len(train_text) + len(valid_text)

    def after(start: int) -> Callable[[int, int], None] | None:  # progress over both parts as one
        return None if progress is None else lambda done, _: progress(start + done, total)

    train_ids = vocab.encode(train_text, after(0), dtype=np.int32)  # 4 bytes a token: a corpus of 200 MB
    valid_ids = vocab.encode(valid_text, after(len(train_text)), dtype=np.int32)  # of text is 800 MB of ids
    need = 2 * config.batch_size + 1
    if len(train_ids) < need or len(valid_ids) < 2:
        raise TrainingError(
            f"the corpus is too small: {len(train_ids)} training and {len(valid_ids)} validation tokens; "
            f"batch size {config.batch_size} needs at least {need} training tokens and 2 validation tokens")
    return vocab, train_ids, valid_ids


def fingerprint(text: str) -> str:
    """A short hash of the corpus, saved in the checkpoint so a resume can tell if the text changed."""
    digest = hashlib.sha256()
    for piece in text_pieces(text):  # the same digest as of the whole text, without a copy of it
        digest.update(piece.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def trained_split(ckpt: Checkpoint, vocab: Vocab, train_cfg: TrainConfig) -> tuple[Any, Any, str, str]:
    """(train ids, valid ids, validation text, "") of the corpus the model was trained on, read with the
    checkpoint's own vocabulary; (None, None, "", why) if that corpus cannot be loaded or is no longer the
    text trained on."""
    try:
        text = load_corpus(train_cfg.corpus)
    except CorpusError as error:
        return None, None, "", f"the training corpus could not be loaded ({error})"
    saved = ckpt.meta.get("corpus_fingerprint")
    now = fingerprint(text)
    try:
        if saved and now != saved or not saved and prepare_data(text, train_cfg)[0] != vocab:
            return None, None, "", (f"the corpus {train_cfg.corpus!r} changed since this model was trained "
                                    f"(fingerprint {now}, the checkpoint's {saved or 'not recorded'})")
        _, train_ids, valid_ids = prepare_data(text, train_cfg, vocab=vocab)
    except TrainingError as error:
        return None, None, "", str(error)
    return train_ids, valid_ids, split_text(text, train_cfg.valid_fraction)[1], ""


@dataclass
class TrainResult:
    """How a run ended: its last step, whether a signal stopped it, where it wrote, and the final numbers."""

    step: int
    interrupted: bool
    checkpoint: str
    curve: str | None
    history: dict[str, Any]
    evaluation: Evaluation | None = None
    baselines: dict[str, Evaluation] = field(default_factory=dict)
    sample: str = ""
    signal: int = 0  # the signal that stopped it (SIGINT, SIGTERM, SIGHUP), 0 if none


class Trainer:
    """Holds one training run: model, optimizer, schedule, data position, carried state, history.

    Build it fresh, or with `Trainer.resume(checkpoint, ...)` from a checkpoint; then `run(steps=...,
    minutes=...)`. ``out_dir`` receives ``checkpoint.npz`` and ``loss_curve.png``.
    """

    def __init__(self, model: Module, vocab: Vocab, train_ids: np.ndarray, valid_ids: np.ndarray,
                 config: TrainConfig, out_dir: str | os.PathLike, stream: TextIO | None = None,
                 corpus_fingerprint: str = "") -> None:
        self.model, self.vocab, self.config = model, vocab, config
        self.valid_ids, self.train_ids = valid_ids, train_ids
        self.out_dir = os.fspath(out_dir)
        self.stream = stream if stream is not None else sys.stdout
        self.fingerprint = corpus_fingerprint
        T = config.seq_len
        if model.context is not None and T > model.context:
            raise TrainingError(f"seq-len {T} exceeds the Transformer's context {model.context}")
        self.data = batchify(train_ids, config.batch_size)  # (n, B)
        self.starts = list(range(0, len(self.data) - 1, T))
        self.params = list(model.parameters())
        self.optimizer = Adam(self.params, lr=config.lr)
        self.schedule: CosineWithWarmup | None = None
        self.warmup, self.planned = 0, 0
        self.step, self.position, self.epoch, self.carry = 0, 0, 0, None
        self.seconds, self.tokens = 0.0, 0
        self.history: dict[str, list[float]] = {k: [] for k in
                                                ("step", "loss", "grad_norm", "lr", "val_step", "val_loss")}
        self._trigram: float | None = None
        self.saved_step: int | None = None  # the step of the checkpoint on disk, once this run wrote one
        self.clock = time.perf_counter  # what `run(minutes=)` counts: wall or CPU time (cpu_time=True)
        self.curve_skipped = ""  # why the loss-curve PNG is not drawn (said once), or "" while it is

    # ------------------------------------------------------------------------------------ saving

    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.out_dir, CHECKPOINT)

    @property
    def curve_path(self) -> str:
        return os.path.join(self.out_dir, CURVE)

    def meta(self) -> dict[str, Any]:
        return {
            "step": self.step, "epoch": self.epoch, "position": self.position, "train": asdict(self.config),
            "schedule": {"warmup": self.warmup, "planned": self.planned,
                         **(self.schedule.state_dict() if self.schedule else {})},
            "seconds": self.seconds, "tokens": self.tokens, "history": self.history,
            "corpus_fingerprint": self.fingerprint, "trigram_valid": self._trigram,
        }

    def save(self) -> None:
        """Write the checkpoint (atomically) and the loss-curve PNG; refused if a weight is not finite."""
        if not all(np.isfinite(p.data).all() for p in self.params):
            self._stop_unless_finite("weights", math.nan, self.step)
        save_checkpoint(self.checkpoint_path, self.model, self.vocab, self.optimizer, self.carry,  # type: ignore[arg-type]
                        self.meta())
        self.saved_step = self.step
        self.plot()

    def plot(self) -> str | None:
        if not self.history["step"]:
            return None
        c = self.model.config
        title = (f"{c.model} LM, {c.hidden} hidden x {c.layers}, {self.config.level} level: "
                 f"{self.config.corpus}")
        trigram = self._trigram
        baseline = ("trigram", trigram) if trigram is not None and math.isfinite(trigram) else None
        tokens = min(self.config.eval_tokens or len(self.valid_ids), len(self.valid_ids))
        try:
            plot_history(self.history, self.curve_path, clip=self.config.clip, baseline=baseline,
                         title=title, valid_tokens=tokens)
        except MissingExtra as error:  # training goes on without the picture
            if not self.curve_skipped:
                print(f"{error}; the loss curve is skipped", file=self.stream, flush=True)
            self.curve_skipped = str(error)
            return None
        return self.curve_path

    @classmethod
    def resume(cls, ckpt: Checkpoint, model: Module, train_ids: np.ndarray, valid_ids: np.ndarray,
               out_dir: str | os.PathLike, stream: TextIO | None = None,
               corpus_fingerprint: str = "") -> Trainer:
        """A trainer in the state the checkpoint recorded; `model` must already hold its weights."""
        try:
            check_meta(ckpt.meta, resume=True)
        except MetadataError as error:
            raise CheckpointError(f"{ckpt.path!r} cannot be resumed ({error})") from None
        config = TrainConfig.from_dict(ckpt.meta["train"])
        self = cls(model, ckpt.vocab, train_ids, valid_ids, config, out_dir, stream, corpus_fingerprint)
        meta = ckpt.meta
        saved = meta.get("corpus_fingerprint")
        if saved and corpus_fingerprint and saved != corpus_fingerprint:
            raise TrainingError(f"the corpus {config.corpus!r} is not the text this checkpoint was trained "
                                "on (its contents changed); train a new model in another --out directory")
        try:
            self.optimizer.load_state_dict(ckpt.optim_state)
        except (KeyError, ValueError, TypeError) as error:  # StateDictError is a KeyError
            raise CheckpointError(f"the optimizer state does not fit this model ({error.args[0]})") from None
        set_generator_states(model, meta["generators"])
        self.step, self.epoch, self.position = meta["step"], meta["epoch"], meta["position"]
        self.seconds, self.tokens, self.history = meta["seconds"], meta["tokens"], meta["history"]
        self._trigram = meta.get("trigram_valid")
        self.saved_step = self.step
        if self.position >= len(self.starts):
            raise CheckpointError(f"{ckpt.path!r}: position {self.position} is past the {len(self.starts)} "
                                  "chunks of the training data")
        self.carry = restore_carry(ckpt, config.batch_size)
        sched = meta["schedule"]
        self.warmup, self.planned = sched["warmup"], sched["planned"]
        if "last_step" in sched:
            self._build_schedule(self.planned)
            assert self.schedule is not None
            try:
                self.schedule.load_state_dict(sched)
            except KeyError as error:
                raise CheckpointError(f"{ckpt.path!r}: the schedule lacks {error}") from None
        return self

    # ---------------------------------------------------------------------------------- schedule

    def _build_schedule(self, planned: int) -> None:
        """Warm-up then cosine over `planned` steps (or a constant rate), continuing from `self.step`."""
        cfg = self.config
        self.planned = max(planned, self.warmup + 1)
        self.optimizer.lr = cfg.lr
        if cfg.schedule == "cosine":
            self.schedule = CosineWithWarmup(self.optimizer, self.warmup, self.planned,
                                             cfg.lr * cfg.min_lr_ratio)
        else:
            self.schedule = CosineWithWarmup(self.optimizer, self.warmup, self.warmup + 1, cfg.lr)
        self.schedule.last_step = self.step
        self.optimizer.lr = self.schedule.get_lr()

    def _probe_seconds(self) -> float:
        """Seconds for one forward and backward pass of a training chunk (weights left unchanged)."""
        x, y = self._chunk(self.position)
        self.model.eval()  # no dropout: the probe must not draw from the generators
        t0 = self.clock()
        loss, _ = chunk_loss(self.model, x, y, self.carry)
        loss.backward()
        seconds = self.clock() - t0
        self.model.train()
        self.optimizer.zero_grad()
        return seconds

    # ---------------------------------------------------------------------------------- stepping

    def _chunk(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        start = self.starts[position]
        T = min(self.config.seq_len, len(self.data) - 1 - start)
        return self.data[start:start + T], self.data[start + 1:start + 1 + T]  # (T, B) each

    def train_step(self, interrupts: Interrupts | None = None) -> tuple[float, float]:
        """One step of truncated BPTT; returns (loss, gradient norm before clipping)."""
        self.model.train()
        x, y = self._chunk(self.position)
        self.optimizer.zero_grad()
        loss, state = chunk_loss(self.model, x, y, self.carry)
        value = float(loss.item())
        self._stop_unless_finite("loss", value, self.step + 1)
        loss.backward()
        norm = clip_grad_norm_(self.params, self.config.clip)
        self._stop_unless_finite("gradient norm", norm, self.step + 1)
        lr = self.optimizer.lr
        if interrupts is not None:
            interrupts.committing = True
        self.optimizer.step()
        assert self.schedule is not None  # planned by run()
        self.schedule.step()
        self.carry = detach_state(state)
        self.position += 1
        if self.position == len(self.starts):  # an epoch is over: start the streams again from scratch
            self.position, self.epoch, self.carry = 0, self.epoch + 1, None
        self.step += 1
        self.tokens += x.size
        for key, v in (("step", self.step), ("loss", value), ("grad_norm", norm), ("lr", lr)):
            self.history[key].append(v)
        if interrupts is not None:
            interrupts.commit_done()
        return value, norm

    def _stop_unless_finite(self, what: str, value: float, step: int) -> None:
        """Like `detect_anomaly` for the loop: a NaN or infinite loss, gradient or weight stops training
        with a TrainingError naming the step; nothing non-finite is applied or saved."""
        if math.isfinite(value):
            return
        kept = ("no checkpoint was written" if self.saved_step is None else
                f"the checkpoint in {self.out_dir!r} keeps step {self.saved_step}")
        raise TrainingError(f"the {what} became {value} at step {step}; training stopped without saving it, "
                            f"and {kept}. Try a lower --lr or --clip")

    def validate(self, tokens: int | None = None) -> Evaluation:
        """The model's loss on (the first `tokens` of) the validation split; recorded in the history."""
        ids = self.valid_ids if tokens is None else self.valid_ids[: max(tokens, 2)]
        return evaluate(self.model, ids, batch_size=self.config.eval_batch, unk_id=self.vocab.unk_id)

    def trigram(self) -> float:
        """The trigram baseline's loss on the validation tokens used during training (computed once)."""
        if self._trigram is None:
            ids = self.valid_ids[: self.config.eval_tokens] if self.config.eval_tokens else self.valid_ids
            found = baselines(self.train_ids, ids, len(self.vocab))
            self._trigram = found["trigram"].loss if "trigram" in found else math.nan
        return self._trigram

    # ----------------------------------------------------------------------------------- running

    def run(self, steps: int | None = None, minutes: float | None = None, sample_length: int = 300,
            progress: bool = True, threads: int | None = DEFAULT_THREADS,
            cpu_time: bool = False) -> TrainResult:
        """Train until the step count reaches `steps` (a total), or `minutes` have passed, or a signal.

        `minutes` are wall-clock minutes, or with ``cpu_time=True`` minutes of this process's CPU time
        (`time.process_time`, all its threads): on a loaded machine a CPU-time budget buys the same
        training as on an idle one (one BLAS thread: CPU seconds are the seconds of one core). The
        learning rate warms up and then decays (cosine) to end with the budget, re-planned as the speed
        is learned.

        Then measure the whole validation split next to the count baselines, draw a sample, and save
        the checkpoint and the loss curve. After Ctrl-C, SIGTERM or SIGHUP only the checkpoint and curve
        are written. This is the one place a run sets its BLAS threads (`threads`, one by default: see
        nn/lm/threads.py; None: unchanged) and holds its output directory (`nn.lm.rundir.claim`; a
        caller that claimed it first, as the command does before reading the corpus, keeps it).
        """
        self.clock = time.process_time if cpu_time else time.perf_counter
        keep_freed_memory()  # the next step reuses this step's buffers (nn/lm/allocator.py)
        with blas_threads(threads), claim(self.out_dir):
            steps, deadline = self._plan(steps, minutes)
            first = self.step
            stopped = self._loop(steps, deadline, progress)
            return self._finish(first, stopped, sample_length)

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _plan(self, steps: int | None, minutes: float | None) -> tuple[int | None, float]:
        """(the step to stop at or None, the deadline): the schedule planned for a fresh run, the count
        baseline computed; a timed run estimates its steps from one probe step."""
        if steps is None and minutes is None:
            steps = self.planned or 1000
        if steps is not None and steps <= self.step:
            raise TrainingError(
                f"the checkpoint is already at step {self.step}; ask for more --steps than that")
        self.trigram()  # counted before the clock starts: the budget is the model's
        deadline = self.clock() + 60 * minutes if minutes is not None else math.inf
        if self.schedule is None:  # a fresh run: plan the schedule
            if steps is not None:
                planned = steps
            else:
                assert minutes is not None  # run() needs steps or minutes
                planned = max(1, int(60 * minutes / max(self._probe_seconds() * 1.15, 1e-6)))
            self.warmup = min(self.config.warmup, planned // 10)
            self._build_schedule(planned)
            self._choose_dropout(planned)
        elif steps is not None and steps > self.planned and self.config.schedule == "cosine":
            self._say(f"note: the schedule was planned for {self.planned} steps; beyond them the learning "
                      f"rate stays at {self.schedule.lr_at(self.planned + 1):.2g}")
        return steps, deadline

    def _choose_dropout(self, planned: int) -> None:
        """A fresh run of a model whose config leaves dropout to the run (None) sets it from the passes
        over the training text that `planned` steps make (`dropout_for`), and says so."""
        model = self.model
        if not isinstance(model, (RecurrentLM, TransformerLM)) or model.config.dropout is not None:
            return
        passes = planned * self.config.batch_size * self.config.seq_len / max(len(self.train_ids), 1)
        p = dropout_for(passes)
        set_dropout(model, p)
        self._say(f"dropout {p:g}: {planned:,} planned steps read the training text about {passes:.1f} times")

    def _loop(self, steps: int | None, deadline: float, progress: bool) -> int:
        """Train steps until `steps` or `deadline`, validating and saving every ``eval_every`` steps (a
        timed run re-plans its schedule as it learns its speed); returns the signal that stopped it, or 0.
        """
        began, session_steps, tok_s = self.clock(), 0, 0.0
        # a timed run's bar measures this session's time against its budget (from now to the deadline)
        budget = deadline - began if steps is None and deadline < math.inf else None
        bar = Progress(self.stream, (steps or self.planned) if progress else None, self.step, seconds=budget)
        val = self.history["val_loss"][-1] if self.history["val_loss"] else None
        tokens_per_step = self.data.shape[1] * self.config.seq_len
        try:
            with Interrupts(bar.write) as interrupts:
                while (steps is None or self.step < steps) and self.clock() < deadline:
                    t0 = self.clock()
                    loss, norm = self.train_step(interrupts)
                    speed = tokens_per_step / max(self.clock() - t0, 1e-9)
                    tok_s = 0.9 * tok_s + 0.1 * speed if tok_s else speed  # smoothed
                    session_steps += 1
                    validating = self.step % self.config.eval_every == 0
                    if validating:
                        val = self.validate(self.config.eval_tokens).loss
                        self.history["val_step"].append(self.step)
                        self.history["val_loss"].append(val)
                    self.seconds += self.clock() - t0
                    per_step = (self.clock() - began) / session_steps
                    if steps is None and (session_steps == 20 or validating):  # re-plan a timed run
                        self._replan(self.step + int((deadline - self.clock()) / per_step))
                        bar.set_total(self.planned)
                    stats = {"loss": loss, "val": val, "tok_s": tok_s, "lr": self.optimizer.lr, "norm": norm}
                    bar.update(self.step, steps or self.planned, stats, self._eta(steps, deadline, per_step),
                               force=validating, elapsed=self.clock() - began)
                    if validating and self.step != steps:  # the last step saves after the final evaluation
                        self.save()
                    if interrupts.count:
                        return interrupts.signum
        except KeyboardInterrupt as stop:
            return stop_signal(stop)
        finally:
            bar.close()
        return 0

    def _finish(self, first: int, stopped: int, sample_length: int) -> TrainResult:
        """The end of a run: unless a signal `stopped` it, the whole validation split next to the
        baselines (a signal here skips them); then the checkpoint, written whole whatever arrives; then
        a sample."""
        result = TrainResult(self.step, bool(stopped), self.checkpoint_path, self.curve_path, self.history,
                             signal=int(stopped))
        if not stopped and self.step > first:
            try:
                result.evaluation = self.validate()
                if self.history["val_step"][-1:] != [self.step]:  # the curve's last point, on its tokens
                    whole = self.config.eval_tokens is None or self.config.eval_tokens >= len(self.valid_ids)
                    point = result.evaluation if whole else self.validate(self.config.eval_tokens)
                    self.history["val_loss"].append(point.loss)
                    self.history["val_step"].append(self.step)
                result.baselines = baselines(self.train_ids, self.valid_ids, len(self.vocab))
            except KeyboardInterrupt as stop:
                result.interrupted, result.evaluation, result.signal = True, None, stop_signal(stop)
        with Interrupts(self._say) as last:
            last.committing = True  # a signal now waits: the last checkpoint is written whole
            self.save()
        result.curve = None if self.curve_skipped else result.curve
        if sample_length and not result.interrupted:
            result.sample = generate(self.model, self.vocab, "", sample_length, temperature=0.8, seed=0)
        return result

    def _replan(self, planned: int) -> None:
        """Stretch or shrink the cosine to end at `planned` (a timed run learns its speed as it goes).

        The cosine continues from the current step and rate (`CosineWithWarmup.stretch`): the learning
        rate never rises again when the estimate grows.
        """
        if self.config.schedule != "cosine" or planned <= max(self.step, self.warmup) + 1 \
                or planned == self.planned:
            return
        self.planned = planned
        if self.schedule is not None:
            self.schedule.stretch(planned)

    def _eta(self, steps: int | None, deadline: float, per_step: float) -> float | None:
        by_steps = (steps - self.step) * per_step if steps is not None else math.inf
        left = min(by_steps, deadline - self.clock())
        return None if math.isinf(left) else left
