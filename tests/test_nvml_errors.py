"""NvmlMeter against patched NVML calls: the one place NVML errors become typed errors."""

from __future__ import annotations

from types import SimpleNamespace

import pynvml
import pytest

from probes.gpu.errors import DeviceLost, MeterError, MeterUnavailable, NotSupported
from probes.gpu.nvml import NvmlMeter, open_meter


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A two-GPU NVML whose calls tests can make fail."""
    calls: dict[str, object] = {}
    handles = ["h0", "h1"]

    def fn(name: str, default):  # type: ignore[no-untyped-def]
        def call(*args):  # type: ignore[no-untyped-def]
            behaviour = calls.get(name, default)
            if isinstance(behaviour, int):
                raise pynvml.NVMLError(behaviour)
            return behaviour(*args) if callable(behaviour) else behaviour

        call.__name__ = name
        monkeypatch.setattr(pynvml, name, call)

    fn("nvmlInit", lambda: None)
    fn("nvmlShutdown", lambda: None)
    fn("nvmlDeviceGetCount", lambda: 2)
    fn("nvmlDeviceGetHandleByIndex", lambda i: handles[i])
    fn("nvmlDeviceGetUUID", lambda h: f"GPU-{h}")
    fn("nvmlDeviceGetName", lambda h: "NVIDIA H100 80GB HBM3")
    fn("nvmlDeviceGetMemoryInfo", lambda h: SimpleNamespace(total=80 << 30, used=1 << 30))
    fn("nvmlDeviceGetTotalEnergyConsumption", lambda h: 123_456)
    fn("nvmlDeviceGetPowerUsage", lambda h: 350_500)
    fn("nvmlDeviceGetUtilizationRates", lambda h: SimpleNamespace(gpu=87, memory=40))
    fn("nvmlDeviceGetComputeRunningProcesses", lambda h: [SimpleNamespace(pid=7)])
    return calls


def test_readings_convert_units(nvml: dict[str, object]) -> None:
    meter = NvmlMeter(environ={})
    first, second = meter.devices()
    assert (first.uuid, second.index, first.memory_total_bytes) == ("GPU-h0", 1, 80 << 30)
    reading = meter.read(first)
    assert (reading.power_w, reading.sm_util_pct) == (350.5, 87.0)
    assert meter.energy_mj(first) == 123_456 and meter.process_ids(first) == {7}


def test_visible_devices_are_respected(nvml: dict[str, object]) -> None:
    assert [d.uuid for d in NvmlMeter({"CUDA_VISIBLE_DEVICES": "1"}).devices()] == ["GPU-h1"]


def test_not_supported_energy_counter(nvml: dict[str, object]) -> None:
    nvml["nvmlDeviceGetTotalEnergyConsumption"] = pynvml.NVML_ERROR_NOT_SUPPORTED
    meter = NvmlMeter({})
    with pytest.raises(NotSupported):
        meter.energy_mj(meter.devices()[0])


def test_unsupported_power_reads_as_none(nvml: dict[str, object]) -> None:
    nvml["nvmlDeviceGetPowerUsage"] = pynvml.NVML_ERROR_NOT_SUPPORTED
    meter = NvmlMeter({})
    assert meter.read(meter.devices()[0]).power_w is None


def test_lost_gpu(nvml: dict[str, object]) -> None:
    meter = NvmlMeter({})
    device = meter.devices()[0]
    nvml["nvmlDeviceGetPowerUsage"] = pynvml.NVML_ERROR_GPU_IS_LOST
    with pytest.raises(DeviceLost):
        meter.read(device)


def test_no_driver_means_no_meter(nvml: dict[str, object]) -> None:
    nvml["nvmlInit"] = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    with pytest.raises(MeterUnavailable):
        NvmlMeter({})
    assert open_meter({}) is None


def test_other_errors_are_meter_errors(nvml: dict[str, object]) -> None:
    nvml["nvmlDeviceGetCount"] = pynvml.NVML_ERROR_NO_PERMISSION
    with pytest.raises(MeterError, match="no permission"):
        NvmlMeter({}).devices()
