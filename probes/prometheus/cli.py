"""Command ``receipts import prometheus``. Thin: build the selection and the window, call
:func:`probes.prometheus.import_prometheus`, render. Errors are
:class:`~ledger.errors.LedgerError` subclasses, turned into one stderr line and exit code 2 by the
top-level :class:`~ledger.cli.ErrorHandlingGroup`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import JsonOpt, LedgerOpt, console
from ledger.enums import RunStatus
from probes.importer_cli import CategoryOpt, CreateOpt, SubjectOpt

if TYPE_CHECKING:
    from rich.console import Console

    from probes.prometheus.schema import Comparison, ImportResult

# The client, the store and rich are imported inside the command: `receipts --help` stays fast.


def _time(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 time with its zone (``2025-02-01T10:00:00Z``) or unix seconds."""
    if text is None:
        return None
    from probes.prometheus.errors import PrometheusError

    value = text.strip()
    try:
        if value.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        parsed = None
    if parsed is None:
        raise PrometheusError(
            f"{option} {text!r}: not a time: give ISO 8601 with a zone "
            "(2025-02-01T10:00:00Z) or unix seconds"
        )
    if parsed.tzinfo is None:
        raise PrometheusError(
            f"{option} {text!r}: the time has no zone: add Z (UTC) or an offset such as +01:00"
        )
    return parsed.astimezone(UTC)


def import_prometheus(
    url: Annotated[
        str,
        typer.Option(
            "--url",
            envvar="RECEIPTS_PROMETHEUS_URL",
            help="Prometheus server that scrapes NVIDIA's dcgm-exporter "
            "(http://prometheus:9090). Default: $RECEIPTS_PROMETHEUS_URL.",
            show_default=False,
        ),
    ],
    job: Annotated[
        str,
        typer.Option(
            "--job", help="The job's id (SLURM_JOB_ID, a pod name): recorded on the runs."
        ),
    ],
    subject: SubjectOpt,
    stage: Annotated[str, typer.Option("--stage", help="Pipeline stage, e.g. sft.")],
    category: CategoryOpt,
    job_label: Annotated[
        str,
        typer.Option(
            "--job-label",
            help="Label whose value is the job id: hpc_job (dcgm-exporter's HPC job mapping, "
            "Slurm), pod (Kubernetes); 'none' to select by --host/--match and the window only.",
        ),
    ] = "hpc_job",
    match: Annotated[
        list[str] | None,
        typer.Option(
            "--match",
            help="Further label matcher, repeatable: LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX, "
            "LABEL!~REGEX (namespace=ml).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            help="Only this node (Hostname, hostname or instance label), repeatable.",
            show_default=False,
        ),
    ] = None,
    gpu: Annotated[
        list[int] | None,
        typer.Option("--gpu", help="Only this GPU index (gpu label), repeatable.", min=0),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="Window start: ISO 8601 with a zone or unix seconds. Default, with --end: the "
            "job's imported sacct record.",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Window end (as --start).", show_default=False),
    ] = None,
    status: Annotated[
        RunStatus,
        typer.Option(
            "--status",
            help="Status of the runs where the window is given (a sacct record gives its own).",
        ),
    ] = RunStatus.SUCCEEDED,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each query.", min=1)
    ] = 30.0,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Record nothing: set Prometheus's figures beside the runs that already "
            "metered the job on its nodes (receipts run), node by node.",
        ),
    ] = False,
    create_subject: CreateOpt = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Meter a job's GPUs from NVIDIA's DCGM exporter in Prometheus: one measured run per node.
    Per GPU: energy from the counter's differences (resets handled), allocated GPU-seconds (the
    window, or what the scrapes cover where they cover less than 90 % of it) and busy
    GPU-seconds (utilisation), as `receipts run` records them.
    Importing the same job and window again adds nothing. A node that a wrapper's run of the
    job already metered is refused (its GPUs would count twice): --compare sets the two side by
    side instead. See docs/cluster.md.
    """
    from ledger.store import Ledger
    from probes import prometheus

    selection = prometheus.Selection(
        job_id=job,
        job_label=None
        if job_label.lower() == "none"
        else prometheus.check_label(job_label, "--job-label"),
        matchers=tuple(prometheus.parse_matcher(m) for m in match or []),
        hosts=tuple(host or []),
        gpus=tuple(gpu or []),
    )
    begin, finish = _time(start, "--start"), _time(end, "--end")
    with prometheus.PrometheusSource(url, timeout_s=timeout) as source, Ledger(ledger) as store:
        if compare:
            comparison = prometheus.compare_prometheus(
                store,
                source,
                selection,
                subject=subject,
                stage=stage,
                category=category,
                start=begin,
                end=finish,
            )
        else:
            comparison = None
            result = prometheus.import_prometheus(
                store,
                source,
                selection,
                subject=subject,
                stage=stage,
                category=category,
                start=begin,
                end=finish,
                status=status,
                create_subject=create_subject,
            )
    if comparison is not None:
        if as_json:
            typer.echo(comparison.model_dump_json(indent=2))
        else:
            render_comparison(console(), comparison)
    elif as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        render_import(console(), result)


def _figure(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "—" if value is None else f"{value / scale:,.{digits}f}"


def render_import(out: Console, result: ImportResult) -> None:
    """The GPUs as a table, then the totals."""
    from rich.markup import escape
    from rich.table import Table

    title = (
        f"job {escape(result.job_id)} from {escape(result.url)}: "
        f"{result.started_at:%Y-%m-%d %H:%M:%S} to {result.ended_at:%Y-%m-%d %H:%M:%S} UTC "
        f"({escape(result.window_from)})"
    )
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("Host", "left"),
        ("GPU", "right"),
        ("Model", "left"),
        ("Samples", "right"),
        ("Allocated h", "right"),
        ("Busy h", "right"),
        ("Energy kWh", "right"),
        ("Method", "left"),
        ("Resets", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for node in result.nodes:
        for i, g in enumerate(node.gpus):
            table.add_row(
                escape(node.host) if i == 0 else "",
                str(g.index),
                escape(g.model),
                str(g.samples),
                _figure(g.allocated_gpu_s, 3600, 4),
                _figure(g.busy_gpu_s, 3600, 4),
                _figure(g.energy_j, 3.6e6, 4),
                g.energy_method or "not measured",
                str(g.counter_resets),
            )
    out.print(table)
    out.print(
        f"{len(result.nodes)} nodes, {result.gpus} GPUs: {_figure(result.allocated_gpu_hours)} "
        f"allocated GPU-hours, {_figure(result.busy_gpu_hours)} busy, "
        f"{_figure(result.energy_kwh, digits=3)} kWh; {result.appended} new, "
        f"{result.superseded} corrected, {result.unchanged} unchanged records"
    )
    if result.unmeasured_energy:
        out.print(f"energy not measured on {result.unmeasured_energy} GPUs (missing, not 0)")


def render_comparison(out: Console, result: Comparison) -> None:
    """Each node's wrapper and Prometheus figures in a table, then the explanation."""
    from rich.markup import escape
    from rich.table import Table

    title = (
        f"job {escape(result.job_id)}: the wrapper beside Prometheus ({escape(result.url)}), "
        f"{result.started_at:%Y-%m-%d %H:%M:%S} to {result.ended_at:%Y-%m-%d %H:%M:%S} UTC; "
        "nothing recorded"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("Host")
    table.add_column("Runs")
    for name in ("Allocated h", "Busy h", "Energy kWh"):
        table.add_column(f"{name}, wrapper", justify="right")
        table.add_column(f"{name}, Prometheus", justify="right")
    for node in result.nodes:
        table.add_row(
            escape(node.host),
            escape(", ".join(node.wrapper_runs) or "—"),
            _figure(node.wrapper_gpu_hours, digits=4),
            _figure(node.prometheus_gpu_hours, digits=4),
            _figure(node.wrapper_busy_gpu_hours, digits=4),
            _figure(node.prometheus_busy_gpu_hours, digits=4),
            _figure(node.wrapper_energy_kwh, digits=4),
            _figure(node.prometheus_energy_kwh, digits=4),
        )
    out.print(table)
    for line in result.explanation:
        out.print(f"- {escape(line)}")


def register(import_app: typer.Typer) -> None:
    """Mount ``prometheus`` on the ``import`` sub-app."""
    import_app.command("prometheus")(import_prometheus)
