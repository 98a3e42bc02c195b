"""Initialisers: each fills a tensor's data in place from an explicit NumPy Generator and returns it.

Every function takes ``rng=``: a ``numpy.random.Generator`` (or a seed, or None for fresh entropy), so a
model built with the same generator is the same model. The formulas and defaults are PyTorch's
``torch.nn.init``, so a layer starts from the same distribution as its PyTorch twin.

    >>> w = Tensor(np.empty((4, 3), dtype=np.float32))
    >>> _ = kaiming_uniform_(w, a=math.sqrt(5), rng=np.random.default_rng(0))  # U(-1/sqrt(3), 1/sqrt(3))
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_seq.autograd import no_grad
from tinygrad_seq.seeding import generator
from tinygrad_seq.tensor import Tensor

__all__ = [
    "calculate_gain", "constant_", "fan_in_and_fan_out", "kaiming_normal_", "kaiming_uniform_", "normal_",
    "ones_", "orthogonal_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]

Rng = np.random.Generator | int | None


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Write `values` into the tensor's own array (same object, version bumped), recording nothing."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a Tensor (or Parameter), got {type(tensor).__name__}")
    with no_grad():
        tensor[...] = values.astype(tensor.dtype, copy=False)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, rng: Rng = None) -> Tensor:
    """Fill with draws from U(a, b)."""
    return _fill(tensor, generator(rng).uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, rng: Rng = None) -> Tensor:
    """Fill with draws from N(mean, std^2)."""
    return _fill(tensor, generator(rng).normal(mean, std, size=tensor.shape))


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with `value`."""
    return _fill(tensor, np.full(tensor.shape, value))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight laid out (out, in, *kernel): in * kernel and out * kernel.

    A 1-D tensor (a bias) has fan_in = fan_out = its length.
    """
    shape = tensor.shape
    if len(shape) == 0:
        raise ValueError("fan_in_and_fan_out: a 0-d tensor has no fan in or fan out")
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance stable through `nonlinearity` (PyTorch's table).

    linear / sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu with slope a: sqrt(2 / (1 + a^2)); selu: 3/4.
    """
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, rng: Rng = None) -> Tensor:
    """Glorot: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0  # no elements to fill
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, rng: Rng = None) -> Tensor:
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0  # no elements to fill
    return normal_(tensor, 0.0, std, rng)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0  # a fan of 0: no elements


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     rng: Rng = None) -> Tensor:
    """He: U(-b, b) with b = gain * sqrt(3 / fan).

    With ``a=math.sqrt(5)`` (what Linear uses) the gain is sqrt(1/3), so b = 1 / sqrt(fan_in):
    PyTorch's default for Linear weights.
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    rng: Rng = None) -> Tensor:
    """He: N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), rng)


def orthogonal_(tensor: Tensor, gain: float = 1.0, rng: Rng = None) -> Tensor:
    """A (semi-)orthogonal matrix times `gain`: rows orthonormal if rows <= cols, else columns.

    Tensors of more than two dimensions are viewed as (shape[0], rest). Made from the QR
    decomposition of a Gaussian matrix, with R's diagonal signs folded into Q so that the result is
    uniformly distributed over orthogonal matrices.
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = generator(rng).normal(size=(rows, cols))
    if rows < cols:
        flat = flat.T  # (cols, rows): QR needs the tall side first
    q, r = np.linalg.qr(flat)  # q: (max, min) with orthonormal columns
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T  # (rows, cols) with orthonormal rows
    return _fill(tensor, gain * q.reshape(tensor.shape))

