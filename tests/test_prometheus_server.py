"""``receipts import prometheus`` against a real Prometheus server (Debian's ``prometheus``),
started on loopback, scraping simulated dcgm-exporters (``tests/dcgm_exporter.py``) of a 2-node
job with 2 GPUs in the job on each node, one GPU outside it, and one driver reload mid-job.

``make test`` runs it through ``scripts/with-prometheus.sh``, which sets
``RECEIPTS_REQUIRE_PROMETHEUS=1``: there a missing binary fails the tests instead of skipping them.
"""

from __future__ import annotations

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
        assert row["allocated_gpu_s"] == wall
        assert row["busy_gpu_s"] == pytest.approx(sim.util_pct / 100 * wall, rel=1e-12)
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
        assert allocated.quantity == wall / 3600
        assert busy.unit is Unit.GPU_HOUR_BUSY
        assert busy.quantity == pytest.approx(sim.util_pct / 100 * wall / 3600, rel=1e-12)
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
    assert result["allocated_gpu_hours"] == 4 * (end - start) / 3600
    energy = sum(expected_energy_j(g) for n in cluster.nodes for g in n.gpus if g.in_job)
    assert result["energy_kwh"] == pytest.approx(energy / 3.6e6, rel=1e-12)

    done = json.loads(
        invoke(runner, ["reconcile", "--job", JOB, "--ledger", sqlite_url, "--json"]).stdout
    )
    assert done["slurm_gpu_hours"] == 4 * (end - start) / 3600
    assert done["prometheus_gpu_hours"] == done["slurm_gpu_hours"]
    assert done["prometheus_agrees"] is True
    assert done["probe_runs"] == []  # no wrapper ran: the Prometheus runs are not wrapper runs
    assert done["prometheus_hosts"] == ["node-a", "node-b"]
    assert any("Prometheus" in line and "agree" in line for line in done["explanation"])


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
