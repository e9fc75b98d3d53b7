"""Compile every CUDA kernel of tinytx/kernels/cuda to PTX and read what ptxas says of it,
without a GPU: the static half of the speed argument (docs/cuda.md, "What ptxas reports").

    python tests/cuda_compile_ptx.py 9.0              # or 8.0; --json FILE keeps the table

Every kernel file lists its kernels as they are launched (`specializations(dtype)`: name,
kernel, numba argument types). For each one, float32 and float64:
  - the PTX has a kernel entry;
  - float32 only: no f64 instruction (an `.f64` operation, a `cvt` to or from f64, or a
    use of an f64 register): on a GPU whose fp64 rate is a fraction of fp32 each one
    costs, and it means a Python float or a float64 scalar crept in. Offenders are listed
    with the Python source line they come from (recompiled with line info);
  - float32 only: `ptxas -v` reports 0 bytes of spill stores and loads and at most 48 KB
    of static shared memory (a block may not ask for more without opting in).
It prints registers, stack frame, spills and shared memory of every kernel as a table.

Exit status: 0 all checks pass; 1 some fail (listed at the end); 77 a tool is missing
(libNVVM/NVRTC, or ptxas once the PTX checks pass), with the reason. Run by
tests/test_cuda_static.py in a subprocess: numba must be imported WITHOUT its simulator.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SMEM_LIMIT = 48 * 1024       # static shared memory a block gets without opting in
SKIP = 77


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def kernels(dtype):
    """(label, kernel, argument types) of every kernel, from each file's specializations;
    the label adds the factory's true flags (attention.forward[causal,masked])."""
    import numpy as np
    from tinytx.kernels.cuda import (adamw, cross_entropy, embedding, flash_attention, gelu,
                                     layer_norm, lstm)
    for module in (flash_attention, layer_norm, cross_entropy, gelu, embedding, adamw, lstm):
        for name, kernel, types in module.specializations(np.dtype(dtype)):
            yield name + _flags(name, kernel), kernel, types


def _flags(name, kernel):
    """The factory's flags that are on (closure variables that are True) and that the
    name does not say already, as "[causal,masked]"."""
    code, cells = kernel.py_func.__code__, kernel.py_func.__closure__ or ()
    on = [n for n, c in zip(code.co_freevars, cells)
          if c.cell_contents is True and n not in name.split(".")]
    return f"[{','.join(on)}]" if on else ""


def f64_instructions(ptx):
    """[(index of the line, the line)] of the PTX instructions that compute in f64."""
    found = []
    for i, line in enumerate(ptx.splitlines()):
        s = line.strip()
        if not s or s[0] in "./{}$" or s.endswith(":"):
            continue                             # directives, comments, braces, labels
        words = s.split()
        op = words[1] if words[0].startswith("@") and len(words) > 1 else words[0]
        if "f64" in op.split(".") or "%fd" in s:
            found.append((i, s))
    return found


def source_lines(ptx_with_lines):
    """Per Python source line, the f64 opcodes of PTX compiled with lineinfo=True."""
    files = dict(re.findall(r'^\s*\.file\s+(\d+)\s+"([^"]+)"', ptx_with_lines, re.M))
    lines = ptx_with_lines.splitlines()
    where, at = {}, ("?", 0)
    for i, line in enumerate(lines):
        m = re.match(r"\s*\.loc\s+(\d+)\s+(\d+)", line)
        if m:
            at = (files.get(m.group(1), "?"), int(m.group(2)))
        where[i] = at
    by_line = collections.defaultdict(collections.Counter)
    for i, s in f64_instructions(ptx_with_lines):
        by_line[where[i]][s.split()[1] if s.startswith("@") else s.split()[0]] += 1
    return by_line


def describe_f64(label, ptx, compile_with_lines):
    """The failure text for a float32 kernel with f64 instructions."""
    found = f64_instructions(ptx)
    out = [f"{label} float32: {len(found)} f64 instructions in the PTX, e.g.:"]
    out += [f"      {unmangle(s)}" for _, s in found[:6]]
    out.append("    from these source lines:")
    for (path, n), ops in sorted(compile_with_lines().items()):
        text = _read_line(path, n)
        names = ", ".join(f"{op} x{c}" for op, c in ops.most_common())
        out.append(f"      {_short(path)}:{n}: {text}   [{names}]")
    return "\n".join(out)


def unmangle(text):
    """numba's mangled kernel names (~400 characters) shown as <kernel>."""
    return re.sub(r"_Z\w+?(_param_\d+)?\b", lambda m: "<kernel>" + (m.group(1) or ""), text)


def _read_line(path, n):
    if n <= 0:
        return "(no source line: code numba adds)"
    try:
        return Path(path).read_text().splitlines()[n - 1].strip()
    except (OSError, IndexError):
        return ""


def _short(path):
    return path.split("tinytx/", 1)[-1] if "tinytx/" in path else path


def ptxas_candidates():
    """Where ptxas may be: $TINYTX_PTXAS, the one numba-cuda's cu12/cu13 extra installs
    (the same toolkit as its libNVVM), $CUDA_HOME's, PATH's."""
    candidates = [os.environ.get("TINYTX_PTXAS")]
    try:
        import nvidia
        for root in nvidia.__path__:
            candidates += [os.path.join(root, sub, "bin", "ptxas")
                           for sub in ("cuda_nvcc", "cu13", "cu12")]
    except ImportError:
        pass
    if os.environ.get("CUDA_HOME"):
        candidates.append(os.path.join(os.environ["CUDA_HOME"], "bin", "ptxas"))
    candidates.append(shutil.which("ptxas"))
    return [c for c in dict.fromkeys(candidates) if c and os.access(c, os.X_OK)]


def find_ptxas(ptx, arch):
    """The first candidate that assembles `ptx` (an older ptxas refuses newer PTX)."""
    return next((c for c in ptxas_candidates() if "error" not in ptxas_report(c, ptx, arch)),
                None)


def ptxas_report(ptxas, ptx, arch):
    """Registers, stack frame, spill stores/loads and static shared memory (bytes) that
    `ptxas -arch=sm_XY -v` reports for the kernel entry (spills summed over functions)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kernel.ptx")
        Path(path).write_text(ptx)
        done = subprocess.run([ptxas, f"-arch={arch}", "-v", path, "-o", os.devnull],
                              capture_output=True, text=True)
    text = unmangle(done.stdout + done.stderr)
    errors = [line.strip() for line in text.splitlines() if "error" in line.lower()]
    frames = re.findall(r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
                        r"(\d+) bytes spill loads", text)
    used = re.search(r"Used (\d+) registers", text)
    smem = re.search(r"(\d+) bytes smem", text)
    return {"registers": int(used.group(1)) if used else None,
            "stack": max((int(f[0]) for f in frames), default=0),
            "spill_stores": sum(int(f[1]) for f in frames),
            "spill_loads": sum(int(f[2]) for f in frames),
            "smem": int(smem.group(1)) if smem else 0,
            **({"error": "; ".join(errors) or text.strip()[-300:]} if done.returncode else {})}


def probe(cc):
    """The PTX of a one-line kernel; exits with 77 and the reason when numba-cuda,
    libNVVM or NVRTC are missing."""
    try:
        import numba
        from numba import cuda
    except ImportError as e:
        skip(f"numba-cuda is not installed ({e})")
    if numba.config.ENABLE_CUDASIM:
        skip("NUMBA_ENABLE_CUDASIM=1: the simulator makes no PTX (unset it)")

    def one(x):
        x[0] = 1.0
    try:
        return cuda.compile_ptx(one, (numba.float32[::1],), cc=cc)[0]
    except Exception as e:                      # NvvmSupportError, DynamicLibNotFoundError …
        skip(f"cannot compile PTX here ({type(e).__name__}: {str(e)[:300]})")


def compile_with_lines(kernel, types, cc):
    """The kernel's PTX with .loc directives (same instructions; for naming source lines)."""
    import warnings
    from numba import cuda
    with warnings.catch_warnings():          # "could not find source" of factory kernels
        warnings.simplefilter("ignore")
        return cuda.compile_ptx(kernel.py_func, types, cc=cc, lineinfo=True,
                                **as_launched(kernel))[0]


def as_launched(kernel) -> dict:
    """The kernel's own compile options (fastmath, launch bounds): the PTX and ptxas's
    report are those of the kernel that runs."""
    options = getattr(kernel, "targetoptions", {})
    return {k: options[k] for k in ("fastmath", "launch_bounds") if options.get(k)}


def compile_one(job):
    """Worker: compile kernel i of `dtype` for `cc`, check its PTX, run ptxas on it.
    Returns a row of the table and the failures of this kernel."""
    dtype, i, cc, ptxas = job
    from numba import cuda
    label, kernel, types = list(kernels(dtype))[i]
    ptx, _ = cuda.compile_ptx(kernel.py_func, types, cc=cc, **as_launched(kernel))
    report = ptxas_report(ptxas, ptx, f"sm_{cc[0]}{cc[1]}") if ptxas else {}
    row = {"kernel": label, "dtype": dtype, "f64": len(f64_instructions(ptx)), **report}
    failures = []
    if ".entry" not in ptx:
        failures.append(f"{label} {dtype}: no kernel entry in the PTX")
    if "error" in report:
        failures.append(f"{label} {dtype}: ptxas failed: {report['error']}")
    if dtype != "float32":
        return row, failures
    if row["f64"]:
        failures.append(describe_f64(label, ptx, lambda: source_lines(
            compile_with_lines(kernel, types, cc))))
    if report.get("spill_stores") or report.get("spill_loads"):
        failures.append(f"{label} float32: ptxas spills {report['spill_stores']} bytes "
                        f"(stores), {report['spill_loads']} bytes (loads) to local memory")
    if report.get("smem", 0) > SMEM_LIMIT:
        failures.append(f"{label} float32: {report['smem']} bytes of static shared "
                        f"memory, more than {SMEM_LIMIT}")
    return row, failures


def check(cc, ptxas, jobs, dtypes=("float32", "float64")):
    """Compile and check every kernel of `dtypes` in `jobs` processes (numba compiles
    under the GIL); returns (rows, failures) in the order of the files' lists."""
    todo = [(dt, i, cc, ptxas) for dt in dtypes for i in range(len(list(kernels(dt))))]
    with ProcessPoolExecutor(jobs) as pool:
        done = list(pool.map(compile_one, todo))
    return [row for row, _ in done], [f for _, fs in done for f in fs]


def print_table(rows, arch, ptxas):
    w = max(len(r["kernel"]) for r in rows)
    print(f"{'kernel':{w}s} {'dtype':7s} {'f64':>5s} {'regs':>5s} {'stack':>6s} "
          f"{'spill st/ld':>12s} {'smem':>7s}   ({arch}; ptxas: {ptxas or 'not found'})")
    for r in rows:
        regs = "-" if r.get("registers") is None else str(r["registers"])
        spill = f"{r['spill_stores']}/{r['spill_loads']}" if "spill_stores" in r else "-"
        print(f"{r['kernel']:{w}s} {r['dtype']:7s} {r['f64']:5d} {regs:>5s} "
              f"{r.get('stack', '-'):>6} {spill:>12s} {r.get('smem', '-'):>7}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cc", nargs="?", default="9.0", help="compute capability, e.g. 8.0 or 9.0")
    p.add_argument("--json", type=Path, help="also write the table and failures as JSON")
    p.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0))
                   if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                   help="compiling processes (default: one per CPU)")
    p.add_argument("--dtypes", default="float32,float64",
                   help="the specialisations to compile (the suite checks float32 only)")
    args = p.parse_args(argv)
    cc = tuple(int(x) for x in args.cc.split("."))
    arch = f"sm_{cc[0]}{cc[1]}"
    ptxas = find_ptxas(probe(cc), arch)
    rows, failures = check(cc, ptxas, args.jobs, tuple(args.dtypes.split(",")))
    print_table(rows, arch, ptxas)
    print(f"compiled {len(rows)} kernels for {arch}")
    if args.json:
        args.json.write_text(json.dumps({"arch": arch, "ptxas": ptxas, "kernels": rows,
                                         "failures": failures}, indent=1))
    if failures:
        print(f"\nFAILED: {len(failures)} checks for {arch}:")
        print("\n".join(failures))
        return 1
    if ptxas is None:
        skip(f"no ptxas that reads this PTX (tried: {', '.join(ptxas_candidates()) or 'none'};"
             " no f64 in the float32 PTX, but registers, spills and shared memory are "
             "unchecked): pip install 'numba-cuda[cu12]', or set TINYTX_PTXAS")
    print(f"every float32 kernel: no f64, no spills, shared memory <= {SMEM_LIMIT} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
