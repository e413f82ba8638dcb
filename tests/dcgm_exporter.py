"""A simulated NVIDIA dcgm-exporter for the Prometheus tests (a helper module, not a test).

Each node is an HTTP server on 127.0.0.1 whose ``/metrics`` is written in dcgm-exporter's
exposition format, as its template renders it (``internal/pkg/rendermetrics/render_metrics.go``
of github.com/NVIDIA/dcgm-exporter, 3.x-4.4 label set): ``# HELP``/``# TYPE`` lines from the
default counters CSV, then one line per GPU with the labels ``gpu``, ``UUID``, ``pci_bus_id``,
``device``, ``modelName``, ``Hostname``, the driver-version label and, where the HPC job mapping
lists a job on the GPU, ``hpc_job``. Energy is printed as an integer (millijoules), power as
``%f`` watts, utilisation as an integer percent, as the exporter formats DCGM's int64 and
double fields.

The simulation is deterministic per scrape, not per wall-clock second, so that a test knows
exactly what Prometheus stored whatever the scrape timing: every scrape of a node advances its
clock by one simulated second, and each GPU's energy counter by its power x 1 s. A GPU in the job
draws ``busy_w`` at ``util_pct``; otherwise ``idle_w`` at 0 %. A GPU with ``reset_after`` has its
driver reloaded half a simulated second before its ``reset_after``-th scrape in the job: the counter
restarts at 0, so that scrape reads ``busy_w`` x 0.5 s (the half second before the reload is
unseen by any sampler).

Starting and ending the job happen *between* scrapes: :meth:`Node.start_job` takes effect after
the node's next scrape is served, and records that moment as the node's start; :meth:`Node.end_job`
serves one more scrape in the job, then records the end. Every sample Prometheus stored with the
job label therefore lies inside ``[started_at, ended_at]`` of its node.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HELP = {
    "DCGM_FI_DEV_POWER_USAGE": ("gauge", "Power draw (in W)."),
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": (
        "counter",
        "Total energy consumption since boot (in mJ).",
    ),
    "DCGM_FI_DEV_GPU_UTIL": ("gauge", "GPU utilization (in %)."),
}
DRIVER = "550.54.15"


@dataclass
class Gpu:
    """One simulated device."""

    index: int
    uuid: str
    model: str
    busy_w: int
    """Watts in the job (whole watts, so that energy stays whole millijoules)."""
    util_pct: int
    in_job: bool = True
    """Whether the HPC job mapping lists the job on this GPU."""
    idle_w: int = 60
    reset_after: int | None = None
    energy_mj: int = 1_000_000_000
    job_scrapes: int = 0
    resets: int = 0


@dataclass
class Node:
    """One node's exporter: its GPUs and the job's life cycle."""

    host: str
    gpus: list[Gpu]
    job: str | None = None
    scrapes: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    _pending: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ended: threading.Event = field(default_factory=threading.Event)

    def start_job(self, job: str) -> None:
        """Label the GPUs in the job from the scrape after the next one."""
        with self._lock:
            self._pending = f"start:{job}"

    def end_job(self) -> None:
        """Serve one more scrape in the job, then end it."""
        with self._lock:
            self._pending = "end"

    def wait_ended(self, timeout_s: float) -> bool:
        """Whether the job ended within ``timeout_s``."""
        return self._ended.wait(timeout_s)

    def scrape(self) -> str:
        """Advance one simulated second and render the exposition text."""
        with self._lock:
            self.scrapes += 1
            for gpu in self.gpus:
                self._tick(gpu)
            return self._render()

    def after_scrape(self) -> None:
        """Apply a pending start or end, now that the scrape's response is sent."""
        with self._lock:
            if self._pending and self._pending.startswith("start:"):
                self.job, self._pending = self._pending.removeprefix("start:"), None
                self.started_at = time.time()
            elif self._pending == "end" and self.job is not None:
                self.job, self._pending = None, None
                self.ended_at = time.time()
                self._ended.set()

    def _tick(self, gpu: Gpu) -> None:
        busy = self.job is not None and gpu.in_job
        if busy:
            gpu.job_scrapes += 1
        if busy and gpu.reset_after is not None and gpu.job_scrapes == gpu.reset_after:
            gpu.energy_mj = gpu.busy_w * 500  # reloaded 0.5 s ago: the counter restarted at 0
            gpu.resets += 1
        else:
            gpu.energy_mj += (gpu.busy_w if busy else gpu.idle_w) * 1000

    def _render(self) -> str:
        lines: list[str] = []
        for metric, (kind, text) in HELP.items():
            lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]
            for gpu in self.gpus:
                busy = self.job is not None and gpu.in_job
                labels = (
                    f'gpu="{gpu.index}",UUID="{gpu.uuid}",pci_bus_id="00000000:{gpu.index + 24:02X}'
                    f':00.0",device="nvidia{gpu.index}",modelName="{gpu.model}",'
                    f'Hostname="{self.host}",DCGM_FI_DRIVER_VERSION="{DRIVER}"'
                )
                if busy:
                    labels += f',hpc_job="{self.job}"'
                if metric == "DCGM_FI_DEV_POWER_USAGE":
                    value = f"{gpu.busy_w if busy else gpu.idle_w:f}"
                elif metric == "DCGM_FI_DEV_GPU_UTIL":
                    value = str(gpu.util_pct if busy else 0)
                else:
                    value = str(gpu.energy_mj)
                lines.append(f"{metric}{{{labels}}} {value}")
        return "\n".join(lines) + "\n"


class Exporter:
    """The nodes' HTTP servers, each on its own loopback port."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.servers = [self._server(node) for node in nodes]
        self.threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            for s in self.servers
        ]
        for thread in self.threads:
            thread.start()

    @property
    def targets(self) -> list[str]:
        """``127.0.0.1:PORT`` of each node, in order."""
        return [f"127.0.0.1:{s.server_address[1]}" for s in self.servers]

    def close(self) -> None:
        """Stop every server."""
        for server in self.servers:
            server.shutdown()
            server.server_close()

    @staticmethod
    def _server(node: Node) -> ThreadingHTTPServer:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = node.scrape().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                node.after_scrape()

            def log_message(self, format: str, *args: object) -> None:
                return

        return ThreadingHTTPServer(("127.0.0.1", 0), Handler)
