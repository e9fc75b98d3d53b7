"""Devices and their array modules: where tensors live and which library computes on them.

Introduced in lesson 01 (every tensor has a device). A `Device` is a small value that
carries `xp`, the NumPy-like module that computes on its arrays:

    cpu     NumPy
    cuda    CuPy (optional; asking for it without CuPy or a GPU raises one clear error)
    strict  NumPy arrays that, like CuPy's, refuse to mix silently with host arrays.
            It exists for the tests: a CPU-only CI catches device-mixing bugs with it.

The few places where NumPy and CuPy differ (scatter-add, host transfer, random numbers,
erf) are methods of Device, one subclass per backend (CpuDevice, StrictDevice,
CudaDevice), so ops never branch on the library or the device's name.

    >>> from tinytx.backend import get_device
    >>> get_device("cpu").xp.__name__
    'numpy'

The files: device.py (Device, the base class), backends.py (its three subclasses,
get_device), gpu.py (CuPy on first use, the cuda device's random generator), strict.py
(the strict device's arrays), memory.py (malloc tuning, memory_owner), process.py (the
process-wide settings scripts opt into).
"""
from .backends import (DEVICE_NAMES, CpuDevice, CudaDevice, DeviceUnavailable, StrictDevice,
                       device_of, get_device, manual_seed)
from .device import Device
from .gpu import CudaGenerator, cuda_available, load_cupy
from .memory import keep_freed_memory, memory_owner
from .process import configure_process
from .strict import StrictArray

__all__ = ["DEVICE_NAMES", "Device", "CpuDevice", "StrictDevice", "CudaDevice",
           "DeviceUnavailable", "device_of", "get_device", "manual_seed",
           "CudaGenerator", "cuda_available", "load_cupy", "configure_process",
           "keep_freed_memory", "memory_owner", "StrictArray"]
