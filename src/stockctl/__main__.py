"""`python -m stockctl report ...`: the reports API, signed with your AWS credentials (SigV4, execute-api).

python -m stockctl report items --warehouse "Berlin 1" --above 10 --stack stock-pipeline
python -m stockctl report warehouses --local                    # the stack of `make up` (.local-stack.json)
python -m stockctl report total --item a123v5 --csv --url https://abc.execute-api.eu-central-1.amazonaws.com
python -m stockctl report stock --retailer retailer-7 --account 42 --all
python -m stockctl report supplier --supplier acme
python -m stockctl validate --wait                              # start the nightly validation now, print its e-mail
python -m stockctl validate --local --wait                      # ... on the stack of `make up`
python -m stockctl report stockouts --within-days 7 --warehouse "Berlin 1"
python -m stockctl forecast --wait                              # compute the sales rates now (as at 04:30 UTC)
python -m stockctl forecast --digest --wait                     # send today's digest now (AlertDelivery digest|both)
python -m stockctl preflight                                    # check samconfig.toml's layer before `sam deploy`
python -m stockctl lake-report --local --items a123v5           # HTML page of plots from the lake (`make report`)
python -m stockctl smoke --stack stock-pipeline                 # prove a deployed stack works (`make smoke`)
python -m stockctl redrive --queue ingest --stack stock-pipeline  # dead letters back to their source (runbook)
python -m stockctl import history/ --stack stock-pipeline --dry-run  # a team's history: the plan, then the import
python -m stockctl reconcile --wait                       # every level against all its sources (weekly by default)
python -m stockctl repair --run RUN --reason "..."        # set a run's differences to their expected values
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from stockctl.stack import LOCAL_STATE, client_for, stack_access
from stockctl.stack import start_workflow as _start


def validate(args: argparse.Namespace) -> int:
    """Start the validation workflow as the schedule does (trigger "manual"); with --wait, follow it to the end
    and print the summary it e-mailed. A run already in progress makes this one end as SKIPPED, checking nothing."""

    session, outputs, endpoint = stack_access(args)
    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    execution = _start(sfn, outputs["ValidationStateMachineArn"], args, {"trigger": "manual"})
    if execution is None:
        return 0
    output = json.loads(execution.get("output") or "{}")
    key = output.get("reportKey") or _failed_report_key(execution)
    if key:
        from stock_pipeline.domain.validation import summary

        s3 = session.client("s3", endpoint_url=endpoint)
        try:
            report = json.loads(s3.get_object(Bucket=outputs["DataBucketName"], Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            report = None
        if report is not None:
            subject, message = summary(report, f"s3://{outputs['DataBucketName']}/{key}")
            print(f"\nSubject: {subject}\n\n{message}")
    return 0 if execution["status"] == "SUCCEEDED" else 1


def forecast(args: argparse.Namespace) -> int:
    """Compute the sales rates now (or, with --digest, send the day's digest): the forecast workflow as its
    schedules start it. A digest already sent today is SKIPPED (one a day)."""
    session, outputs, endpoint = stack_access(args)
    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    execution = _start(
        sfn,
        outputs["ForecastStateMachineArn"],
        args,
        {"job": "digest" if args.digest else "rates", "trigger": "manual"},
    )
    return 0 if execution is None or execution["status"] == "SUCCEEDED" else 1


def _failed_report_key(execution: dict[str, Any]) -> str | None:
    if execution["status"] != "FAILED":
        return None
    started = execution["startDate"]
    return f"reports/validation/{started:%Y/%m/%d}/{execution['name']}.json"


def route(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    paging = {"limit": args.limit}
    if args.report == "warehouses":
        return "/warehouses", paging
    if args.report == "items":
        return f"/warehouses/{quote(args.warehouse, safe='')}/items", {**paging, "min_quantity": args.above}
    if args.report == "total":
        return f"/items/{quote(args.item, safe='')}/total", {}
    if args.report == "stock":
        return f"/stock/{quote(args.retailer, safe='')}/{args.account}", paging
    if args.report == "stockouts":
        extra = {"warehouse": args.warehouse} if args.warehouse else {}
        return "/forecast/stockouts", {**paging, "within_days": args.within_days, **extra}
    return f"/suppliers/{quote(args.supplier, safe='')}/stock", paging


def report(args: argparse.Namespace) -> int:
    client = client_for(args)
    path, query = route(args)
    pages = client.pages(path, query, csv=args.csv) if args.all else iter([client.get(path, query, csv=args.csv)[::2]])
    first = True
    for status, body in pages:
        if status != 200:
            sys.stderr.write(f"HTTP {status}: {body.decode(errors='replace')}\n")
            return 1
        text = body.decode()
        if args.csv and not first:
            text = text.split("\r\n", 1)[1] if "\r\n" in text else ""  # one header for all pages
        sys.stdout.write(text if args.csv else json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n")
        first = False
    return 0


def _workflow_start(command: argparse.ArgumentParser) -> None:
    """The options of a command that starts a workflow as its schedule does (`_start`)."""
    command.add_argument("--wait", action="store_true", help="follow the run to its end and print its result")
    command.add_argument("--name", help="execution name (default manual-<UTC time>)")
    command.add_argument("--poll", type=float, default=5.0, help="seconds between status checks with --wait")
    where = command.add_mutually_exclusive_group()
    where.add_argument("--local", nargs="?", const=str(LOCAL_STATE), metavar="STATE_FILE", help="the `make up` stack")
    where.add_argument("--stack", default="stock-pipeline", help="the deployed stack (default stock-pipeline)")
    command.add_argument("--region", help="AWS region (default: your AWS configuration)")


def build_parser() -> argparse.ArgumentParser:
    """Every command and option (the docs' commands are checked against it)."""
    parser = argparse.ArgumentParser(
        prog="python -m stockctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("report", help="read a report from the reports API")
    r.add_argument("report", choices=["warehouses", "items", "total", "stock", "supplier", "stockouts"])
    r.add_argument("--within-days", type=int, default=7, help="stockouts: levels running out within these days")
    r.add_argument("--warehouse")
    r.add_argument("--above", type=int, help="items: only levels strictly greater (report 2)")
    r.add_argument("--item")
    r.add_argument("--retailer")
    r.add_argument("--account", type=int)
    r.add_argument("--supplier")
    r.add_argument("--limit", type=int)
    r.add_argument("--all", action="store_true", help="follow the next tokens to the last page")
    r.add_argument("--csv", action="store_true", help="CSV for spreadsheets")
    target = r.add_mutually_exclusive_group()
    target.add_argument("--local", nargs="?", const=str(LOCAL_STATE), metavar="STATE_FILE", help="the `make up` stack")
    target.add_argument("--url", help="the API's base URL (the ReportsApiUrl output)")
    target.add_argument("--stack", default="stock-pipeline", help="read ReportsApiUrl from this stack (default)")
    r.add_argument("--region", help="AWS region (default: your AWS configuration)")
    v = commands.add_parser("validate", help="start the nightly validation now (as the 03:00 UTC schedule does)")
    _workflow_start(v)
    f = commands.add_parser("forecast", help="compute the sales rates now (as at 04:30 UTC), or send the digest")
    f.add_argument("--digest", action="store_true", help="send today's digest instead (once a day)")
    _workflow_start(f)
    rc = commands.add_parser("reconcile", help="reconcile every level with all its sources now (weekly by default)")
    _workflow_start(rc)
    rp = commands.add_parser("repair", help="set the levels a reconciliation run found different to their expected")
    rp.add_argument("--run", required=True, help="the run id (its e-mail, the console, `stockctl reconcile --wait`)")
    rp.add_argument("--reason", required=True, help="why: kept in each level's history with who repaired it")
    rp.add_argument("--dry-run", action="store_true", help="print what would be set; write nothing")
    where = rp.add_mutually_exclusive_group()
    where.add_argument("--local", nargs="?", const=str(LOCAL_STATE), metavar="STATE_FILE", help="the `make up` stack")
    where.add_argument("--stack", default="stock-pipeline", help="the deployed stack (default stock-pipeline)")
    rp.add_argument("--region", help="AWS region (default: your AWS configuration)")
    p = commands.add_parser("preflight", help="check the deploy parameters AWS checks only at function creation")
    p.add_argument("--config", default="samconfig.toml", help="the samconfig file `sam deploy` reads")
    p.add_argument("--config-env", default="default")
    p.add_argument("--region", help="the region you deploy to (default: samconfig's, then your AWS configuration)")
    p.add_argument("--layer", help="a PandasLayerArn to check instead of samconfig's")
    sm = commands.add_parser("smoke", help="prove a stack works end to end in minutes, and remove what it made")
    where = sm.add_mutually_exclusive_group()
    where.add_argument("--local", nargs="?", const=str(LOCAL_STATE), metavar="STATE_FILE", help="the `make up` stack")
    where.add_argument("--stack", default="stock-pipeline", help="the deployed stack (default stock-pipeline)")
    sm.add_argument("--region", help="AWS region (default: your AWS configuration)")
    sm.add_argument("--console-user", help="also upload through the console as this user (SMOKE_CONSOLE_PASSWORD)")
    sm.add_argument("--wait", type=float, default=180.0, help="seconds each step waits for the pipeline")
    sm.add_argument("--poll", type=float, default=2.0, help="seconds between looks")
    lr = commands.add_parser("lake-report", help="an HTML page of plots from the lake (stock over time, sales, ...)")
    lr.add_argument("--out", default="reports/stock-report.html")
    lr.add_argument("--items", help="comma-separated item ids for stock over time (default: the busiest three)")
    lr.add_argument("--default-threshold", type=int, default=10, help="the stack's DefaultRestockThreshold")
    source = lr.add_mutually_exclusive_group()
    source.add_argument("--local", nargs="?", const=str(LOCAL_STATE), metavar="STATE_FILE", help="the `make up` stack")
    source.add_argument("--stack", default="stock-pipeline", help="the deployed stack (default stock-pipeline)")
    lr.add_argument("--region", help="AWS region (default: your AWS configuration)")
    rd = commands.add_parser("redrive", help="move dead-letter messages back to their source (safe to run twice)")
    rd.add_argument("--queue", required=True, choices=["ingest", "alerts", "history", "schedule"])
    where = rd.add_mutually_exclusive_group()
    where.add_argument("--local", nargs="?", const=str(LOCAL_STATE), metavar="STATE_FILE", help="the `make up` stack")
    where.add_argument("--stack", default="stock-pipeline", help="the deployed stack (default stock-pipeline)")
    rd.add_argument("--region", help="AWS region (default: your AWS configuration)")
    rd.add_argument("--poll", type=float, default=2.0, help="seconds between looks at a message move task")
    im = commands.add_parser("import", help="a folder or zip of history into the pipeline, in order, resumable")
    im.add_argument("source", help="a folder or a .zip of inventory, thresholds and counted files")
    im.add_argument("--dry-run", action="store_true", help="print the plan and every problem; upload nothing")
    im.add_argument(
        "--ahead",
        type=int,
        default=10,
        help="files uploaded but not yet processed at most (default 10); never two of one warehouse",
    )
    im.add_argument("--summary", metavar="FILE", help="also write the summary as JSON to FILE")
    where = im.add_mutually_exclusive_group()
    where.add_argument("--local", nargs="?", const=str(LOCAL_STATE), metavar="STATE_FILE", help="the `make up` stack")
    where.add_argument("--stack", default="stock-pipeline", help="the deployed stack (default stock-pipeline)")
    im.add_argument("--region", help="AWS region (default: your AWS configuration)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "lake-report":
        from stockctl import lake_report

        return lake_report.run(args)
    if args.command == "preflight":
        from stockctl import preflight

        return preflight.run(Path(args.config), args.config_env, args.region, args.layer)
    if args.command == "validate":
        return validate(args)
    if args.command == "forecast":
        return forecast(args)
    if args.command == "smoke":
        from stockctl import smoke

        return smoke.run(args)
    if args.command == "redrive":
        from stockctl import redrive

        return redrive.run(args)
    if args.command in ("reconcile", "repair"):
        from stockctl import reconcile

        return reconcile.run_now(args) if args.command == "reconcile" else reconcile.repair(args)
    if args.command == "import":
        from stockctl import imports

        return imports.run(args)
    needed = {"items": "warehouse", "total": "item", "stock": "retailer", "supplier": "supplier"}.get(args.report)
    if needed and not getattr(args, needed):
        parser.error(f"report {args.report} needs --{needed}")
    if args.report == "stock" and args.account is None:
        parser.error("report stock needs --account")
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
