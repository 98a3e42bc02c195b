"""Module and Parameter: ordered registration, state dicts, evaluation mode, and atomic file writes."""

from __future__ import annotations

import contextlib
import math
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

import numpy as np

from tinygrad_seq import habits
from tinygrad_seq.autograd import no_grad, scope
from tinygrad_seq.tensor import Tensor


class StateDictError(KeyError):
    """A state dict that does not fit: missing, unexpected or wrongly shaped keys, all named at once."""

    def __str__(self) -> str:  # KeyError would print the message as a quoted repr
        return str(self.args[0]) if self.args else ""


class Parameter(Tensor):
    """A Tensor that a Module learns: it always requires grad and is listed by `parameters()`."""

    def __init__(self, data: Any, dtype: Any = None) -> None:
        array = np.asarray(data.numpy() if isinstance(data, Tensor) else data)
        if dtype is None and array.dtype.kind != "f":
            dtype = np.float32
        super().__init__(array, requires_grad=True, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class of every layer: subclasses set Parameters and Modules as attributes and define forward.

    Attributes register in the order they are set, so `named_parameters()` has a stable order and
    PyTorch-style dotted names (``encoder.layers.0.self_attn.in_proj_weight``). Calling a module runs
    `forward` inside ``scope(name)`` where name is the attribute it is stored under, so the graph
    renderer can group its nodes.

    Example::

        class Affine(Module):
            def __init__(self):
                super().__init__()
                self.w = Parameter(np.ones(3))
            def forward(self, x):
                return x * self.w
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_scope_name", type(self).__name__)

    # ------------------------------------------------------------------ registration

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before setting {name!r}")
        if isinstance(value, Parameter):
            home = self._parameters
        elif isinstance(value, Module):
            home = self._modules
            value._set_scope_name(name)
        elif isinstance(value, Tensor) and name in self._buffers:
            home = self._buffers
        else:
            home = None
        # Replacing a parameter (or module, or buffer) keeps its place, so names keep their order.
        for table in (self._parameters, self._modules, self._buffers):
            if table is not home:
                table.pop(name, None)
        if home is None:
            object.__setattr__(self, name, value)
        else:
            self.__dict__.pop(name, None)  # a plain attribute of that name (e.g. bias = None) would shadow it
            home[name] = value

    def __getattr__(self, name: str) -> Any:
        for table in ("_parameters", "_modules", "_buffers"):
            found = self.__dict__.get(table, {})
            if name in found:
                return found[name]
        raise habits.no_attribute(type(self).__name__, name, "Module")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._modules, self._buffers):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def _set_scope_name(self, name: str) -> None:
        """The scope this module's nodes are labelled with: the attribute it is stored under."""
        object.__setattr__(self, "_scope_name", name)

    def register_buffer(self, name: str, value: Any) -> None:
        """A non-learned array saved in the state dict (e.g. a positional-encoding table)."""
        self._buffers[name] = value if isinstance(value, Tensor) else Tensor(value)

    # ------------------------------------------------------------------ calling

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with scope(self._scope_name):
            return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ walking

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every submodule, depth first, each once, with dotted names."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return iter(self._modules.items())

    def children(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def _named(self, table: str) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, value in getattr(module, table).items():
                if id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs in registration order; a shared parameter is listed once."""
        return self._named("_parameters")  # type: ignore[return-value]  # the table holds Parameters

    def parameters(self) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters())

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        return self._named("_buffers")

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def astype(self, dtype: Any) -> Module:
        """Convert every parameter, its gradient and every float buffer in place (e.g. to float64).

        Integer buffers (masks, counts) keep their dtype.
        """
        dtype = np.dtype(dtype)
        floats = [b for _, b in self.named_buffers() if b.dtype.kind == "f"]
        for t in [*self.parameters(), *floats]:
            if t.dtype != dtype:
                # not `t.data = ...`: the data setter keeps the tensor's dtype, so swap the array itself
                t._data = t._data.astype(dtype)
                t.bump_version()
            if t.grad is not None and t.grad.dtype != dtype:
                t.grad = Tensor(t.grad.numpy().astype(dtype))
        return self

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter's and buffer's array by dotted name: the arrays themselves, not copies, as torch's
        state_dict shares storage (an optimizer step shows in it; copy it to keep a snapshot)."""
        items = list(self.named_parameters()) + list(self.named_buffers())
        return {name: t.numpy() for name, t in items}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers; checks everything before changing anything.

        Accepts NumPy arrays or Tensors, e.g. a PyTorch state dict converted with ``.numpy()``.
        """
        own = dict(self.named_parameters()) | dict(self.named_buffers())
        problems = []
        if strict:
            problems += [f"missing key {k!r} (shape {own[k].shape})" for k in own if k not in state]
            problems += [f"unexpected key {k!r}" for k in state if k not in own]
        arrays = {}
        for key, value in state.items():
            if key not in own:
                continue
            array = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
            if array.shape != own[key].shape:
                problems.append(
                    f"key {key!r}: the checkpoint has shape {array.shape}, the model {own[key].shape}")
            elif array.dtype.kind not in "biuf" or array.dtype.kind == "b" != own[key].dtype.kind:
                problems.append(f"key {key!r}: the checkpoint holds {array.dtype} values, not numbers")
            else:
                with np.errstate(over="ignore", invalid="ignore"):
                    cast = array.astype(own[key].dtype)
                if cast.dtype.kind == "f" and not np.isfinite(cast).all() and (
                        array.dtype.kind != "f" or np.isfinite(array).all()):
                    big = array.flat[int(np.argmax(~np.isfinite(cast).ravel()))]
                    problems.append(f"key {key!r}: the checkpoint holds {big!r}, which {own[key].dtype} "
                                    "cannot hold (it would become inf)")
                arrays[key] = cast
        if problems:
            raise StateDictError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        for key, array in arrays.items():  # written into the arrays, as torch copies into its tensors
            np.copyto(own[key].numpy(), array)
            own[key].bump_version()

    def save(self, path: str | os.PathLike) -> None:
        """Write the state dict to `path` as .npz, atomically (a crash never leaves half a file)."""
        save_arrays(path, self.state_dict())

    def load(self, path: str | os.PathLike, strict: bool = True) -> None:
        """Load a checkpoint written by `save`; a bad file raises and leaves the module unchanged."""
        self.load_state_dict(load_arrays(path), strict=strict)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, module in self._modules.items():
            lines.append(f"  ({name}): " + repr(module).replace("\n", "\n  "))
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"

    def extra_repr(self) -> str:
        return ""


class SwitchesFused(Module):
    """A layer whose ``fused`` switch is also the switch of every sublayer that has one (its projections,
    norms, attention): set it and the whole layer runs fused, or composed."""

    @property
    def fused(self) -> bool:
        return self._fused

    @fused.setter
    def fused(self, value: bool) -> None:
        object.__setattr__(self, "_fused", bool(value))
        for module in self.modules():
            if module is not self and hasattr(module, "fused"):
                module.fused = bool(value)


def functional_call(module: Module, tensors: Mapping[str, Tensor], *args: Any, **kwargs: Any) -> Any:
    """Call `module` with some parameters or buffers swapped for `tensors` (by dotted name), then restore.

    The replacements can be any Tensors, e.g. the float64 copies gradcheck makes, so a layer's
    gradient with respect to its own weights can be checked against finite differences:

        >>> lin = Linear(3, 2)
        >>> gradcheck(lambda x, w, b: functional_call(lin, {"weight": w, "bias": b}, x),
        ...           [x, lin.weight.numpy(), lin.bias.numpy()])

    A parameter shared by several submodules is swapped everywhere it is used.
    """
    own = dict(module.named_parameters()) | dict(module.named_buffers())
    unknown = [name for name in tensors if name not in own]
    if unknown:
        raise StateDictError(
            f"functional_call: {type(module).__name__} has no parameter or buffer {unknown[0]!r}")
    by_id = {id(own[name]): tensor for name, tensor in tensors.items()}
    saved = []  # (table, key, original) for every slot that holds a swapped tensor
    for sub in module.modules():
        for table in (sub._parameters, sub._buffers):
            for key, value in table.items():
                if id(value) in by_id:
                    saved.append((table, key, value))
    try:
        for table, key, original in saved:
            table[key] = by_id[id(original)]
        return module(*args, **kwargs)
    finally:
        for table, key, original in saved:
            table[key] = original


@contextlib.contextmanager
def evaluating(module: Module) -> Iterator[Module]:
    """Eval mode (no dropout) and no graph recorded inside the block; the module's mode is restored after.

        >>> with evaluating(model):
        ...     logits, _ = model(ids)
    """
    was_training = module.training
    module.eval()
    try:
        with no_grad():
            yield module
    finally:
        module.train(was_training)


TMP_PREFIX = ".tinygrad-seq-tmp."  # then the writer's PID and a dot: a name no user picks by chance


def temporary_prefix() -> str:
    """The start of the names `atomic_write` gives its temporary files: ``.tinygrad-seq-tmp.<PID>.``."""
    return f"{TMP_PREFIX}{os.getpid()}."


def is_stale_temporary(name: str) -> bool:
    """Whether `name` is a temporary file of `atomic_write` whose writer is no longer running (a crash
    or ``kill -9`` left it): only those may be removed. A user's own ``.tmp-*`` files never match."""
    if not name.startswith(TMP_PREFIX):
        return False
    pid = name[len(TMP_PREFIX):].split(".", 1)[0]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except (ProcessLookupError, OverflowError):  # gone, or a PID no process can have
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """A binary file to write that replaces `path` only once it is complete and on disk.

    The bytes go to a temporary file in the same folder (`temporary_prefix`), are flushed and fsync'ed, then
    renamed over `path`: a crash, a full disk or Ctrl-C leaves the previous file as it was. The file
    gets the permissions of any new file (0644 under the usual umask), not the temporary file's 0600.

        >>> with atomic_write("out/picture.png") as f:
        ...     f.write(data)
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(), suffix=os.path.splitext(path)[1])
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, Any]) -> None:
    """Write named arrays (or numbers) as .npz through `atomic_write`.

    Object arrays are refused: the file must load without pickle.
    """
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    for name, array in arrays.items():
        if array.dtype.hasobject:
            raise TypeError(f"save_arrays: {name!r} is an object array; .npz cannot hold it without pickle")
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def declared_sizes(path: str | os.PathLike) -> dict[str, int]:
    """The bytes each array of an .npz says it holds (its .npy header), read without reading any array.

    A header that does not match its zip entry's size, an object array, or a file that is not a regular
    file or not an .npz archive raises ValueError, so a zip bomb or a crafted header is judged before
    anything is inflated.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path!r} is not a regular file (a pipe or a device); a checkpoint is a file")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"checkpoint {path!r} is not a readable .npz file: not a checkpoint (no zip "
                         "archive: cut short, or never written by `save_arrays`, `Module.save` or "
                         "`tinygrad-seq train`); nothing was loaded")
    sizes = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(f)
                    header = f.tell()
                if dtype.hasobject:
                    raise ValueError(f"{info.filename!r} holds Python objects")
                nbytes = math.prod(shape) * dtype.itemsize
                if nbytes + header != info.file_size:
                    raise ValueError(f"{info.filename!r} declares shape {shape} ({nbytes:,} bytes) but its "
                                     f"entry holds {info.file_size - header:,}")
                sizes[info.filename.removesuffix(".npy")] = nbytes
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error, KeyError) as err:
        said = " ".join(str(err).split())  # NumPy's messages run over several lines
        raise ValueError(f"checkpoint {path!r} is not a readable .npz file ({said}); nothing was loaded") \
            from None
    return sizes


def load_arrays(path: str | os.PathLike, names: Iterable[str] | None = None,
                max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """Read the arrays of an .npz file (`names`, or all; no pickle); a missing or corrupt file, or one whose
    arrays declare more than `max_bytes` in all (`declared_sizes`), gets a clear ValueError before any
    array is read."""
    path = os.fspath(path)
    sizes = declared_sizes(path)
    wanted = list(sizes) if names is None else [n for n in names if n in sizes]
    total = sum(sizes[n] for n in wanted)
    if max_bytes is not None and total > max_bytes:
        raise ValueError(f"checkpoint {path!r} declares {total:,} bytes of arrays, more than the "
                         f"{max_bytes:,} it can hold; nothing was loaded")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in wanted}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error, KeyError) as err:
        raise ValueError(
            f"checkpoint {path!r} is not a readable .npz file ({err}); nothing was loaded") from None
