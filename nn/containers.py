"""Sequential and ModuleList: modules held by position, named "0", "1", ... as in PyTorch.

So a ModuleList stored as ``self.layers`` gives parameter names ``layers.0.weight``, ``layers.1.weight``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .module import Module

__all__ = ["ModuleList", "Sequential"]


class _Positional(Module):
    """Shared by both containers: children registered under "0", "1", ... in order."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def _check(self, module: Any) -> Module:
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} holds Modules, got {type(module).__name__}")
        return module

    def _index(self, index: int) -> int:
        n = len(self._modules)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__} index {index} is out of range for length {n}")
        return index % n

    def append(self, module: Module) -> _Positional:
        """Add `module` at the end, named by its position."""
        setattr(self, str(len(self._modules)), self._check(module))
        return self

    def extend(self, modules: Iterable[Module]) -> _Positional:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            # A view of the same modules: written straight into the table so their scope names stay.
            part = type(self)()
            for i, module in enumerate(list(self._modules.values())[index]):
                part._modules[str(i)] = module
            return part
        return self._modules[str(self._index(index))]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, str(self._index(index)), self._check(module))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))


class Sequential(_Positional):
    """Calls its modules in order, each on the previous one's output.

    Example::

        >>> net = Sequential(Linear(4, 8), Tanh(), Linear(8, 2))
        >>> [name for name, _ in net.named_parameters()]
        ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(_Positional):
    """A list of modules whose parameters the parent module sees (a plain Python list would hide them).

    It is not called itself: the parent loops over it. So that graph pictures still group by layer,
    its children's scopes carry its own name: ``layers.0``, ``layers.1``.

    Example::

        >>> self.layers = ModuleList(Linear(8, 8) for _ in range(3))
        >>> for layer in self.layers: x = layer(x)
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        object.__setattr__(self, "_prefix", None)
        super().__init__(modules or ())

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if isinstance(value, Module):
            value._set_scope_name(name if self._prefix is None else f"{self._prefix}.{name}")

    def _set_scope_name(self, name: str) -> None:
        super()._set_scope_name(name)
        object.__setattr__(self, "_prefix", name)
        for key, module in self._modules.items():
            module._set_scope_name(f"{name}.{key}")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a ModuleList is not called: loop over it, "
                        "e.g. `for layer in self.layers: x = layer(x)`")
