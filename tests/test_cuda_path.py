"""What the CUDA path needs besides kernels, tested without a GPU: `import tinytx` loads
neither CuPy nor numba, asking for cuda without them names what is missing, the cuda
generator's state (seed, offset) round-trips through JSON (exact resume; cuRAND stood in
for by NumPy), and bench/device_check.sh stops cleanly on a machine without a GPU."""
import ctypes
import json
import os
import pathlib
import subprocess
import sys
import types

import numpy as np
import pytest

import tinytx as tx
from tinytx import backend

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if "PYTHONPATH" in os.environ else [])))
    env.update(extra)
    return env


def test_import_tinytx_loads_neither_cupy_nor_numba(tmp_path):
    """Fake `cupy` and `numba` packages that fail on import: importing tinytx (and building
    a model on the CPU) must not touch them."""
    for name in ("cupy", "numba"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise RuntimeError('{name} was imported')\n")
    code = ("import sys, tinytx, tinytx.nn, tinytx.optim, tinytx.kernels.dispatch; "
            "tinytx.nn.Linear(3, 2)(tinytx.randn(1, 3)); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cupy', 'numba')))")
    env = _env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path)])
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.skipif(tx.cuda_available(), reason="a GPU is present")
def test_asking_for_cuda_without_it_names_what_is_missing():
    with pytest.raises(RuntimeError, match="CuPy|GPU|driver") as e:
        tx.zeros(2, device="cuda")
    assert "device 'cuda'" in str(e.value) and "device='cpu'" in str(e.value)


class _DeviceArray(np.ndarray):
    """A NumPy array standing in for a CuPy one: `.data.ptr` is its address."""

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.ctypes.data)


class _FakeCurand:
    """cuRAND's host API as CuPy exposes it (cupy.cuda.curand), on NumPy: the k-th 32-bit
    value of a generator is a hash of (seed, k), so values depend on the absolute offset
    only, as Philox's do, and each fill records which values it used."""

    CURAND_RNG_PSEUDO_PHILOX4_32_10 = 161

    def __init__(self):
        self.created, self.used, self.gens = 0, [], {}

    def createGenerator(self, kind):
        assert kind == self.CURAND_RNG_PSEUDO_PHILOX4_32_10
        self.created += 1
        self.gens[self.created] = {"seed": None, "offset": None}
        return self.created

    def destroyGenerator(self, handle):
        self.gens.pop(handle, None)

    def setPseudoRandomGeneratorSeed(self, handle, seed):
        self.gens[handle]["seed"] = seed

    def setGeneratorOffset(self, handle, offset):
        self.gens[handle]["offset"] = offset

    def _words(self, handle, count):
        gen = self.gens[handle]
        k = np.arange(gen["offset"], gen["offset"] + count, dtype=np.uint64)
        self.used.append(set(k.tolist()))
        gen["offset"] += count
        with np.errstate(over="ignore"):                   # wraps around, as meant
            z = (k + np.uint64(gen["seed"]) * np.uint64(0x9E3779B97F4A7C15)) * np.uint64(
                0xBF58476D1CE4E5B9)
        return (z >> np.uint64(32)).astype(np.uint32)

    def _out(self, ptr, n, dtype):
        return np.frombuffer((ctypes.c_char * (n * np.dtype(dtype).itemsize)).from_address(ptr),
                             dtype)

    def generate(self, handle, ptr, n):
        self._out(ptr, n, np.uint32)[:] = self._words(handle, n)

    def _uniform(self, handle, n, per):
        w = self._words(handle, n * per).reshape(n, per)[:, 0]
        return (w % 1000 + 1) / 1000.0                      # (0, 1], 1 included, as cuRAND

    def generateUniform(self, handle, ptr, n):
        self._out(ptr, n, np.float32)[:] = self._uniform(handle, n, 1)

    def generateUniformDouble(self, handle, ptr, n):
        self._out(ptr, n, np.float64)[:] = self._uniform(handle, n, 2)

    def generateNormal(self, handle, ptr, n, mean, std):
        assert n % 2 == 0, "cuRAND makes normals in pairs"
        self._out(ptr, n, np.float32)[:] = self._uniform(handle, n, 1) - 0.5

    def generateNormalDouble(self, handle, ptr, n, mean, std):
        assert n % 2 == 0, "cuRAND makes normals in pairs"
        self._out(ptr, n, np.float64)[:] = self._uniform(handle, n, 2) - 0.5


@pytest.fixture
def fake_cupy(monkeypatch):
    curand = _FakeCurand()
    fake = types.SimpleNamespace(empty=lambda n, dtype: np.empty(n, dtype).view(_DeviceArray),
                                 where=np.where, asnumpy=np.asarray, ndarray=_DeviceArray,
                                 cuda=types.SimpleNamespace(curand=curand))
    monkeypatch.setattr(backend.gpu, "_cupy", fake)
    return fake


def _draws(gen):
    return [gen.standard_normal((3,), np.float32), gen.integers(-2, 9, (2, 5)),
            gen.random((2, 3), np.float64), gen.standard_normal((5,), np.float64),
            gen.philox_key(), gen.random(7, np.float32)]


def test_cuda_generator_state_round_trips_through_json(fake_cupy):
    """The cuda generator's state is (seed, offset): saved as JSON and restored into
    another generator, every later draw replays (CuPy's cuRAND stood in for by NumPy)."""
    gen = backend.CudaGenerator(7)
    gen.random((3,), np.float32)
    state = json.loads(json.dumps(gen.state))                       # through JSON, as saved
    assert state == {"bit_generator": "Philox4x32-10 (cuRAND)", "seed": 7, "offset": 4}
    a = _draws(gen)
    other = backend.CudaGenerator(123)
    other.state = state
    for x, y in zip(a, _draws(other), strict=True):
        np.testing.assert_array_equal(x, y)
    assert other.state == gen.state
    assert not np.array_equal(gen.random((4,), np.float32), gen.random((4,), np.float32))
    with pytest.raises(ValueError, match="cuda generator state"):
        other.state = {"bit_generator": "PCG64", "state": {}}


def test_cuda_generator_is_one_curand_generator_whose_draws_never_overlap(fake_cupy):
    gen, curand = backend.CudaGenerator(1), fake_cupy.cuda.curand
    for _ in range(3):
        _draws(gen)
    used = list(curand.used)                        # the 32-bit values of each fill
    assert sum(len(u) for u in used) == len(set().union(*used))
    gen.manual_seed(2)
    _draws(gen)
    assert curand.created == 1                      # one cuRAND generator, made once
    assert gen.offset % 4 == 0


def test_cuda_generator_ranges(fake_cupy):
    gen = backend.CudaGenerator(0)
    u = gen.random((5000,), np.float32)
    assert u.dtype == np.float32 and u.min() == 0.0 and u.max() < 1.0   # 1 becomes 0
    i = gen.integers(-3, 4, (1000,))
    assert i.dtype == np.int64 and set(np.unique(i).tolist()) == set(range(-3, 4))
    assert gen.standard_normal((3, 1), np.float32).shape == (3, 1)
    assert gen.standard_normal((0,), np.float64).shape == (0,)
    with pytest.raises(TypeError, match="float32 or float64"):
        gen.standard_normal((2,), np.float16)


def test_cuda_device_resumes_its_draws(fake_cupy):
    """The cuda device keeps one generator; get/set_rng_state replay randn, rand, randint
    and philox_key (what a CUDA resume restores from the checkpoint's JSON)."""
    dev, other = backend.CudaDevice(), backend.CudaDevice()
    dev.seed(5)
    gen = dev._rng
    dev.randn((2, 3), np.float32)
    state = json.loads(json.dumps(dev.get_rng_state()))
    def draws(d):
        return [d.randn((4,), np.float32), d.rand((3,), np.float64), d.randint(0, 10, (6,)),
                d.philox_key()]
    a = draws(dev)
    other.set_rng_state(state)
    for x, y in zip(a, draws(other), strict=True):
        np.testing.assert_array_equal(x, y)
    dev.seed(5)
    assert dev._rng is gen and dev.get_rng_state()["offset"] == 0


@pytest.mark.parametrize("device", ["strict"] + (["cuda"] if tx.cuda_available() else []))
def test_to_device_and_back(device):
    x = tx.randn(3, 4, dtype="float64")
    y = x.to(device)
    assert y.device.name == device and y.to("cpu").device.name == "cpu"
    np.testing.assert_array_equal(y.to("cpu").numpy(), x.numpy())


@pytest.mark.skipif(tx.cuda_available(), reason="a GPU is present: the script would really run")
def test_device_check_stops_cleanly_without_a_gpu(tmp_path):
    """The dry run on a CPU: says "no GPU", writes why, exits 0, installs and runs nothing
    (bench/device_check.sh stops before its install step and bench/gpu.py)."""
    env = {k: v for k, v in _env(PYTHON=sys.executable).items()
           if k not in ("PYTHONPATH", "TINYTX_DEVICE_CHECK_SIMULATE")}    # the script sets it
    done = subprocess.run(["bash", str(ROOT / "bench" / "device_check.sh"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no GPU" in done.stdout
    result = json.loads((tmp_path / "device_check.json").read_text())
    assert result["gpu"] is False and result["reason"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device_check.json", "gpu_probe.log"]
