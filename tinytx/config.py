"""Config dataclasses from the command line: `--key=value` overrides.

Introduced in lesson 01 (every lesson and example has a config dataclass at the top).
Each field of the dataclass can be set as `--key=value` (or `--key value`); values are
converted to the field's type; an unknown key is an error that lists the valid ones.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Config:
    ...     lr: float = 1e-3
    ...     smoke: bool = False
    >>> parse_config(Config(), ["--lr=3e-4", "--smoke"])
    Config(lr=0.0003, smoke=True)

A job (an example script) composes the package's configs instead of repeating their
fields: a field made by `nested(GPTConfig, n_layer=4, ...)` holds a whole GPTConfig with
the job's defaults, and its fields are options of the job, still flat (`--n_layer=6`,
not `--model.n_layer=6`). Fields the job computes itself (the vocabulary size, from the
tokenizer) are listed as `derived` and are not options.

    >>> from tinytx.train import TrainConfig
    >>> @dataclass
    ... class Job:
    ...     out_dir: str = "out"
    ...     train: TrainConfig = nested(TrainConfig, max_iters=50)
    >>> job = parse_config(Job(), ["--lr=3e-4"])
    >>> job.train.lr, job.train.max_iters
    (0.0003, 50)
"""
from __future__ import annotations

import dataclasses
import functools
import os
import sys
import types
import typing

from .backend import DeviceUnavailable, configure_process
from .distributed.world import (MPIUnavailable, abort_world, current, launched,
                                local_rank_and_size)
from .train import TrainingDiverged

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _convert(value: str, kind, key: str):
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):                   # e.g. int | None
        if value.lower() == "none":
            return None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    try:
        if kind is bool:
            if value.lower() in _TRUE | _FALSE:
                return value.lower() in _TRUE
            raise ValueError(value)
        return kind(value) if kind in (int, float, str) else value
    except ValueError:
        raise ValueError(f"--{key}: expected {getattr(kind, '__name__', kind)}, "
                         f"got {value!r}") from None


def nested(cls, *, derived=(), **defaults):
    """A dataclass field holding a `cls` config (e.g. GPTConfig, TrainConfig) with the
    job's `defaults`; its fields become options of the outer config (see the module
    docstring). `derived` names fields the job sets itself: they are not options."""
    unknown = set(defaults) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise TypeError(f"nested({cls.__name__}): no field(s) {sorted(unknown)}")
    return dataclasses.field(default_factory=functools.partial(cls, **defaults),
                             metadata={"derived": tuple(derived)})


def options(config) -> dict:
    """{option name: (the name of the nested field holding it, or None, its type)}, in
    the order the fields are declared. Two options with one name are a TypeError."""
    found = {}

    def add(name, where, kind):
        if name in found:
            raise TypeError(f"{type(config).__name__}: option --{name} is declared twice "
                            f"(list it as derived in one of the nested configs)")
        found[name] = (where, kind)
    for f in dataclasses.fields(config):
        if "derived" not in f.metadata:                   # the job's own field
            add(f.name, None, _field_type(type(config), f))
            continue
        inner = getattr(config, f.name)                   # a field made by nested()
        for g in dataclasses.fields(inner):
            if g.name not in f.metadata["derived"]:
                add(g.name, f.name, _field_type(type(inner), g))
    return found


def _field_type(cls, f):
    """A field's type; a string annotation (`from __future__ import annotations`) is
    evaluated in the class's module, as typing.get_type_hints does."""
    if not isinstance(f.type, str):
        return f.type
    return eval(f.type, dict(getattr(sys.modules.get(cls.__module__), "__dict__", {})))


def with_options(config, **values):
    """A copy of `config` with options set by their flat names (nested ones included).

    >>> from tinytx.train import TrainConfig
    >>> with_options(TrainConfig(), lr=0.5).lr
    0.5
    """
    found = options(config)
    top, inner = {}, {}
    for key, value in values.items():
        if key not in found:
            valid = ", ".join(f"--{k}" for k in found)
            raise ValueError(f"unknown option --{key}; valid options: {valid}")
        where = found[key][0]
        (top if where is None else inner.setdefault(where, {}))[key] = value
    for where, changes in inner.items():
        top[where] = dataclasses.replace(getattr(config, where), **changes)
    return dataclasses.replace(config, **top)


def parse_config(config, argv, extra_flags=()):
    """Apply `--key=value` arguments to a copy of the dataclass `config`.

    Args:
        config: a dataclass instance with the defaults (fields made by `nested` included).
        argv: the arguments (e.g. sys.argv[1:]); `--flag` alone means True for a bool.
        extra_flags: options the caller handles itself (e.g. "resume"), named in the
            error message for an unknown key.
    Returns: the new config. Raises ValueError for an unknown key, listing the valid ones.
    `--help` (or `-h`) prints the script's docstring and every option with its default,
    then exits.
    """
    if "--help" in argv or "-h" in argv:
        print(usage(config, extra_flags))
        raise SystemExit(0)
    fields = {k: kind for k, (_, kind) in options(config).items()}
    updates, args = {}, list(argv)
    while args:
        arg = args.pop(0)
        if not arg.startswith("--"):
            raise ValueError(f"unexpected argument {arg!r}: use --key=value")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        if key not in fields:
            valid = ", ".join(f"--{k}" for k in list(fields) + list(extra_flags))
            raise ValueError(f"unknown option --{key}; valid options: {valid}")
        if not eq:
            if fields[key] is bool:
                value = "true"
            elif args and not args[0].startswith("--"):
                value = args.pop(0)
            else:
                raise ValueError(f"--{key} needs a value (--{key}=VALUE)")
        updates[key] = _convert(value, fields[key], key)
    return with_options(config, **updates)


def usage(config, extra_flags=()) -> str:
    """The running script's docstring, then `--key=default` for every option of `config`
    (and the caller's own flags)."""
    doc = (getattr(sys.modules.get("__main__"), "__doc__", None) or "").strip()
    lines = [doc, ""] if doc else []
    lines.append("options (--key=value; shown with their defaults):")
    for key, (where, _) in options(config).items():
        holder = config if where is None else getattr(config, where)
        lines.append(f"  --{key}={getattr(holder, key)!r}")
    lines += [f"  --{flag}" for flag in extra_flags]
    return "\n".join(lines)


def run_main(main, argv=None, threads: int | None = None) -> int:
    """Run an example's `main(argv)` as a script: first the process-wide settings a script
    opts into (`tinytx.backend.configure_process(threads)`: malloc kept, BLAS threads,
    matplotlib's Agg), then main; an expected user error (a bad flag, a missing or
    corrupt file, no network for the download, a full disk, a folder another run holds,
    a device this machine lacks, a run that diverged) prints one `error: ...` line to
    stderr and returns 1 instead of a traceback. Use: `sys.exit(run_main(main))`.

    Expected errors are OSError (missing file, download failed, disk full, folder in
    use), ValueError (bad value, bad data file, CheckpointError, ResumeMismatch),
    DeviceUnavailable, TrainingDiverged and MPIUnavailable; anything else is a bug and
    keeps its traceback.

    Under mpiexec (docs/distributed.md) the error names its rank and ends every rank
    (MPI_Abort), and the BLAS threads default to the host's cores shared among its ranks.
    """
    configure_process(threads=threads if threads or not launched() else _threads_per_rank())
    try:
        main(argv)
    except EXPECTED_ERRORS as e:
        comm = current()
        many = comm is not None and comm.world_size > 1
        rank = f" (rank {comm.rank} of {comm.world_size})" if many else ""
        print(f"error{rank}: {e}", file=sys.stderr)
        abort_world(1)        # under mpiexec: the other ranks must not wait for this one
        return 1
    return 0


def _threads_per_rank() -> int:
    """Under a launcher, the host's cores shared among its ranks (2 ranks on 2 cores: 1
    BLAS thread each, not 2 competing for one core)."""
    return max(1, (os.cpu_count() or 1) // local_rank_and_size()[1])


EXPECTED_ERRORS = (OSError, ValueError, DeviceUnavailable, TrainingDiverged, MPIUnavailable)


def pick_preset(configs: dict, argv):
    """`--config=NAME` chooses the preset `configs[NAME]` (default "default"); returns
    (the preset, argv without that option). An unknown NAME is a SystemExit listing them.

    >>> pick_preset({"default": 1, "big": 2}, ["--config=big", "--lr=1"])
    (2, ['--lr=1'])
    """
    argv, name = list(argv), "default"
    for arg in [a for a in argv if a.startswith("--config")]:
        argv.remove(arg)
        name = arg.partition("=")[2]
        if name not in configs:
            raise SystemExit(f"--config: expected one of {list(configs)}, got {name!r}")
    return configs[name], argv
