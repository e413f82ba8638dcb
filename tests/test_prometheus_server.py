"""``receipts import prometheus`` against a real Prometheus server (Debian's ``prometheus``),
started on loopback, scraping simulated dcgm-exporters (``tests/dcgm_exporter.py``) of a 2-node
job with 2 GPUs in the job on each node, one GPU outside it, and one driver reload mid-job.

``make test`` runs it through ``scripts/with-prometheus.sh``, which sets
``RECEIPTS_REQUIRE_PROMETHEUS=1``: there a missing binary fails the tests instead of skipping them.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledger.schema import Provenance, Unit
from ledger.store import Ledger
from receipts.cli import app
from tests.cli_helpers import assert_bad_input
from tests.dcgm_exporter import Exporter, Gpu, Node

pytestmark = pytest.mark.prometheus

JOB = "4242"
SCRAPES_IN_JOB = 6
H100 = "NVIDIA H100 80GB HBM3"


def prometheus_binary() -> str:
    """The server binary, or a skip (a failure under ``make test``)."""
    found = os.environ.get("RECEIPTS_TEST_PROMETHEUS_BIN") or shutil.which("prometheus")
    if found and Path(found).is_file():
        return found
    if os.environ.get("RECEIPTS_REQUIRE_PROMETHEUS") == "1":
        pytest.fail("RECEIPTS_REQUIRE_PROMETHEUS=1 but no prometheus binary was found")
    pytest.skip("no prometheus binary (apt-get install prometheus; `make test` installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(url: str, path: str, **params: str) -> Any:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{query}", timeout=5) as response:
        return json.load(response)


@dataclass
class Cluster:
    url: str
    nodes: list[Node]
    start: datetime
    end: datetime

    def gpu(self, host: str, index: int) -> Gpu:
        node = next(n for n in self.nodes if n.host == host)
        return next(g for g in node.gpus if g.index == index)


def expected_energy_j(gpu: Gpu) -> float:
    """What the counter says the GPU used between its first and last scrape in the job: one
    simulated second per scrape, less the half second before the driver reload."""
    lost = 0.5 * gpu.busy_w if gpu.resets else 0.0
    return gpu.busy_w * (gpu.job_scrapes - 1) - lost


def scrape_times(cluster: Cluster, host: str, index: int, start: float, end: float) -> list[float]:
    """When Prometheus scraped one GPU in the job inside ``[start, end]`` (unix seconds)."""
    found = api(
        cluster.url,
        "/api/v1/query",
        query=f'DCGM_FI_DEV_GPU_UTIL{{hpc_job="{JOB}",Hostname="{host}",gpu="{index}"}}[5m]',
        time=f"{end:.3f}",
    )["data"]["result"]
    return sorted({float(t) for r in found for t, _ in r["values"] if start <= float(t) <= end})


def expected_seconds(
    cluster: Cluster, host: str, index: int, start: float, end: float, wall: float | None = None
) -> tuple[float, float]:
    """(allocated, busy) seconds of one GPU over the window, from the scrape times Prometheus
    stored: the utilisation is held at most one scrape interval (the median gap) past the first
    and last scrape; the GPU counts as allocated for the whole window where the scrapes, so
    held, cover 90 % of it, else for what they cover. The simulated job's window runs from the
    first node's start to the last node's end, so a node that started later is not covered from
    the window's start."""
    times = scrape_times(cluster, host, index, start, end)
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    mid = len(gaps) // 2
    interval = gaps[mid] if len(gaps) % 2 else (gaps[mid - 1] + gaps[mid]) / 2
    wall = end - start if wall is None else wall  # the run's, from its datetimes
    first, last = times[0] - start, times[-1] - start
    covered = min(wall, last + interval) - max(0.0, first - interval)
    held = (last - first) + min(first, interval) + min(wall - last, interval)
    util = cluster.gpu(host, index).util_pct / 100
    return (wall if covered >= 0.9 * wall else covered), util * held


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Run the simulated job once under a real Prometheus; every test reads what it stored."""
    binary = prometheus_binary()
    nodes = [
        Node("node-a", [Gpu(0, "GPU-a0", H100, 700, 100), Gpu(1, "GPU-a1", H100, 350, 50)]),
        Node(
            "node-b",
            [
                Gpu(0, "GPU-b0", H100, 500, 80, reset_after=3),
                Gpu(1, "GPU-b1", H100, 400, 25),
                Gpu(2, "GPU-b2", H100, 300, 90, in_job=False),
            ],
        ),
    ]
    exporter = Exporter(nodes)
    root = tmp_path_factory.mktemp("prometheus")
    targets = ", ".join(f"'{t}'" for t in exporter.targets)
    (root / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: dcgm\n    static_configs:\n"
        f"      - targets: [{targets}]\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "prometheus.log").open("w")
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while not all(n.scrapes >= 2 for n in nodes):  # ready, and scraping both nodes
            assert server.poll() is None, (root / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "Prometheus did not scrape the exporters"
            time.sleep(0.1)
        for node in nodes:
            node.start_job(JOB)
        while not all(g.job_scrapes >= SCRAPES_IN_JOB for n in nodes for g in n.gpus if g.in_job):
            assert time.monotonic() < deadline + 20, "the simulated job did not run"
            time.sleep(0.1)
        for node in nodes:
            node.end_job()
        assert all(node.wait_ended(10) for node in nodes)
        assert all(n.started_at and n.ended_at for n in nodes)
        start = datetime.fromtimestamp(min(n.started_at or 0 for n in nodes), UTC)
        end = datetime.fromtimestamp(max(n.ended_at or 0 for n in nodes), UTC)
        in_job = sum(g.in_job for n in nodes for g in n.gpus)
        want = {(n.host, g.index): g.job_scrapes for n in nodes for g in n.gpus if g.in_job}
        while True:  # until Prometheus has ingested every scrape of the job
            found = api(
                url,
                "/api/v1/query",
                query=f'count_over_time(DCGM_FI_DEV_GPU_UTIL{{hpc_job="{JOB}"}}[2m])',
            )["data"]["result"]
            got = {
                (r["metric"]["Hostname"], int(r["metric"]["gpu"])): int(r["value"][1])
                for r in found
            }
            if len(got) == in_job and got == want:
                break
            assert time.monotonic() < deadline + 40, f"Prometheus stored {got}, want {want}"
            time.sleep(0.2)
        yield Cluster(url, nodes, start, end)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        exporter.close()


def args(cluster: Cluster, ledger_url: str, *extra: str, window: bool = True) -> list[str]:
    bounds = ["--start", cluster.start.isoformat(), "--end", cluster.end.isoformat()]
    return [
        "import",
        "prometheus",
        "--url",
        cluster.url,
        "--job",
        JOB,
        "--subject",
        "toy",
        "--stage",
        "sft",
        "--category",
        "fine_tuning",
        "--create-subject",
        "--ledger",
        ledger_url,
        *(bounds if window else []),
        *extra,
    ]


def invoke(runner: CliRunner, argv: list[str]) -> Any:
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    return result


def test_records_each_gpus_energy_and_gpu_hours_exactly(
    runner: CliRunner, cluster: Cluster, sqlite_url: str
) -> None:
    result = json.loads(invoke(runner, [*args(cluster, sqlite_url), "--json"]).stdout)
    wall = (cluster.end - cluster.start).total_seconds()
    assert [node["host"] for node in result["nodes"]] == ["node-a", "node-b"]
    assert result["gpus"] == 4  # node-b's GPU 2 ran no part of the job
    gpus = {(node["host"], g["index"]): g for node in result["nodes"] for g in node["gpus"]}
    assert set(gpus) == {("node-a", 0), ("node-a", 1), ("node-b", 0), ("node-b", 1)}
    for (host, index), row in gpus.items():
        sim = cluster.gpu(host, index)
        assert row["energy_j"] == expected_energy_j(sim)
        assert row["energy_method"] == "counter"
        assert row["counter_resets"] == sim.resets
        assert row["samples"] == sim.job_scrapes
        want_alloc, want_busy = expected_seconds(
            cluster, host, index, cluster.start.timestamp(), cluster.end.timestamp(), wall
        )
        assert row["allocated_gpu_s"] == pytest.approx(want_alloc, rel=1e-12)
        assert row["busy_gpu_s"] == pytest.approx(want_busy, rel=1e-12)
    assert gpus["node-b", 0]["counter_resets"] == 1
    reloaded = cluster.gpu("node-b", 0)  # 500 W; its counter restarted at 0 mid-job
    assert reloaded.job_scrapes >= SCRAPES_IN_JOB
    assert gpus["node-b", 0]["energy_j"] == 500 * (reloaded.job_scrapes - 1) - 250

    with Ledger(sqlite_url) as ledger:
        runs = {r.host: r for r in ledger.runs("toy")}
        usages = ledger.usages("toy")
    assert set(runs) == {"node-a", "node-b"}
    for run in runs.values():
        assert run.job_id == JOB
        assert run.started_at == cluster.start and run.ended_at == cluster.end
        assert run.wall_time_s == wall
        assert (run.detail or {})["importer"] == "prometheus"
    by_id = {u.id: u for u in usages}
    assert all(u.provenance is Provenance.MEASURED for u in usages)
    for (host, index), _row in gpus.items():
        sim = cluster.gpu(host, index)
        base = f"{runs[host].id}/gpu{index}"
        allocated, busy, energy = (by_id[f"{base}/{k}"] for k in ("allocated", "busy", "energy"))
        assert (allocated.resource, allocated.unit) == ("gpu/H100", Unit.GPU_HOUR)
        assert allocated.quantity == _row["allocated_gpu_s"] / 3600
        assert busy.unit is Unit.GPU_HOUR_BUSY
        assert busy.quantity == _row["busy_gpu_s"] / 3600
        assert allocated.detail is not None and allocated.detail["window_s"] == wall
        assert allocated.detail["allocated_from"] == _row["allocated_from"]
        assert (energy.resource, energy.unit) == ("energy/gpu", Unit.KWH)
        assert energy.quantity == expected_energy_j(sim) / 3.6e6
        assert energy.detail is not None
        assert energy.detail["method"] == "counter"
        assert energy.detail["energy_j"] == expected_energy_j(sim)
        assert energy.detail["device_uuid"] == sim.uuid
        assert energy.detail["counter_resets"] == sim.resets
        series = (allocated.detail or {})["series"]
        assert series["power_w"] == [float(sim.busy_w)] * sim.job_scrapes


def test_importing_again_adds_nothing_and_overlaps_are_refused(
    runner: CliRunner, cluster: Cluster, sqlite_url: str
) -> None:
    first = json.loads(invoke(runner, [*args(cluster, sqlite_url), "--json"]).stdout)
    again = json.loads(invoke(runner, [*args(cluster, sqlite_url), "--json"]).stdout)
    assert first["appended"] > 0
    assert (again["appended"], again["superseded"]) == (0, 0)
    assert again["unchanged"] == first["appended"] - 1  # the subject is not created again
    with Ledger(sqlite_url) as ledger:
        head = ledger.head()
    shifted = cluster.start.timestamp() - 1
    argv = args(cluster, sqlite_url, window=False)
    result = runner.invoke(
        app, [*argv, "--start", f"{shifted:.3f}", "--end", cluster.end.isoformat()]
    )
    assert_bad_input(result, "--start/--end", "overlaps run prometheus/4242/node-a/")
    with Ledger(sqlite_url) as ledger:
        assert ledger.head() == head


def test_the_window_comes_from_the_jobs_sacct_record_and_reconciles(
    runner: CliRunner, cluster: Cluster, sqlite_url: str, tmp_path: Path
) -> None:
    start = math.floor(cluster.start.timestamp())
    end = math.ceil(cluster.end.timestamp())
    local = "%Y-%m-%dT%H:%M:%S"
    sacct = tmp_path / "sacct.txt"
    sacct.write_text(
        "JobID|JobIDRaw|JobName|State|ElapsedRaw|AllocTRES|Start|End|NodeList\n"
        f"{JOB}|{JOB}|train|COMPLETED|{end - start}|gres/gpu:h100=4,node=2|"
        f"{datetime.fromtimestamp(start, UTC):{local}}|{datetime.fromtimestamp(end, UTC):{local}}"
        "|node-[a-b]\n"
    )
    invoke(
        runner,
        ["import", "sacct", str(sacct), "--subject", "toy", "--stage", "sft", "--category",
         "fine_tuning", "--create-subject", "--ledger", sqlite_url],
    )  # fmt: skip
    result = json.loads(invoke(runner, [*args(cluster, sqlite_url, window=False), "--json"]).stdout)
    assert result["window_from"].startswith(f"sacct run slurm/slurm/{JOB}/")
    # Slurm's whole seconds widen the window: each GPU is allocated what its scrapes cover.
    want = [
        expected_seconds(cluster, n.host, g.index, start, end)[0]
        for n in cluster.nodes
        for g in n.gpus
        if g.in_job
    ]
    assert result["allocated_gpu_hours"] == pytest.approx(math.fsum(want) / 3600, rel=1e-12)
    energy = sum(expected_energy_j(g) for n in cluster.nodes for g in n.gpus if g.in_job)
    assert result["energy_kwh"] == pytest.approx(energy / 3.6e6, rel=1e-12)

    done = json.loads(
        invoke(runner, ["reconcile", "--job", JOB, "--ledger", sqlite_url, "--json"]).stdout
    )
    assert done["slurm_gpu_hours"] == 4 * (end - start) / 3600
    assert done["prometheus_gpu_hours"] == pytest.approx(result["allocated_gpu_hours"])
    gap = done["slurm_gpu_hours"] - done["prometheus_gpu_hours"]
    assert done["prometheus_difference_gpu_hours"] == pytest.approx(gap)
    assert done["prometheus_agrees"] is (gap <= 0.02 * done["slurm_gpu_hours"] + 1e-9)
    said = "agree" if done["prometheus_agrees"] else "more than Prometheus"
    assert done["probe_runs"] == []  # no wrapper ran: the Prometheus runs are not wrapper runs
    assert done["prometheus_hosts"] == ["node-a", "node-b"]
    assert any("Prometheus" in line and said in line for line in done["explanation"])


def test_selection_by_host_and_gpu_without_a_job_label(
    runner: CliRunner, cluster: Cluster, sqlite_url: str
) -> None:
    argv = args(cluster, sqlite_url, "--job-label", "none", "--host", "node-b", "--gpu", "2")
    result = json.loads(invoke(runner, [*argv, "--json"]).stdout)
    (node,) = result["nodes"]
    (gpu,) = node["gpus"]
    assert (node["host"], gpu["index"], gpu["uuid"]) == ("node-b", 2, "GPU-b2")
    # Outside the job the GPU idled at 60 W: a sample a simulated second.
    assert gpu["energy_j"] == 60 * (gpu["samples"] - 1)
    assert gpu["busy_gpu_s"] == 0.0


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--job", "9999"], ["no DCGM series match", 'hpc_job="9999"']),
        (["--match", "namespace"], ["--match 'namespace'", "LABEL=VALUE"]),
        (["--job-label", "bad-label"], ["--job-label 'bad-label'", "not a Prometheus label"]),
        (["--job-label", "none"], ["--job-label none selects every GPU"]),
    ],
)
def test_bad_selections_write_nothing(
    runner: CliRunner, cluster: Cluster, sqlite_url: str, extra: list[str], needles: list[str]
) -> None:
    result = runner.invoke(app, [*args(cluster, sqlite_url), *extra])
    assert_bad_input(result, *needles)
    with Ledger(sqlite_url) as ledger:
        assert ledger.runs() == []


def test_an_unreachable_server_is_one_line(runner: CliRunner, sqlite_url: str) -> None:
    port = free_port()  # nothing listens there
    result = runner.invoke(
        app,
        ["import", "prometheus", "--url", f"http://user:secret@127.0.0.1:{port}", "--job", JOB,
         "--subject", "toy", "--stage", "sft", "--category", "fine_tuning", "--create-subject",
         "--start", "2025-01-01T00:00:00Z", "--end", "2025-01-01T01:00:00Z",
         "--ledger", sqlite_url],
    )  # fmt: skip
    assert_bad_input(result, f"--url http://127.0.0.1:{port}", "cannot reach Prometheus")
    assert "secret" not in result.stderr


def _wrapper_run(cluster: Cluster, host: str, gpus: int, kwh: float) -> list[Any]:
    """What ``receipts run`` on ``host`` writes for the job: a run tagged with the job id and the
    host over the job's window, its allocated GPU-hours and energy measured."""
    from ledger.schema import Category, Run, RunStatus, Subject, Usage

    wall = (cluster.end - cluster.start).total_seconds()
    run = Run(
        id=f"toy/sft/{host}-wrapped",
        subject="toy",
        stage="sft",
        category=Category.FINE_TUNING,
        name="sft",
        status=RunStatus.SUCCEEDED,
        started_at=cluster.start,
        ended_at=cluster.end,
        wall_time_s=wall,
        host=host,
        job_id=JOB,
    )
    usages = [
        Usage(id=f"{run.id}/{name}", run=run.id, resource=resource, unit=unit, quantity=quantity,
              provenance=Provenance.MEASURED)
        for name, resource, unit, quantity in (
            ("allocated", "gpu/H100", Unit.GPU_HOUR, gpus * wall / 3600),
            ("energy", "energy/gpu", Unit.KWH, kwh),
        )
    ]  # fmt: skip
    return [Subject(id="toy", name="toy"), run, *usages]


def test_a_node_a_wrapper_metered_is_refused_compared_and_counted_once(
    runner: CliRunner, cluster: Cluster, sqlite_url: str
) -> None:
    """The wrapper metered node-a: importing its GPUs from Prometheus too would add them to the
    report a second time. The import is refused with the run's name, ``--compare`` sets the two
    side by side writing nothing, and node-b (no wrapper) is imported alone."""
    with Ledger(sqlite_url) as ledger:
        ledger.record(_wrapper_run(cluster, "node-a", 2, 0.0005))
        head = ledger.head()
    result = runner.invoke(app, args(cluster, sqlite_url))
    assert_bad_input(result, "run toy/sft/node-a-wrapped", "already metered", "node-a", "--compare")
    shown = json.loads(invoke(runner, [*args(cluster, sqlite_url, "--compare"), "--json"]).stdout)
    a, b = shown["nodes"]
    wall = (cluster.end - cluster.start).total_seconds()
    assert (a["host"], a["wrapper_runs"]) == ("node-a", ["toy/sft/node-a-wrapped"])
    assert a["wrapper_gpu_hours"] == 2 * wall / 3600 and a["wrapper_energy_kwh"] == 0.0005
    energy_a = sum(expected_energy_j(cluster.gpu("node-a", i)) for i in (0, 1))
    assert a["prometheus_energy_kwh"] == pytest.approx(energy_a / 3.6e6, rel=1e-12)
    assert (b["host"], b["wrapper_runs"], b["wrapper_gpu_hours"]) == ("node-b", [], None)
    assert any("never added" in line for line in shown["explanation"])
    text = invoke(runner, args(cluster, sqlite_url, "--compare")).stdout
    assert "nothing recorded" in text and "toy/sft/node-a-wrapped" in text
    with Ledger(sqlite_url) as ledger:
        assert ledger.head() == head  # --compare wrote nothing

    node_b = json.loads(
        invoke(runner, [*args(cluster, sqlite_url, "--host", "node-b"), "--json"]).stdout
    )
    report = json.loads(
        invoke(runner, ["report", "--subject", "toy", "--ledger", sqlite_url, "--json"]).stdout
    )
    (own,) = report["totals"]
    assert own["gpu_hours"] == pytest.approx(2 * wall / 3600 + node_b["allocated_gpu_hours"])
    kwh = [ln["quantity"] for g in report["groups"] for ln in g["lines"] if ln["unit"] == "kwh"]
    assert sum(kwh) == pytest.approx(0.0005 + node_b["energy_kwh"])


def test_a_wrapper_still_running_on_the_node_is_refused_too(
    runner: CliRunner, cluster: Cluster, sqlite_url: str
) -> None:
    from ledger.schema import RunStatus

    records = _wrapper_run(cluster, "node-b", 2, 0.0005)
    subject, run = records[0], records[1]
    running = run.model_copy(
        update={"status": RunStatus.RUNNING, "ended_at": None, "wall_time_s": None}
    )
    with Ledger(sqlite_url, reap=False) as ledger:
        ledger.record([subject, running])
    result = runner.invoke(app, args(cluster, sqlite_url))
    assert_bad_input(result, "run toy/sft/node-b-wrapped", "still running", "node-b")
