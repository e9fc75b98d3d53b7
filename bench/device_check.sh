#!/usr/bin/env bash
# One check of the CUDA path on a GPU machine (docs/cuda.md), in under 8 minutes:
#   bench/device_check.sh [OUT_DIR]        (default: $OUT, else out/device_check)
# Expects numpy, cupy, numba-cuda and pytest installed and no network. Installs this
# project without dependencies, runs the CUDA tests on the GPU (the same tests that run in
# the simulator in CI) and bench/gpu.py, and writes logs and device_check.json into
# OUT_DIR. On a machine without a GPU it says so, writes {"gpu": false, ...} and exits 0
# before installing anything.
set -u
cd "$(dirname "$0")/.."
out="${1:-${OUT:-out/device_check}}"
mkdir -p "$out"
json="$out/device_check.json"

if ! python -c "import cupy; assert cupy.cuda.runtime.getDeviceCount() > 0" >"$out/gpu_probe.log" 2>&1; then
    reason="$(tail -n 1 "$out/gpu_probe.log")"
    echo "device_check: no GPU present (${reason:-CuPy sees no CUDA device}); nothing to run"
    REASON="$reason" JSON="$json" python -c 'import json, os
json.dump({"gpu": False, "reason": os.environ["REASON"] or "CuPy sees no CUDA device"},
          open(os.environ["JSON"], "w"), indent=2)'
    exit 0
fi

start=$(date +%s)
nvidia-smi >"$out/nvidia-smi.log" 2>&1
if [ -z "${TINYTX_DEVICE_CHECK_NO_INSTALL:-}" ]; then
    pip install --no-deps --no-build-isolation -e . >"$out/install.log" 2>&1
fi
# The CUDA tests on the GPU: kernels against the CPU fused ops (on CuPy), PTX, CUDA path.
TINYTX_CUDA_TESTS=gpu timeout 240 python -m pytest -q -p no:cacheprovider \
    tests/test_cuda_kernels.py tests/test_cuda_path.py tests/test_kernels.py tests/test_tensor.py \
    >"$out/tests.log" 2>&1
tests_rc=$?
timeout 200 python bench/gpu.py --json "$out/gpu.json" >"$out/gpu.log" 2>&1
bench_rc=$?
cat "$out/gpu.log"
tail -n 3 "$out/tests.log"
TESTS_RC=$tests_rc BENCH_RC=$bench_rc SECONDS_TAKEN=$(( $(date +%s) - start )) OUTDIR="$out" \
python -c 'import json, os, pathlib
out = pathlib.Path(os.environ["OUTDIR"])
tests = (out / "tests.log").read_text().strip().splitlines()
bench = out / "gpu.json"
json.dump({"gpu": True, "tests_rc": int(os.environ["TESTS_RC"]), "tests": tests[-1:] ,
           "bench_rc": int(os.environ["BENCH_RC"]), "seconds": int(os.environ["SECONDS_TAKEN"]),
           "bench": json.loads(bench.read_text()) if bench.exists() else None},
          open(out / "device_check.json", "w"), indent=2)'
echo "device_check: logs and device_check.json in $out"
