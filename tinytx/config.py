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
"""
from __future__ import annotations

import dataclasses
import sys
import typing

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _convert(value: str, kind, key: str):
    origin = typing.get_origin(kind)
    if origin is typing.Union or str(origin) == "types.UnionType":  # e.g. int | None
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


def parse_config(config, argv, extra_flags=()):
    """Apply `--key=value` arguments to a copy of the dataclass `config`.

    Args:
        config: a dataclass instance with the defaults.
        argv: the arguments (e.g. sys.argv[1:]); `--flag` alone means True for a bool.
        extra_flags: options the caller handles itself (e.g. "resume"), named in the
            error message for an unknown key.
    Returns: the new config. Raises ValueError for an unknown key, listing the valid ones.
    """
    hints = typing.get_type_hints(type(config))
    fields = {f.name: hints[f.name] for f in dataclasses.fields(config)}
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
    return dataclasses.replace(config, **updates)


def run_main(main, argv=None) -> int:
    """Run an example's `main(argv)`; an expected user error (a bad flag, a missing or
    corrupt file, no network for the download) prints one `error: ...` line to stderr
    and returns 1 instead of a traceback. Use: `sys.exit(run_main(main))`.

    Expected errors are OSError (missing file, download failed, checkpoint not found) and
    ValueError (bad value, bad data file, CheckpointError); anything else is a bug and
    keeps its traceback.
    """
    try:
        main(argv)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


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
