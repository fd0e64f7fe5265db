"""`plantqc limits estimate|freeze|show`: control limits as managed, versioned records."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from plantqc.charting.names import PROFILE_SERIES
from plantqc.cli.limits_design_cmd import design
from plantqc.cli.options import ConfigOption, DbOption, open_store, parse_time
from plantqc.cli.signing import (
    PasswordStdinOption,
    SignerOption,
    ask_credentials,
    refused_signature,
)
from plantqc.config import load_config
from plantqc.errors import UserError

if TYPE_CHECKING:  # charting (numpy, scipy) is loaded by the commands that chart
    from plantqc.charting.chart import ChartConfig
    from plantqc.charting.phase1 import LimitsEstimate
    from plantqc.config import PlantConfig
    from plantqc.connectors.replay import Recording
    from plantqc.users import Credentials, Signature

app = typer.Typer(
    help="Estimate, freeze and show control limits; design them for the line's alarm budget.",
    no_args_is_help=True,
)
app.command("design")(design)
console = Console(highlight=False, soft_wrap=True)

TagOption = Annotated[str, typer.Option("--tag", help="LINE/TAG, e.g. casting-1/dry_thickness_um.")]
FileTagOption = Annotated[
    str | None,
    typer.Option(
        "--tag",
        help="LINE/TAG, e.g. casting-1/dry_thickness_um; with --from-file default every charted "
        "tag of the config found in the file.",
    ),
]
FromOption = Annotated[
    str | None, typer.Option("--from", help="Start of the phase I data in the store, ISO-8601.")
]
ToOption = Annotated[str | None, typer.Option("--to", help="End of the phase I data (exclusive).")]
FromFileOption = Annotated[
    Path | None,
    typer.Option(
        "--from-file",
        help="A recorded in-control period in the replay format (CSV or Parquet: line, tag, "
        "source_time, value, status) instead of the store's --from/--to; needs --config.",
    ),
]
LISTED_EXCLUDED = 10
"""Excluded points printed one by one; the rest are counted."""
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ChartOption = Annotated[
    str | None,
    typer.Option(
        "--chart",
        help="Which of the tag's charts: a profile tag has one per scan statistic "
        f"({', '.join(PROFILE_SERIES.values())}); default its first.",
    ),
]


def _split(tag: str) -> tuple[str, str]:
    line, sep, name = tag.partition("/")
    if not sep or not line or not name:
        raise UserError(f"--tag {tag!r} must be LINE/TAG, e.g. casting-1/dry_thickness_um.")
    return line, name


def _estimate(
    db: str | None,
    config: Path | None,
    tag: str | None,
    start: str | None,
    end: str | None,
    chart_name: str | None,
) -> tuple[Engine, ChartConfig, LimitsEstimate]:
    from plantqc.charting.catalog import chart_for
    from plantqc.charting.phase1 import estimate_limits

    if tag is None or start is None or end is None:
        raise UserError(
            "give --tag LINE/TAG --from ISO --to ISO, or --from-file FILE --config CFG."
        )
    t0, t1 = parse_time(start, "--from"), parse_time(end, "--to")
    assert t0 is not None and t1 is not None
    if t0 >= t1:
        raise UserError(f"--from ({start}) must be before --to ({end}).")
    engine, _ = open_store(db, config)
    chart = chart_for(engine, *_split(tag))
    series = chart.series_named(chart_name)
    return engine, chart, estimate_limits(engine, chart, t0, t1, series)


Found = list[tuple["ChartConfig", "LimitsEstimate | UserError"]]
"""Per chart of a recording, its estimate or the sentence saying why it has none."""


def _file_config(
    config: Path | None, start: str | None, end: str | None, tag: str | None, chart: str | None
) -> PlantConfig:
    if config is None:
        raise UserError("--from-file needs --config CFG: the lines, tags and charts of the file.")
    if start is not None or end is not None:
        raise UserError("--from-file takes the whole file; leave out --from and --to.")
    if chart is not None and tag is None:
        raise UserError("--chart picks one of a tag's charts; give the tag with --tag LINE/TAG.")
    return load_config(config, check_env=False).config


def estimate_file(
    file: Path,
    plant: PlantConfig,
    charts: Sequence[ChartConfig],
    tag: str | None = None,
    chart_name: str | None = None,
) -> tuple[Recording, Found]:
    """The recording at ``file`` read against ``plant``'s tags (rows refused as replay
    refuses them) and the estimate of each of ``charts`` (only ``tag``'s, if given) found in
    it; a `UserError` when ``tag``'s chart, or every chart, has none."""
    from plantqc.charting.phase1 import estimate_recording
    from plantqc.connectors.replay import read_recording

    scalar = {line.name: [t.name for t in line.tags if t.kind == "scalar"] for line in plant.lines}
    recording = read_recording(file, scalar)
    wanted = list(charts)
    if tag is not None:
        line, name = _split(tag)
        wanted = [c for c in wanted if (c.line, c.tag) == (line, name)]
        if not wanted:
            raise UserError(f"{tag} is not a charted scalar tag of the config.")
    found = estimate_recording(recording, wanted, file.name, chart_name)
    if not found:
        what = tag if tag is not None else "any charted tag of the config"
        raise UserError(f"{file} has no samples of {what}.")
    if tag is not None and isinstance(found[0][1], UserError):
        raise found[0][1]
    if all(isinstance(e, UserError) for _, e in found):
        raise UserError(f"no chart of {file} has enough points: " + " ".join(
            str(e) for _, e in found))  # fmt: skip
    return recording, found


Approve = Callable[["ChartConfig", "LimitsEstimate"], "Signature"]
"""The approver's electronic signature of one estimate (of its `estimate_hash`)."""


def freeze_file(
    engine: Engine,
    file: Path,
    plant: PlantConfig,
    by: str | Approve,
    tag: str | None = None,
    chart_name: str | None = None,
) -> tuple[Recording, Found, dict[str, int]]:
    """`estimate_file` on the store's charts of ``plant`` (registered in ``engine``), each
    estimate frozen (`plantqc.charting.phase1.freeze_limits`) by ``by``: a user name, unsigned
    (a system account's freeze: the demo's), or an `Approve` signing each estimate, then frozen
    by its signer with the signature.  Every estimate is signed before any is frozen, so that a
    refused signature freezes nothing.  With the version frozen per LINE/TAG."""
    from plantqc.charting.catalog import load_charts
    from plantqc.charting.phase1 import freeze_limits

    # the store's own charts, what the engine runs; only scalar tags can be in a recording
    charts = [c for c in load_charts(engine).values() if c.kind == "scalar"]
    recording, found = estimate_file(file, plant, charts, tag, chart_name)
    estimates = [(c, e) for c, e in found if not isinstance(e, UserError)]
    if isinstance(by, str):
        versions = {
            f"{chart.line}/{chart.tag}": freeze_limits(engine, chart, estimate, by)
            for chart, estimate in estimates
        }
        return recording, found, versions
    signatures = [by(chart, estimate) for chart, estimate in estimates]
    versions = {
        f"{chart.line}/{chart.tag}": freeze_limits(
            engine, chart, estimate, signature.user, signature.as_dict()
        )
        for (chart, estimate), signature in zip(estimates, signatures, strict=True)
    }
    return recording, found, versions


def approve(
    engine: Engine, credentials: Credentials, chart: ChartConfig, estimate: LimitsEstimate
) -> Signature:
    """The signature meaning 'approved' of ``estimate`` (its `estimate_hash`) by the signer of
    ``credentials``, whose role must be granted ``limits.freeze``, as in the console and the
    REST API.

    The credentials are checked first (a wrong password counts toward the lockout), since only
    they say who is asking: a role that may not freeze limits is then refused in one sentence,
    audited on the chart as the console audits a refusal (`record_denied`).  Both
    components, user name and password, are given at every signing: the command is one
    continuous session in which the signer typed both (21 CFR 11.200(a)(1)(i)).
    """
    from sqlalchemy.orm import Session

    from plantqc.charting.phase1 import estimate_hash
    from plantqc.store.audit import record_denied
    from plantqc.users import Action, current_role, may, sign

    signature = sign(engine, credentials, "approved", estimate_hash(chart, estimate))
    role = current_role(engine, signature.user)
    if role is not None and may(role, Action.LIMITS_FREEZE):
        return signature
    with Session(engine) as session, session.begin():
        chart_key = f"{chart.line}:{chart.tag}:{estimate.chart}"
        record_denied(session, signature.user, role, Action.LIMITS_FREEZE, "control_limits",
                      chart_key, at=signature.at)  # fmt: skip
    raise UserError(
        f"{signature.user} has role {role}, which may not freeze control limits "
        f"(that needs {Action.LIMITS_FREEZE})."
    )


def _signed(signature: Signature) -> str:
    return (
        f"signed {signature.meaning} by {signature.printed_name} ({signature.user}) "
        f"at {signature.shown_at()}"
    )


def _print_found(recording: Recording, found: Found) -> None:
    for sentence in recording.summary():
        console.print(sentence, markup=False)
    for chart, estimate in found:
        if isinstance(estimate, UserError):
            console.print(str(estimate), markup=False)
        else:
            _print_estimate(chart, estimate)


def _found_dict(
    file: Path,
    recording: Recording,
    found: Found,
    versions: dict[str, int] | None = None,
    signatures: dict[str, Signature] | None = None,
) -> dict[str, Any]:
    charts = []
    for chart, estimate in found:
        where = {"tag": f"{chart.line}/{chart.tag}"}
        if isinstance(estimate, UserError):
            charts.append({**where, "error": str(estimate)})
            continue
        frozen: dict[str, Any] = {}
        if versions is not None and signatures is not None:
            frozen["version"] = versions[where["tag"]]
            frozen["signature"] = signatures[where["tag"]].as_dict()
        charts.append({**where, **_estimate_dict(estimate), **frozen})
    return {
        "file": str(file),
        "rows": recording.rows,
        "rejected": [{"row": r.row, "reason": r.reason} for r in recording.rejected],
        "charts": charts,
    }


def _estimate_dict(estimate: LimitsEstimate) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(estimate), default=str))


def _print_estimate(chart: ChartConfig, estimate: LimitsEstimate) -> None:
    console.print(
        f"{chart.line}/{chart.tag} ({estimate.chart}): center {estimate.center:.6g}, "
        f"sigma {estimate.sigma:.6g} ({estimate.sigma_method}, "
        f"{estimate.params['constants']} constants), "
        f"LCL {estimate.lcl:.6g}, UCL {estimate.ucl:.6g}"
    )
    console.print(
        f"from {estimate.n_used} of {estimate.n_total} Good samples between "
        f"{estimate.data_from.isoformat()} and {estimate.data_to.isoformat()}; "
        f"{len(estimate.excluded)} excluded as out of control in {estimate.iterations} round(s)"
    )
    if estimate.autocorrelated:
        console.print(
            f"  its points are autocorrelated (lag-1 {estimate.lag1:.2f}): the short-term sigma "
            "understates their spread over time and these limits would alarm more often than "
            "designed; chart batch means over a time window (plantqc limits design)",
            markup=False,
        )
    for point in estimate.excluded[:LISTED_EXCLUDED]:
        console.print("  excluded " + ", ".join(f"{k} {v}" for k, v in point.items()))
    if len(estimate.excluded) > LISTED_EXCLUDED:
        more = len(estimate.excluded) - LISTED_EXCLUDED
        console.print(f"  ... and {more} more (--json lists them all)")


@app.command("estimate")
def estimate(
    tag: FileTagOption = None,
    start: FromOption = None,
    end: ToOption = None,
    from_file: FromFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    chart_name: ChartOption = None,
) -> None:
    """Phase I: propose limits from stored data or a recorded file and show what was excluded
    (nothing is saved)."""
    if from_file is not None:
        from plantqc.charting.phase1 import recorded_charts

        if db is not None:
            raise UserError(
                "estimate --from-file reads the file and --config only; leave out --db."
            )
        plant = _file_config(config, start, end, tag, chart_name)
        recording, found = estimate_file(from_file, plant, recorded_charts(plant), tag, chart_name)
        if as_json:
            typer.echo(json.dumps(_found_dict(from_file, recording, found), indent=1))
        else:
            _print_found(recording, found)
        return
    engine, chart, result = _estimate(db, config, tag, start, end, chart_name)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps(_estimate_dict(result), indent=1))
    else:
        _print_estimate(chart, result)


@app.command("freeze")
def freeze(
    tag: FileTagOption = None,
    start: FromOption = None,
    end: ToOption = None,
    from_file: FromFileOption = None,
    user: SignerOption = None,
    password_stdin: PasswordStdinOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
    chart_name: ChartOption = None,
    as_json: JsonOption = False,
) -> None:
    """Estimate limits and freeze them as a new version, approved with your electronic
    signature (user name and password, 21 CFR Part 11); old versions stay.

    The signature, meaning 'approved', is bound to the estimated numbers and recorded with the
    version and its audit entry.  It takes a role that may freeze limits (quality).  A wrong
    password counts toward the account's lockout like a failed login and exits 1.  With
    --from-file every chart with enough points, valid from just after the file's data, each
    signed (the password asked once).
    """
    from plantqc.charting.phase1 import freeze_limits

    credentials = ask_credentials(user, password_stdin)  # before the estimate, which takes long
    if from_file is None:
        engine, chart, result = _estimate(db, config, tag, start, end, chart_name)
        try:
            with refused_signature():
                signature = approve(engine, credentials, chart, result)
            version = freeze_limits(engine, chart, result, signature.user, signature.as_dict())
        finally:
            engine.dispose()
        _print_estimate(chart, result)
        console.print(
            f"frozen as version {version} of {chart.line}/{chart.tag} ({result.chart}), "
            + _signed(signature),
            markup=False,
        )
        return
    plant = _file_config(config, start, end, tag, chart_name)
    engine, _ = open_store(db, config)
    signatures: dict[str, Signature] = {}

    def approve_each(chart: ChartConfig, estimate: LimitsEstimate) -> Signature:
        signature = approve(engine, credentials, chart, estimate)
        signatures[f"{chart.line}/{chart.tag}"] = signature
        return signature

    try:
        with refused_signature():
            recording, found, versions = freeze_file(
                engine, from_file, plant, approve_each, tag, chart_name
            )
    finally:
        engine.dispose()
    if as_json:
        document = _found_dict(from_file, recording, found, versions, signatures)
        typer.echo(json.dumps(document, indent=1))
        return
    _print_found(recording, found)
    for name, version in versions.items():
        console.print(
            f"frozen as version {version} of {name}, {_signed(signatures[name])}", markup=False
        )


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


@app.command("show")
def show(
    tag: TagOption,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every limits version of each of a tag's charts; the ones in force are marked."""
    from sqlalchemy.orm import Session

    from plantqc.charting.catalog import chart_for
    from plantqc.charting.limits import limit_versions, limits_in_force

    engine, _ = open_store(db, config)
    try:
        chart = chart_for(engine, *_split(tag))
        names = [s.name for s in chart.series]
        rows = [r for r in limit_versions(engine, [chart.tag_id]) if r.chart in names]
        with Session(engine) as session:
            in_force = {
                row.id
                for name in names
                if (row := limits_in_force(session, chart.tag_id, name)) is not None
            }
    finally:
        engine.dispose()
    rows.sort(key=lambda r: (names.index(r.chart), r.version))
    records = [
        {
            "chart": r.chart,
            "version": r.version,
            "basis": r.basis,
            "in_force": r.id in in_force,
            "center": r.center,
            "sigma": r.sigma,
            "lcl": r.lcl,
            "ucl": r.ucl,
            "sigma_method": r.sigma_method,
            "n_used": r.n_used,
            "data_from": _when(r.data_from),
            "data_to": _when(r.data_to),
            "frozen_by": r.frozen_by,
            "frozen_at": _when(r.frozen_at),
        }
        for r in rows
    ]
    if as_json:
        typer.echo(json.dumps({"tag": tag, "chart": chart.chart, "versions": records}, indent=1))
        return
    if not records:
        console.print(
            f"{tag}: no limits yet (the chart learns them from its baseline, or freeze them)"
        )
        return
    table = Table(title=f"{tag} ({chart.chart}) control limits")
    columns = ("chart", "version", "basis", "center", "sigma", "lcl", "ucl", "n_used", "frozen_by")
    for column in (*columns, "frozen_at", "data"):
        table.add_column(column)
    for r in records:
        cells = [
            f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c] if r[c] is not None else "-")
            for c in columns
        ]
        cells[1] += " *" if r["in_force"] else ""
        table.add_row(*cells, r["frozen_at"], f"{r['data_from']} .. {r['data_to']}")
    console.print(table)
    console.print(
        "* in force; basis 'provisional' = learned from the chart's baseline: not frozen, "
        "sigma-zone rules off; 'spec' = derived from the spec by an earlier release, never in "
        "force"
    )
