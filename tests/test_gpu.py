"""Real-GPU checks of the NVML path (marker `gpu`): they run only where NVML initialises.

See docs/gpu-checks.md for how to run them and the readings recorded so far. The load is a bf16
matrix product through PyTorch on the first visible GPU; its length is RECEIPTS_GPU_LOAD_S
(default 60 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from itertools import pairwise

import pytest

from probes.gpu.meter import Sampler
from probes.gpu.nvml import open_meter

pytestmark = pytest.mark.gpu
LOAD_S = float(os.environ.get("RECEIPTS_GPU_LOAD_S", "60"))
LOAD = """
import sys, time, torch
seconds = float(sys.argv[1])
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
end = time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(20):
        a @ b
    torch.cuda.synchronize()
"""


@pytest.fixture
def meter():  # type: ignore[no-untyped-def]
    found = open_meter()
    if found is None or not found.devices():
        pytest.skip("NVML does not initialise here, or sees no device")
    yield found
    found.close()


def _window(meter, seconds: float, job: subprocess.Popen[bytes] | None = None):  # type: ignore[no-untyped-def]
    """Meter one window; returns the first device's usage and the power integral of its samples."""
    pids = (lambda: {os.getpid(), job.pid}) if job is not None else (lambda: {os.getpid()})
    sampler = Sampler(meter, interval_s=0.1, job_pids=pids)
    sampler.start()
    if job is not None:
        job.wait(timeout=seconds + 120)
    else:
        time.sleep(seconds)
    usage = sampler.stop()[0]
    points = [(s.t_s, s.power_w) for s in sampler.samples()
              if s.device_uuid == usage.device.uuid and s.power_w is not None]  # fmt: skip
    integrated = sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in pairwise(points))
    return usage, integrated


def _load(seconds: float) -> subprocess.Popen[bytes]:
    pytest.importorskip("torch")
    return subprocess.Popen([sys.executable, "-c", LOAD, str(seconds)])


def test_energy_counter_agrees_with_integrated_power_under_load(meter) -> None:  # type: ignore[no-untyped-def]
    usage, integrated = _window(meter, LOAD_S, _load(LOAD_S))
    share = usage.busy_gpu_s / usage.wall_s
    print(
        f"\n{usage.device.name}: counter {usage.energy_j:.0f} J, integrated power "
        f"{integrated:.0f} J over {usage.wall_s:.1f} s; busy share {share:.3f}"
    )
    assert usage.energy_method == "counter", "H100 and every Volta+ GPU have the energy counter"
    assert usage.energy_j == pytest.approx(integrated, rel=0.10)
    assert usage.busy_gpu_s / usage.wall_s > 0.8


def test_idle_utilisation_is_low(meter) -> None:  # type: ignore[no-untyped-def]
    usage, _ = _window(meter, 5.0)
    print(f"\nidle: busy share {usage.busy_gpu_s / usage.wall_s:.3f}, {usage.energy_j:.0f} J")
    assert usage.busy_gpu_s / usage.wall_s < 0.10


def test_a_second_process_on_the_device_is_flagged_shared(meter) -> None:  # type: ignore[no-untyped-def]
    other = _load(20)  # not part of the metered job's process tree
    try:
        time.sleep(5)  # let it create its CUDA context
        usage, _ = _window(meter, 5.0)
    finally:
        other.kill()
        other.wait()
    print(f"\nshared: {usage.shared}, foreign pids {usage.foreign_pids}")
    assert usage.shared and other.pid in usage.foreign_pids
