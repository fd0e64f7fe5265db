"""`plantqc report`: batch QC reports of a lot or roll, their sign-off, verification, comparison.

``plantqc report --lot LOT --out DIR [--pdf]`` issues a report, ``plantqc report --compare
LOT_A LOT_B ... --out DIR`` compares lots, and the sub-commands ``sign`` and ``verify`` act on
issued reports (``sign`` asks the signer's user name and password: an electronic signature,
not a typed name); the group's own options and its sub-commands coexist because the group runs
without a sub-command (``invoke_without_command``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from plantqc.cli.options import ConfigOption, DbOption, open_store
from plantqc.cli.signing import (
    PasswordStdinOption,
    SignerOption,
    ask_credentials,
    refused_signature,
)

# the names tests/reports/test_report_cli.py asks the signer and the password by
from plantqc.errors import UserError

console = Console(highlight=False, soft_wrap=True)


def expand_compare(args: list[str]) -> list[str]:
    """``--compare A B C`` -> ``--compare A --compare B --compare C`` (click options take one
    value each; the issue's syntax lists the lots after one ``--compare``)."""
    expanded: list[str] = []
    collecting, values = False, 0
    for arg in args:
        if collecting and not arg.startswith("-"):
            expanded += ["--compare", arg]
            values += 1
            continue
        if collecting and values == 0:
            expanded.append("--compare")  # no lots: click reports the missing value
        collecting, values = arg == "--compare", 0
        if not collecting:
            expanded.append(arg)
    if collecting and values == 0:
        expanded.append("--compare")
    return expanded


class _ReportGroup(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_compare(args))


app = typer.Typer(
    cls=_ReportGroup,
    help="Batch QC reports: issue (--lot), compare lots (--compare), sign and verify.",
)

LotOption = Annotated[
    str | None, typer.Option("--lot", help="Lot code to report on.", show_default=False)
]
RollOption = Annotated[
    str | None,
    typer.Option("--roll", help="Report on this roll of the lot only.", show_default=False),
]
LineOption = Annotated[
    str | None,
    typer.Option("--line", help="Line of the lot, when its code exists on several lines."),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", help="Folder for report.html / report.json (/ report.pdf).", show_default=False
    ),
]
ReportOption = Annotated[str, typer.Option("--report", help="Report id, e.g. QC-000012 or 12.")]


@app.callback(invoke_without_command=True)
def report(
    ctx: typer.Context,
    lot: LotOption = None,
    roll: RollOption = None,
    line: LineOption = None,
    out: OutOption = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print report.pdf (headless Chromium).")
    ] = False,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            "--compare", help="Compare these lots side by side: --compare LOT_A LOT_B ..."
        ),
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Issue the QC report of a lot or roll: specs, capability, charts, images, disposition."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise UserError("give the folder to write the report to with --out DIR.")
    if compare:
        if lot is not None or roll is not None or pdf:
            raise UserError("--compare takes the lots itself; leave out --lot, --roll and --pdf.")
        from plantqc.reports.compare import compare_lots

        engine, loaded = open_store(db, config)
        try:
            html = compare_lots(engine, compare, out, line=line, loaded=loaded)
        finally:
            engine.dispose()
        console.print(f"compared {len(compare)} lots: {html}", markup=False)
        return
    if lot is None:
        raise UserError("give the lot to report on with --lot LOT (or lots with --compare).")
    from plantqc.reports.issue import REPORT_PDF, generate_report

    engine, loaded = open_store(db, config)
    try:
        issued = generate_report(engine, lot, out, line=line, roll=roll, loaded=loaded, pdf=pdf)
    finally:
        engine.dispose()
    console.print(
        f"issued {issued.report_id} version {issued.version}: {issued.disposition.upper()}",
        markup=False,
    )
    console.print(f"  html: {issued.html}", markup=False)
    if issued.pdf:
        console.print(f"  pdf:  {issued.folder / REPORT_PDF}", markup=False)
    console.print(f"  data hash: {issued.data_hash}", markup=False)


@app.command("sign")
def sign(
    report_id: ReportOption,
    meaning: Annotated[
        str,
        typer.Option(
            "--meaning",
            help="What the signature means: authored (optional, first), reviewed, approved "
            "(by someone other than the reviewer), then released or held.  Replaces the "
            "former --role: reviewer is --meaning reviewed, approver --meaning approved.",
        ),
    ],
    user: SignerOption = None,
    password_stdin: PasswordStdinOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Sign an issued report electronically with your user name and password (21 CFR Part 11).

    The signature shows your full name, the time and its meaning, and is bound to the report's
    document hash.  A wrong password counts toward the account's lockout like a failed login
    and exits 1.
    """
    from plantqc.reports.issue import parse_report_id
    from plantqc.reports.sign import sign_report

    report = parse_report_id(report_id)
    credentials = ask_credentials(user, password_stdin)
    engine, _ = open_store(db, config)
    try:
        with refused_signature():
            row = sign_report(engine, report, meaning, credentials)
    finally:
        engine.dispose()
    last = row.signatures[-1]
    console.print(
        f"signed {report_id} version {row.version} as {meaning} by {last['printed_name']} "
        f"({last['user']}); status {row.status}",
        markup=False,
    )


@app.command("verify")
def verify(report_id: ReportOption, db: DbOption = None, config: ConfigOption = None) -> None:
    """Check a report: its data hash recomputed from the store, its report.json against the
    document hash recorded at issue, every signature bound to that hash, and the file's
    signatures against the store's; exit 1 when any check fails."""
    from plantqc.reports.issue import parse_report_id
    from plantqc.reports.sign import verify_report

    engine, _ = open_store(db, config)
    try:
        result = verify_report(engine, parse_report_id(report_id))
    finally:
        engine.dispose()
    for check in result.checks:
        console.print(f"{result.report_id}: {check.sentence}", markup=False)
    if not result.ok:
        raise typer.Exit(code=1)
