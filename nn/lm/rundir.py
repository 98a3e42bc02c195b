"""The output directory of a training run: one run at a time, writable before the first step, no stale
temporary files.

    >>> with claim("out/run"):      # RunDirError (naming the other run's PID) if a run already uses it
    ...     trainer.run(minutes=5)

The lock is an advisory `flock` on ``DIR/.lock``, which holds the PID of the run that has it; the kernel
releases it when that process ends in any way (even ``kill -9``), so a lock is never stale. Temporary
files (``.tmp-*``) that a killed run left behind are removed once the lock is taken: no other writer can
own them then. Claiming a directory this process already holds is a no-op (the CLI and `Trainer.run`
both claim).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from ..module import TMP_PREFIX

try:
    import fcntl
except ImportError:  # not POSIX: no locking
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK", "RunDirError", "claim"]

LOCK = ".lock"
_held: dict[str, int] = {}  # resolved directory -> how many claims of this process hold it


class RunDirError(Exception):
    """The output directory cannot be used: another run holds it, or it cannot be written."""


@contextlib.contextmanager
def claim(directory: str | os.PathLike) -> Iterator[str]:
    """Hold `directory` for one run (made if needed): locked, checked writable, stale temporaries removed."""
    path = os.path.realpath(directory)
    if path in _held:
        _held[path] += 1
        try:
            yield path
        finally:
            _held[path] -= 1
        return
    shown = os.fspath(directory)
    fd = _lock(path, shown)
    try:
        _check_writable(path, shown)
        _remove_stale(path)
        _held[path] = 1
        yield path
    finally:
        _held.pop(path, None)
        os.close(fd)  # releases the lock


def _lock(path: str, shown: str) -> int:
    try:
        os.makedirs(path, exist_ok=True)
        fd = os.open(os.path.join(path, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise RunDirError(f"cannot write to the output directory {shown!r} ({error.strerror}); "
                          "choose another --out") from None
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunDirError(f"{shown!r} is in use by another training run (PID {other}); wait for it to "
                              "finish, or choose another --out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _check_writable(path: str, shown: str) -> None:
    """Create and remove a file, as a checkpoint write will: found now, not after an hour of training."""
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=TMP_PREFIX)
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise RunDirError(f"cannot write to the output directory {shown!r} ({error.strerror}); "
                          "choose another --out") from None


def _remove_stale(path: str) -> None:
    for name in os.listdir(path):
        if name.startswith(TMP_PREFIX):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(path, name))
