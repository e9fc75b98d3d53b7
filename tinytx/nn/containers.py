"""Containers: Sequential, ModuleList, ModuleDict — Modules that hold other Modules and
register each one, so their parameters belong to the model.

Introduced in lesson 02 (Sequential); ModuleList holds GPT's stack of blocks `h`
(lesson 11), ModuleDict its `transformer`.
"""
from __future__ import annotations

from .module import Module


class Sequential(Module):
    """Modules applied one after another; submodules are named "0", "1", ...

        >>> import tinytx as tx
        >>> from tinytx.nn import GELU, Linear, Sequential
        >>> mlp = Sequential(Linear(2, 8), GELU(), Linear(8, 1))
        >>> mlp(tx.randn(5, 2)).shape
        (5, 1)
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got "
                                f"{type(m).__name__}")
            setattr(self, str(i), m)

    def __getitem__(self, i):
        mods = list(self.children())
        return Sequential(*mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self):
        return len(list(self.children()))

    def __iter__(self):
        return self.children()

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x


class ModuleList(Module):
    """A list of Modules that registers them (names "0", "1", ...): index, iterate,
    append. Used for the stack of transformer blocks `h`."""

    def __init__(self, modules=()):
        super().__init__()
        object.__setattr__(self, "_list", [])
        self.extend(modules)

    def append(self, module: Module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: expected a Module, got "
                            f"{type(module).__name__}")
        setattr(self, str(len(self._list)), module)
        self._list.append(module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, i):
        return ModuleList(self._list[i]) if isinstance(i, slice) else self._list[i]

    def __setitem__(self, i, module: Module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList[{i}]: expected a Module, got "
                            f"{type(module).__name__}")
        i = range(len(self._list))[i]  # negative indices; IndexError when out of range
        setattr(self, str(i), module)
        self._list[i] = module

    def __len__(self):
        return len(self._list)

    def __iter__(self):
        return iter(self._list)


class ModuleDict(Module):
    """A dict of Modules that registers them under their keys (nanoGPT's `transformer`
    holds wte, wpe, h and ln_f this way)."""

    def __init__(self, modules=None):
        super().__init__()
        for key, m in dict(modules or {}).items():
            self[key] = m

    def __setitem__(self, key: str, module: Module):
        if not isinstance(key, str) or not key.isidentifier():
            raise KeyError(f"ModuleDict: a key must be a str usable as a name (no '.'), "
                           f"got {key!r}")
        if key not in self._kinds and hasattr(self, key):
            raise KeyError(f"ModuleDict: key {key!r} would hide the attribute "
                           f"ModuleDict.{key}; choose another name")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict[{key!r}]: expected a Module, got "
                            f"{type(module).__name__}")
        setattr(self, key, module)

    def __getitem__(self, key):
        return dict(self.named_children())[key]

    def __contains__(self, key):
        return key in dict(self.named_children())

    def __len__(self):
        return len(dict(self.named_children()))

    def __iter__(self):
        return iter(self.keys())

    def keys(self):
        return [k for k, _ in self.named_children()]

    def values(self):
        return list(self.children())

    def items(self):
        return list(self.named_children())
