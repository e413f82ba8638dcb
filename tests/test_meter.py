"""The sampler and meters, driven by the shipped fakes (no patching of pynvml here)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from probes.gpu.meter import NullMeter, Sampler
from probes.gpu.nvml import select_visible, visible_selectors
from probes.gpu.testing import FakeClock, FakeDevice, FakeGpuMeter, ReplayMeter, fake_device
from probes.run.session import device_usages, gpu_model


def run_window(meter, clock: FakeClock, seconds: int, step_s: float = 1.0, **kw):  # type: ignore[no-untyped-def]
    sampler = Sampler(meter, clock=clock, **kw)
    sampler.start(background=False)
    for _ in range(int(seconds / step_s)):
        clock.advance(step_s)
        sampler.step()
    return sampler.stop()


def test_energy_from_the_counter_and_busy_seconds_from_utilisation() -> None:
    clock = FakeClock()
    meter = FakeGpuMeter([FakeDevice(fake_device(0), power_w=lambda t: 400.0,
                                     sm_util_pct=lambda t: 25.0)], clock)  # fmt: skip
    (usage,) = run_window(meter, clock, 60)
    assert usage.energy_method == "counter"
    assert usage.energy_j == pytest.approx(400.0 * 60)
    assert usage.wall_s == usage.allocated_gpu_s == 60
    assert usage.busy_gpu_s == pytest.approx(15.0)  # 25 % of 60 s
    assert usage.samples == 62 and not usage.shared


def test_without_a_counter_power_is_integrated_and_says_so() -> None:
    clock = FakeClock()
    ramp = FakeDevice(fake_device(0), energy_counter=False, power_w=lambda t: 100.0 + 10.0 * t)
    (usage,) = run_window(FakeGpuMeter([ramp], clock), clock, 10)
    assert usage.energy_method == "integrated_power"
    assert usage.energy_j == pytest.approx(100 * 10 + 10 * 10**2 / 2)  # exact for a linear ramp


def test_a_counter_reset_falls_back_to_integration() -> None:
    clock = FakeClock()
    reset = FakeDevice(fake_device(0), energy_mj_at=lambda t: 9_000_000 if t < 5 else 1_000)
    (usage,) = run_window(FakeGpuMeter([reset], clock), clock, 10)
    assert usage.energy_method == "integrated_power" and usage.energy_j == pytest.approx(3000)


def test_a_foreign_process_marks_the_device_shared() -> None:
    clock = FakeClock()
    devices = [
        FakeDevice(fake_device(0), foreign_pids=lambda t: {4242} if t >= 3 else set(),
                   job_pids_on_device={100}),
        FakeDevice(fake_device(1), job_pids_on_device={100}),
    ]  # fmt: skip
    first, second = run_window(FakeGpuMeter(devices, clock), clock, 5, job_pids=lambda: {100})
    assert first.shared and first.foreign_pids == [4242]
    assert not second.shared


def test_a_lost_device_leaves_a_partial_usage_and_the_others_go_on() -> None:
    clock = FakeClock()
    devices = [FakeDevice(fake_device(0), lost_after_s=4.0), FakeDevice(fake_device(1))]
    lost, ok = run_window(FakeGpuMeter(devices, clock), clock, 10)
    assert lost.partial_reason and "lost after 4.0 s" in lost.partial_reason
    assert lost.energy_method == "integrated_power"  # the counter cannot be read at the end
    assert lost.energy_j == pytest.approx(300.0 * 3)  # samples up to t=3 s only
    assert lost.allocated_gpu_s == 10  # the allocation is billed whether or not it answers
    assert ok.partial_reason is None and ok.energy_j == pytest.approx(3000)


def test_null_meter_fabricates_nothing() -> None:
    usages = run_window(NullMeter(), FakeClock(), 5)
    assert usages == [] and device_usages("r", usages) == []


def test_device_usages_are_measured_per_device() -> None:
    clock = FakeClock()
    (usage,) = run_window(FakeGpuMeter([FakeDevice(fake_device(3))], clock), clock, 36)
    allocated, busy, energy = device_usages("run-1", [usage])
    assert allocated.resource == "gpu/H100" and allocated.quantity == pytest.approx(0.01)
    assert busy.unit.value == "gpu_hour_busy" and busy.quantity == pytest.approx(0.005)
    assert energy.unit.value == "kwh" and energy.quantity == pytest.approx(300 * 36 / 3.6e6)
    assert energy.detail is not None and energy.detail["method"] == "counter"
    assert {u.provenance.value for u in (allocated, busy, energy)} == {"measured"}


@pytest.mark.parametrize(
    ("name", "model"),
    [("NVIDIA H100 80GB HBM3", "H100"), ("NVIDIA A100-SXM4-40GB", "A100"),
     ("NVIDIA L40S", "L40S"), ("NVIDIA H200", "H200"), ("NVIDIA GH200 480GB", "GH200"),
     ("Tesla V100-SXM2-16GB", "V100"), ("NVIDIA H100 NVL", "H100"), ("Tesla T4", "T4"),
     ("NVIDIA H20", "H20"),
     # an unknown name is upper-cased, as Slurm gres types are (probes.gpu.names.gpu_model_name)
     ("NVIDIA GeForce RTX 4090", "NVIDIA-GEFORCE-RTX-4090")],
)  # fmt: skip
def test_gpu_model_names(name: str, model: str) -> None:
    assert gpu_model(name) == model


def test_cuda_visible_devices_by_index_and_uuid() -> None:
    devices = [fake_device(i) for i in range(4)]
    assert visible_selectors({}) is None
    assert select_visible(devices, visible_selectors({"CUDA_VISIBLE_DEVICES": "2,0"})) == [
        devices[2], devices[0]]  # fmt: skip
    by_uuid = visible_selectors({"CUDA_VISIBLE_DEVICES": devices[1].uuid})
    assert select_visible(devices, by_uuid) == [devices[1]]
    # CUDA ignores an invalid entry and everything after it
    assert select_visible(devices, ["1", "9", "2"]) == [devices[1]]
    assert select_visible(devices, []) == []


def test_replay_meter_reads_a_recorded_sample_file(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    uuid = "GPU-aaaa"
    lines = [
        {"t_s": t, "uuid": uuid, "name": "NVIDIA H100 80GB HBM3", "power_w": 500.0,
         "sm_util_pct": 100, "memory_used_bytes": 1, "energy_mj": 1_000_000 + 500_000 * t}
        for t in range(0, 11)
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(line) for line in lines))
    clock = FakeClock()
    (usage,) = run_window(ReplayMeter(path, clock), clock, 10)
    assert usage.energy_method == "counter" and usage.energy_j == pytest.approx(5000)
    assert usage.busy_gpu_s == pytest.approx(10)


def test_replay_meter_rejects_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text('{"t_s": 0, "uuid": "x"}\nnot json\n')
    with pytest.raises(Exception, match=r"samples.jsonl: line 2"):
        ReplayMeter(path, FakeClock())


def test_the_power_series_is_kept_thinned_on_the_allocated_usage() -> None:
    clock = FakeClock()
    meter = FakeGpuMeter([FakeDevice(fake_device(0), power_w=lambda t: 100.0 + t)], clock)
    sampler = Sampler(meter, clock=clock)
    sampler.start(background=False)
    for _ in range(1500):
        clock.advance(0.5)
        sampler.step()
    (usage,) = sampler.stop()
    allocated, *_ = device_usages("r", [usage], samples=sampler.samples())
    series = allocated.detail["series"]  # type: ignore[index]
    assert len(series["t_s"]) == len(series["power_w"]) == len(series["sm_util_pct"]) <= 600
    assert series["t_s"][0] == 0 and series["t_s"][-1] == 750.0  # ends kept
    assert series["power_w"][-1] == 850.0


def test_the_job_tree_is_read_at_most_once_a_sample_and_only_for_unknown_processes() -> None:
    calls = 0

    def tree() -> set[int]:
        nonlocal calls
        calls += 1
        return {100, 101}

    clock = FakeClock()
    quiet = [FakeDevice(fake_device(i)) for i in range(4)]
    sampler = Sampler(FakeGpuMeter(quiet, clock), clock=clock, job_pids=tree)
    sampler.start(background=False)
    for _ in range(10):
        sampler.step()
    assert calls == 0  # no process on any device: nothing to tell apart

    own = [FakeDevice(fake_device(i), job_pids_on_device={100, 101}) for i in range(4)]
    sampler = Sampler(FakeGpuMeter(own, clock), clock=clock, job_pids=tree)
    sampler.start(background=False)
    for _ in range(10):
        sampler.step()
    assert calls == 1  # read once; the job's own processes are known from then on

    calls = 0
    foreign = [FakeDevice(fake_device(i), foreign_pids=lambda t: {999}) for i in range(8)]
    sampler = Sampler(FakeGpuMeter(foreign, clock), clock=clock, job_pids=tree)
    sampler.start(background=False)
    for _ in range(10):
        sampler.step()
    usages = sampler.stop()
    assert calls == 12  # once per sample (start, 10 steps, stop), not once per device
    assert all(u.shared and u.foreign_pids == [999] for u in usages)


def test_background_sampling_runs_until_stop_and_not_after() -> None:
    from probes.gpu.meter import SystemClock

    meter = FakeGpuMeter([FakeDevice(fake_device(0))], SystemClock())
    sampler = Sampler(meter, interval_s=0.02)
    sampler.start()
    assert sampler.samples()  # the first sample, before start() returns
    deadline = time.monotonic() + 10
    while len(sampler.samples()) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    (usage,) = sampler.stop()
    assert usage.samples >= 5 and len(sampler.samples()) == usage.samples
    assert sampler.stop() == [usage]  # the window ends once
    time.sleep(0.1)
    assert len(sampler.samples()) == usage.samples
