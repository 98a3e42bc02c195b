"""The console side of training: a progress bar (or plain lines), Ctrl-C, SIGTERM or SIGHUP handled in two
stages, and an output stream that never ends a run (`Output`).

    >>> bar = Progress(sys.stdout, total=1000, initial=0)
    >>> with Interrupts(bar.write) as interrupts:
    ...     while not interrupts.count:
    ...         ...; interrupts.committing = True; optimizer.step(); interrupts.commit_done()
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from tinygrad_seq.extras import MissingExtra, install_hint, require

__all__ = [
    "STOP_SIGNALS", "Interrupts", "NotebookLine", "Output", "Progress", "Terminated", "in_notebook",
    "raise_terminated", "stop_signal", "work_bar",
]

# Ctrl-C; what `timeout`, schedulers and `docker stop` send; a closed terminal or SSH session
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else []))


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


def raise_terminated(signum: int, frame: Any) -> None:
    """A SIGTERM / SIGHUP handler: stop the way Ctrl-C stops (``try/finally`` blocks run; the caller may
    save)."""
    raise Terminated(signum)


def stop_signal(stop: BaseException) -> int:
    """The signal behind a KeyboardInterrupt: its ``signum`` if it is `Terminated`, SIGINT otherwise."""
    return stop.signum if isinstance(stop, Terminated) else signal.SIGINT


class Output:
    """A text stream that never ends a run: what its encoding cannot hold is printed as escapes
    (``\\uc548``), and once its reader is gone (``train ... | head``, a closed terminal) everything
    written to it is dropped silently (``lost`` turns True), so training goes on and saves.

        >>> sys.stdout = Output(sys.stdout)
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.lost = stream, False

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                self.stream.write(text)
            except UnicodeEncodeError:
                encoding = getattr(self.stream, "encoding", None) or "ascii"
                self._guard(lambda: self.stream.write(
                    text.encode(encoding, "backslashreplace").decode(encoding)))
            except OSError as error:
                self._lose(error)
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            self._guard(self.stream.flush)

    def _guard(self, write: Any) -> None:
        try:
            write()
        except OSError as error:
            self._lose(error)

    def _lose(self, error: OSError) -> None:
        """The reader is gone (EPIPE, or EIO from a hung-up terminal): point the descriptor at /dev/null,
        so that the interpreter's own last flush is silent too."""
        if error.errno not in (errno.EPIPE, errno.EIO, errno.ENXIO):
            raise error
        self.lost = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # a stream without a descriptor (a StringIO)
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class Interrupts:
    """Ctrl-C, SIGTERM or SIGHUP during training: the first asks to stop after the current step and save,
    a second stops now.

    A second signal while the optimizer is writing the weights waits until it has finished, so a
    checkpoint never holds half an update. ``signum`` is the last signal received (0 if none). Only the
    main thread can receive signals; elsewhere this does nothing (a KeyboardInterrupt raised by other
    means is still handled by the training loop).
    """

    SIGNALS = STOP_SIGNALS

    def __init__(self, say: Any) -> None:
        self.count, self.signum, self.committing, self.say = 0, 0, False, say
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        self.signum = signum
        if self.count == 1:
            name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
            self.say(f"\n{name}: stopping after this step and saving a checkpoint (again to stop now)")
        elif not self.committing:
            raise self._stop()

    def _stop(self) -> KeyboardInterrupt:
        return KeyboardInterrupt() if self.signum == signal.SIGINT else Terminated(self.signum)

    def commit_done(self) -> None:
        self.committing = False
        if self.count >= 2:
            raise self._stop()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where output is shown live, although the stream is not a terminal)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _tqdm() -> Any:
    """tqdm's text bar class, or None without tqdm (in a notebook too: see `NotebookLine`)."""
    try:
        return require("tqdm.std", "the progress bar").tqdm
    except MissingExtra:
        return None


def _wants_bar(stream: TextIO) -> bool:
    """A bar is drawn on a terminal, and in a Jupyter kernel on its own output (stdout or stderr); a pipe
    or a file gets plain lines."""
    if getattr(stream, "isatty", lambda: False)():
        return True
    return in_notebook() and getattr(stream, "stream", stream) in (sys.stdout, sys.stderr)


def _bar_place(stream: TextIO) -> dict[str, Any]:
    """tqdm's file and width for the bar that `_wants_bar(stream)` asked for: the terminal at its width,
    or a `NotebookLine` at tqdm's fixed width (the same line on every machine)."""
    if getattr(stream, "isatty", lambda: False)():
        return {"file": stream, "dynamic_ncols": True}
    return {"file": NotebookLine(), "dynamic_ncols": False}


class NotebookLine:
    """A bar's file in a Jupyter kernel: one text output that each frame replaces (an IPython display
    updated in place by its id), so the bar moves in a live notebook and a saved notebook holds its last
    frame only, one line with no carriage returns, as a code host or the docs site shows it."""

    encoding = "utf-8"  # tqdm draws its bar with block characters

    def __init__(self) -> None:
        from IPython.display import display

        self.shown = ""
        self.handle = display({"text/plain": ""}, raw=True, display_id=True)

    def write(self, text: str) -> int:
        """tqdm writes each frame as ``"\\r" + frame + padding``; a bare newline (when closed) keeps it."""
        if "\r" in text or text.strip():
            frame = text.rpartition("\r")[2].rstrip()
            if frame != self.shown:
                self.shown = frame
                self.handle.update({"text/plain": frame}, raw=True)
        return len(text)

    def flush(self) -> None:
        """Nothing to flush: each write is sent to the notebook as it comes."""


class Progress:
    """A tqdm bar (steps, loss, tokens/s, ETA) in a terminal or a notebook (there one output updated in
    place, `NotebookLine`); plain periodic lines elsewhere.

    Without tqdm (the ``lm`` extra) the plain lines are used everywhere, and a terminal or notebook is
    told once how to get the bar. A timed run (`seconds`, the budget) measures elapsed time against the
    budget, a total that never moves, and shows the step count beside it: its number of steps is only
    an estimate, re-made as the run goes.
    """

    def __init__(self, stream: TextIO, total: int | None, initial: int, every_seconds: float = 10.0,
                 seconds: float | None = None) -> None:
        self.stream, self.every, self.last_line, self.seconds = stream, every_seconds, -math.inf, seconds
        self.bar = None
        if _wants_bar(stream):
            tqdm = _tqdm()
            if tqdm is None:
                print(f"(progress as plain lines: tqdm is not installed; for a progress bar: "
                      f"{install_hint('tqdm')})", file=stream, flush=True)
                return
            place = _bar_place(stream)
            if seconds is not None:  # elapsed of the budget: whole seconds, the total fixed
                self.bar = tqdm(total=max(1, round(seconds)), initial=0, unit="s", **place,
                                bar_format="{l_bar}{bar}| {n}s of {total}s{postfix}")
                return
            self.bar = tqdm(total=total, initial=initial, unit="step", **place,
                            smoothing=0.05,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")

    def set_total(self, total: int) -> None:
        if self.bar is not None and self.seconds is None:  # a timed bar's total is its budget
            self.bar.total = total
            self.bar.refresh()

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def update(self, step: int, total: int | None, stats: dict[str, float], eta: float | None,
               force: bool = False, elapsed: float | None = None) -> None:
        """Show step `step` of `total`; a timed run also passes `elapsed`, the seconds since it began."""
        loss, val, tok_s = stats["loss"], stats.get("val"), stats["tok_s"]
        budget = f"{_duration(elapsed)} of {_duration(self.seconds)}" \
            if self.seconds is not None and elapsed is not None else None
        timed = budget is not None
        if self.bar is not None:
            if elapsed is not None and timed:
                self.bar.update(min(int(elapsed), self.bar.total) - self.bar.n)
            else:
                self.bar.update(step - self.bar.n)
            parts = [f"step {step}"] if timed else []
            parts += [f"loss {loss:.3f}"] + ([f"val {val:.3f}"] if val is not None else [])
            parts.append(f"{tok_s:,.0f} tok/s")
            self.bar.set_postfix_str(", ".join(parts), refresh=False)
            return
        now = time.perf_counter()
        if not force and now - self.last_line < self.every:
            return
        self.last_line = now
        of = f"/{total}" if total and not timed else ""  # a timed run's number of steps is an estimate
        line = [f"step {step}{of}"] + ([budget] if budget is not None else [])
        line += [f"loss {loss:.3f}"] + ([f"val {val:.3f}"] if val is not None else [])
        line += [f"lr {stats['lr']:.2e}", f"|g| {stats['norm']:.2f}", f"{tok_s:,.0f} tok/s"]
        line += [f"eta {_duration(eta)}"] if eta is not None else []
        print(" | ".join(line), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


WORK_BAR_TOKENS = 100_000  # work on fewer tokens is done in a few seconds: no bar


@contextlib.contextmanager
def work_bar(stream: TextIO, total: int, desc: str) -> Iterator[Callable[[int], None]]:
    """A bar over `total` tokens for long work that is not training (`eval`, `score --file`): yields the
    function that advances it by n tokens. Shown on a terminal or in a notebook, with tqdm, for at least
    WORK_BAR_TOKENS tokens; otherwise the function does nothing. The bar is removed when done."""
    tqdm = _tqdm() if total >= WORK_BAR_TOKENS and _wants_bar(stream) else None
    if tqdm is None:
        yield lambda n: None
        return
    bar = tqdm(total=total, desc=desc, unit="tok", unit_scale=True, **_bar_place(stream),
               leave=False)
    try:
        yield bar.update
    finally:
        bar.close()


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
