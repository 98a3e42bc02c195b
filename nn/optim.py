"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules, with PyTorch's update formulas.

An optimizer holds a list of Parameters and, per parameter, a small dict of NumPy arrays (momentum,
moment estimates). `step()` reads each ``p.grad`` and writes ``p.data`` in place with plain NumPy: no
graph is recorded, and the write bumps the parameter's version counter, so a graph built before the
step and used after it is caught by the engine.

    >>> opt = Adam(model.parameters(), lr=3e-3)
    >>> for batch in batches:
    ...     opt.zero_grad()
    ...     loss_fn(model, batch).backward()
    ...     opt.step()

`state_dict()` is a flat dict of NumPy arrays and numbers, ready for ``nn.module.save_arrays``:
hyperparameters under their constructor names (``lr``, ``betas``, ``weight_decay``, ...), the number of
steps taken under ``step``, and per-parameter state under ``state.<i>.<name>`` where i is the
parameter's position in the list given to the constructor (``state.0.exp_avg``, ``state.0.step``).
Prefix the keys (say ``optim.``) to keep them apart from a model's in one file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_seq import habits
from tinygrad_seq.tensor import Tensor

from .module import StateDictError

__all__ = ["SGD", "Adam", "AdamW", "CosineWithWarmup", "Optimizer", "StepLR"]


if not TYPE_CHECKING:  # hidden from type checkers, which would otherwise accept any name

    def __getattr__(name: str) -> Any:
        """A torch.optim name that is not here (`optim.lr_scheduler`) raises, naming what to write instead."""
        raise habits.no_attribute(__name__, name, "optim")


class Optimizer:
    """Base class: the parameter list, per-parameter state, zero_grad, step and state dicts.

    A subclass lists its hyperparameters in `hyperparameters` (saved in the state dict) and the
    fields of a parameter's state in `state_fields` (arrays shaped like the parameter, and "step", a
    count), and writes `_update(param, grad, state)` on NumPy arrays.
    """

    hyperparameters: tuple[str, ...] = ("lr",)
    state_fields: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params: list[Tensor] = list(params.values() if isinstance(params, Mapping) else params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{type(self).__name__}: parameter {i} is not a Tensor that requires grad")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: parameter {i} appears twice in the list")
            seen.add(id(p))
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        self.lr = float(lr)
        self.steps = 0
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set it to None, so the next backward starts afresh)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient; those without one are left alone."""
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            grad = p.grad.data
            if grad.shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: a gradient of shape {grad.shape} "
                    f"for a parameter of shape {p.shape}")
            self._update(p.data, grad, state)
            p.bump_version()  # the array was changed in place
        self.steps += 1

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters, step count and per-parameter state as a flat dict of arrays and numbers."""
        out: dict[str, Any] = {"step": self.steps}
        for name in self.hyperparameters:
            value = getattr(self, name)
            out[name] = np.array(value) if isinstance(value, tuple) else value
        for i, state in enumerate(self.state):
            for key, value in state.items():
                out[f"state.{i}.{key}"] = value.copy() if isinstance(value, np.ndarray) else value
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what `state_dict` returned (or an .npz of it); checks everything before changing anything.

        A missing, extra or wrongly shaped key raises StateDictError (a KeyError) naming it and both shapes.
        """
        name = type(self).__name__
        problems = []
        expected = {"step", *self.hyperparameters}
        problems += [f"missing key {k!r}" for k in sorted(expected) if k not in state_dict]
        states: list[dict[str, Any]] = [{} for _ in self.params]
        for key, value in state_dict.items():
            if key in expected:
                continue
            parts = key.split(".")
            if len(parts) != 3 or parts[0] != "state" or not parts[1].isdigit() or \
                    parts[2] not in self.state_fields:
                problems.append(f"unexpected key {key!r}")
                continue
            i, field = int(parts[1]), parts[2]
            if i >= len(self.params):
                problems.append(f"key {key!r}: the optimizer has only {len(self.params)} parameters")
                continue
            if field == "step":
                states[i][field] = int(np.asarray(value))
                continue
            array = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
            if array.shape != self.params[i].shape:
                problems.append(
                    f"key {key!r}: the state has shape {array.shape}, "
                    f"parameter {i} has shape {self.params[i].shape}")
                continue
            states[i][field] = array.astype(self.params[i].dtype, copy=True)
        for i, state in enumerate(states):
            if state and len(state) != len(self.state_fields):
                missing = [f"state.{i}.{f}" for f in self.state_fields if f not in state]
                problems += [f"missing key {k!r}" for k in missing]
        if problems:
            raise StateDictError(f"{name}.load_state_dict: " + "; ".join(problems))
        for hyper in self.hyperparameters:
            value = np.asarray(state_dict[hyper])
            setattr(self, hyper, tuple(float(v) for v in value) if value.ndim else _number(value))
        self.steps = int(np.asarray(state_dict["step"]))
        self.state = states

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)}" for k in self.hyperparameters)
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


def _number(value: np.ndarray) -> float | bool:
    return bool(value) if value.dtype == bool else float(value)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    g = grad + weight_decay * p;  b = g at the first step, then b = momentum * b + (1 - dampening) * g;
    with nesterov g = g + momentum * b, else g = b;  p = p - lr * g.
    """

    hyperparameters = ("lr", "momentum", "dampening", "nesterov", "weight_decay")
    state_fields = ("momentum_buffer",)

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: momentum and weight_decay must be >= 0, got {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = float(momentum), float(dampening)
        self.nesterov, self.weight_decay = bool(nesterov), float(weight_decay)

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.astype(param.dtype, copy=True)
            else:
                buf *= self.momentum
                buf += (1.0 - self.dampening) * grad
            grad = grad + self.momentum * buf if self.nesterov else buf
        param -= self.lr * grad


class Adam(Optimizer):
    """Adam with bias correction, as PyTorch computes it (weight decay here is L2, added to the gradient).

    t += 1;  g = grad + weight_decay * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    state_fields = ("step", "exp_avg", "exp_avg_sq")
    decoupled = False

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be two numbers in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(
                f"{type(self).__name__}: eps and weight_decay must be >= 0, got {eps} and {weight_decay}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        beta1, beta2 = self.betas
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        t = state["step"]
        if self.weight_decay:
            if self.decoupled:
                param *= 1.0 - self.lr * self.weight_decay
            else:
                grad = grad + self.weight_decay * param
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        square = grad * grad
        square *= 1.0 - beta2
        v += square
        step_size = self.lr / (1.0 - beta1**t)
        # NOTE: speed: one buffer for the update, each operation in place (the same values, rounded alike)
        update = np.sqrt(v)
        update /= math.sqrt(1.0 - beta2**t)
        update += self.eps
        np.divide(m, update, out=update)
        update *= step_size
        param -= update


class AdamW(Adam):
    """Adam with decoupled weight decay: first p = p * (1 - lr * weight_decay), then Adam's step.

    The decay does not pass through the moment estimates, so it shrinks every weight at the same rate.
    """

    decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


# ---------------------------------------------------------------------- schedules


class _Schedule:
    """Sets ``optimizer.lr`` from the number of `step()` calls made so far (0 at construction)."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_step = 0
        optimizer.lr = self.get_lr()

    def lr_at(self, step: int) -> float:
        raise NotImplementedError

    def get_lr(self) -> float:
        """The learning rate for the current step."""
        return self.lr_at(self.last_step)

    def step(self) -> float:
        """Advance one step (call it after ``optimizer.step()``) and return the new learning rate."""
        self.last_step += 1
        self.optimizer.lr = self.get_lr()
        return self.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        return {"base_lr": self.base_lr, "last_step": self.last_step}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.base_lr = float(np.asarray(state["base_lr"]))
        self.last_step = int(np.asarray(state["last_step"]))
        self.optimizer.lr = self.get_lr()


class StepLR(_Schedule):
    """lr = base_lr * gamma ** (step // step_size): divide by 1/gamma every `step_size` steps.

    >>> sched = StepLR(opt, step_size=10, gamma=0.5)   # lr halves after steps 10, 20, ...
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.gamma ** (step // self.step_size)


class CosineWithWarmup(_Schedule):
    """Linear warm-up, then a half cosine from base_lr down to min_lr, then min_lr.

    step s < warmup_steps:            lr = base_lr * (s + 1) / warmup_steps
    warmup_steps <= s <= total_steps: lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * q)) / 2,
                                      q = (s - warmup_steps) / (total_steps - warmup_steps)
    s > total_steps:                  lr = min_lr

    `stretch(total)` moves the end while the run goes on (a timed run learns its speed): from the
    current step the cosine continues from where it stands, so the rate never jumps up.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, total_steps: int,
                 min_lr: float = 0.0) -> None:
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(
                f"CosineWithWarmup: need 0 <= warmup_steps < total_steps, got {warmup_steps}, {total_steps}")
        self.warmup_steps, self.total_steps, self.min_lr = int(warmup_steps), int(total_steps), float(min_lr)
        self.knot_step, self.knot_q = self.warmup_steps, 0.0  # the cosine is at q = knot_q at knot_step
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        q = self._progress(step)
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * q))

    def _progress(self, step: int) -> float:
        """q in [0, 1]: how far along the cosine `step` is (0 after the warm-up, 1 at the end)."""
        if step >= self.total_steps:
            return 1.0
        if step < self.knot_step:  # before a stretch: the cosine as it was planned then
            return self.knot_q * (step - self.warmup_steps) / max(self.knot_step - self.warmup_steps, 1)
        left = max(self.total_steps - self.knot_step, 1)
        return self.knot_q + (1 - self.knot_q) * (step - self.knot_step) / left

    def stretch(self, total_steps: int) -> None:
        """End the cosine at `total_steps` instead, continuing from the current step at its current rate."""
        step = max(self.last_step, self.warmup_steps)
        if total_steps <= step:
            raise ValueError(f"CosineWithWarmup.stretch: the end {total_steps} must come after step {step}")
        self.knot_step, self.knot_q, self.total_steps = step, self._progress(step), int(total_steps)
        self.optimizer.lr = self.get_lr()

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"total_steps": self.total_steps, "knot_step": self.knot_step,
                                       "knot_q": self.knot_q}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if "knot_step" in state:  # older checkpoints: the cosine was never stretched
            self.total_steps = int(np.asarray(state["total_steps"]))
            self.knot_step = int(np.asarray(state["knot_step"]))
            self.knot_q = float(np.asarray(state["knot_q"]))
        super().load_state_dict(state)
