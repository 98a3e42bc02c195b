"""The output directory of a training run: one run at a time, writable before the first step, no stale
temporary files.

    >>> with claim("out/run"):      # RunDirError (naming the other run's PID) if a run already uses it
    ...     trainer.run(minutes=5)

The lock is an advisory `flock` on ``DIR/.lock``, which holds the PID of the run that has it; the kernel
releases it when that process ends in any way (even ``kill -9``), so a lock is never stale. The lock is
opened without following a symbolic link (``O_NOFOLLOW``) and must be a regular file, so a link planted
in the directory never makes a run write outside it. Temporary files that a killed run left behind are
removed once the lock is taken: only `atomic_write`'s own names (``.tinygrad-seq-tmp.<PID>.*``) whose
writer is no longer running (`nn.module.is_stale_temporary`); a user's files are never touched.
Claiming a directory this process already holds is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator

from ..module import is_stale_temporary, temporary_prefix

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
    """Hold `directory` for one run (made if needed): locked, checked writable, stale temporaries removed.

    A directory it made is removed again if the run wrote nothing into it (a corpus that failed to load
    leaves no ``--out`` behind)."""
    path = os.path.realpath(directory)
    if path in _held:
        _held[path] += 1
        try:
            yield path
        finally:
            _held[path] -= 1
        return
    shown = os.fspath(directory)
    created = not os.path.isdir(path)
    fd = _lock(path, shown)
    try:
        _check_writable(path, shown)
        _remove_stale(path)
        _held[path] = 1
        yield path
    finally:
        _held.pop(path, None)
        if created and os.listdir(path) == [LOCK]:  # nothing was written (a corpus failed to load): no trace
            with contextlib.suppress(OSError):
                os.remove(os.path.join(path, LOCK))
                os.rmdir(path)
        os.close(fd)  # releases the lock


def _lock(path: str, shown: str) -> int:
    lock = os.path.join(path, LOCK)
    try:
        os.makedirs(path, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if os.path.islink(lock):
            raise RunDirError(f"{os.path.join(shown, LOCK)!r} is a symbolic link, not this project's lock "
                              "file; remove it (a run never follows links in its directory)") from None
        raise RunDirError(f"cannot write to the output directory {shown!r} ({error.strerror}); "
                          "choose another --out") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RunDirError(f"{os.path.join(shown, LOCK)!r} is not a regular file, so not this project's lock; "
                          "remove it, or choose another --out")
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
        fd, probe = tempfile.mkstemp(dir=path, prefix=temporary_prefix())
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise RunDirError(f"cannot write to the output directory {shown!r} ({error.strerror}); "
                          "choose another --out") from None


def _remove_stale(path: str) -> None:
    for name in os.listdir(path):
        if is_stale_temporary(name):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(path, name))
