#!/usr/bin/env bash
# One check of the CUDA path on a GPU machine (docs/cuda.md, "Running the device check"):
#   bench/device_check.sh [OUT_DIR]        (default: $OUT, else out/device_check)
# Fits a 15-minute device lease: bench/gpu.py (the CUDA tests on the GPU, attention checked
# and timed, seed-small tokens/s) runs under an 8-minute timeout. Needs numpy, cupy,
# numba-cuda and pytest installed (PyTorch optional), and no network: this project is
# installed offline without dependencies, and found through PYTHONPATH even if that fails.
# Writes gpu.log, tests.log, gpu.json, nvidia-smi.log, install.log and device_check.json
# into OUT_DIR. On a machine without a GPU it says "no GPU", writes {"gpu": false, ...}
# and exits 0 before installing anything.
# TINYTX_DEVICE_CHECK_SIMULATE=1 runs the same steps on the CPU with bench/gpu.py
# --simulate (tests/test_gpu_bench.py); TINYTX_DEVICE_CHECK_NO_INSTALL=1 skips the install;
# PYTHON names the interpreter (default: python3 on PATH).
set -u
cd "$(dirname "$0")/.."
out="${1:-${OUT:-out/device_check}}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py="${PYTHON:-$(command -v python3 || command -v python)}"
simulate="${TINYTX_DEVICE_CHECK_SIMULATE:-}"

if [ -z "$simulate" ] && ! "$py" -c "import cupy; assert cupy.cuda.runtime.getDeviceCount() > 0" \
        >"$out/gpu_probe.log" 2>&1; then
    reason="$(tail -n 1 "$out/gpu_probe.log")"
    echo "device_check: no GPU present (${reason:-CuPy sees no CUDA device}); nothing to run"
    REASON="$reason" JSON="$out/device_check.json" "$py" -c 'import json, os
json.dump({"gpu": False, "reason": os.environ["REASON"] or "CuPy sees no CUDA device"},
          open(os.environ["JSON"], "w"), indent=2)'
    exit 0
fi
rm -f "$out/gpu_probe.log"

start=$(date +%s)
args=()
if [ -n "$simulate" ]; then
    args=(--simulate)
else
    nvidia-smi >"$out/nvidia-smi.log" 2>&1
    # numba-cuda finds libNVVM through CUDA_HOME where no pip package brings it
    if [ -z "${CUDA_HOME:-}" ] && [ -d /usr/local/cuda ]; then export CUDA_HOME=/usr/local/cuda; fi
fi
if [ -z "$simulate" ] && [ -z "${TINYTX_DEVICE_CHECK_NO_INSTALL:-}" ]; then
    "$py" -m pip install --no-index --no-deps --no-build-isolation -e . >"$out/install.log" 2>&1 \
        || echo "device_check: offline install failed (see install.log); running from $PWD"
fi
timeout -k 20 "${TINYTX_DEVICE_CHECK_TIMEOUT:-480}" \
    "$py" bench/gpu.py ${args[@]+"${args[@]}"} --out "$out" 2>&1 | tee "$out/gpu.log"
bench_rc=${PIPESTATUS[0]}
export SIMULATE="$simulate" BENCH_RC=$bench_rc SECONDS_TAKEN=$(( $(date +%s) - start ))
OUTDIR="$out" "$py" -c 'import json, os, pathlib
out = pathlib.Path(os.environ["OUTDIR"])
bench = out / "gpu.json"
rc = int(os.environ["BENCH_RC"])
json.dump({"gpu": not os.environ["SIMULATE"], "bench_rc": rc, "timed_out": rc in (124, 137),
           "seconds": int(os.environ["SECONDS_TAKEN"]),
           "bench": json.loads(bench.read_text()) if bench.exists() else None},
          open(out / "device_check.json", "w"), indent=2)'
echo "device_check: bench/gpu.py exited $bench_rc; logs and device_check.json in $out"
exit "$bench_rc"
