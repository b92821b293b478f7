"""`python -m stockctl import FOLDER|ZIP`: a team's history into the pipeline, in order, resumable, and paced.

    python -m stockctl import history/ --stack stock-pipeline --dry-run   # the plan, nothing uploaded
    python -m stockctl import history.zip --local                        # the stack of `make up`

Checks every name and header first (`domain.imports.plan`: a problem stops the import before any upload), then
uploads opening balances and the history in time order, at most `--ahead` files not yet processed at a time (the
ingest function's concurrency is shared with the live feed: the import never fills it), recording each upload in
a manifest next to the source, so a second run resumes without uploading a file twice. Then it waits until the
pipeline has an outcome for every file, prints what was applied, rejected and failed, the levels below threshold
now (worst first), and the requests it made with their cost, and sends that summary to the restock topic: the one
e-mail of the import (its crossings of the past are recorded, not e-mailed: `AlertFreshnessHours`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from stock_pipeline.domain.imports import Plan, PlannedFile, cost, may_go, plan, summarize, summary_text

MANIFEST = ".stockctl-import.json"


def entries(source: Path) -> Iterator[tuple[str, bytes]]:
    """The files of a folder (recursively) or a zip, one at a time (a year of files is not held at once), hidden
    ones (the manifest) left out."""
    for name in names(source):
        yield name, read(source, name)


def names(source: Path) -> list[str]:
    if source.is_dir():
        return [
            path.relative_to(source).as_posix()
            for path in sorted(source.rglob("*"))
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(source).parts)
        ]
    with zipfile.ZipFile(source) as archive:
        return sorted(
            info.filename
            for info in archive.infolist()
            if not info.is_dir() and not any(part.startswith((".", "__MACOSX")) for part in info.filename.split("/"))
        )


def read(source: Path, name: str) -> bytes:
    if source.is_dir():
        return (source / name).read_bytes()
    with zipfile.ZipFile(source) as archive:
        return archive.read(name)


def manifest_path(source: Path) -> Path:
    return source / MANIFEST if source.is_dir() else source.with_name(source.name + ".import.json")


class Importer:
    """Uploads a plan and follows it to the end; `settle` is called while waiting (the local stack's drain in
    tests; nothing against AWS, where the pipeline runs by itself)."""

    def __init__(
        self,
        session: Any,
        outputs: dict[str, str],
        endpoint: str | None,
        *,
        ahead: int = 10,
        settle: Callable[[], Any] | None = None,
        poll_s: float = 2.0,
        out: Any = sys.stdout,
    ) -> None:
        self.outputs, self.ahead, self.settle, self.poll_s, self.out = outputs, ahead, settle, poll_s, out
        self.requests: Counter[str] = Counter()
        session.events.register("before-send", self._count)  # the requests the import makes, for its cost
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.ddb = session.client("dynamodb", endpoint_url=endpoint)
        self.sns = session.client("sns", endpoint_url=endpoint)

    def _count(self, event_name: str = "", **_: Any) -> None:
        self.requests[".".join(event_name.split(".")[1:3])] += 1

    def run(
        self,
        the_plan: Plan,
        read_file: Callable[[str], bytes],
        manifest: dict[str, str],
        save: Callable[[dict[str, str]], None],
    ) -> dict[str, Any]:
        from stock_pipeline.adapters.file_outcomes import FileOutcomes

        outcomes = FileOutcomes(self.ddb, self.outputs["StockTableName"])
        uploaded: list[tuple[PlannedFile, str]] = []
        done: dict[tuple[str, str], dict[str, Any]] = {}
        total = len(the_plan.files)
        for n, planned in enumerate(the_plan.files, 1):
            # the live feed keeps its share of the ingest, and no warehouse's partition gets two files at once
            while len(in_flight := [f for f, etag in uploaded if (f.key, etag) not in done]) >= self.ahead or not (
                may_go(planned, in_flight)
            ):
                done = self._wait(outcomes, uploaded)
            body = read_file(planned.name)  # read again when it goes up: the plan keeps no content
            etag = self.s3.put_object(Bucket=self.outputs["DataBucketName"], Key=planned.key, Body=body)["ETag"]
            uploaded.append((planned, etag.strip('"')))
            manifest[planned.key] = planned.digest
            save(manifest)
            self._progress(n, total, len(done))
        while len(done) < len(uploaded):
            done = self._wait(outcomes, uploaded)
        self._progress(total, total, len(done))
        self.out.write("\n")
        return self._summary(the_plan, uploaded, done)

    def _wait(self, outcomes: Any, uploaded: list[tuple[PlannedFile, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        if self.settle is not None:
            self.settle()
        else:
            time.sleep(self.poll_s)
        return outcomes.outcomes([(f.key, etag) for f, etag in uploaded])

    def _progress(self, uploaded: int, total: int, processed: int) -> None:
        width = 30
        filled = int(width * processed / total) if total else width
        self.out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {uploaded}/{total} uploaded, {processed} processed")
        self.out.flush()

    def _summary(
        self, the_plan: Plan, uploaded: list[tuple[PlannedFile, str]], done: dict[tuple[str, str], dict[str, Any]]
    ) -> dict[str, Any]:
        from stock_pipeline.adapters.queries import StockQueries

        rows = sum(f.rows for f, _ in uploaded)
        return summarize(
            [(f.key, done[(f.key, etag)]) for f, etag in uploaded],
            StockQueries(self.ddb, self.outputs["StockTableName"]).below_threshold(),
            already=len(the_plan.already),
            rows=rows,
            requests=dict(self.requests),
            cost=cost(self.requests, rows),
        )

    def notify(self, summary: dict[str, Any]) -> None:
        subject, message = summary_text(summary)
        self.sns.publish(
            TopicArn=self.outputs["RestockTopicArn"],
            Subject=subject,
            Message=message,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "import-summary"}},
        )


def run(args: argparse.Namespace, settle: Callable[[], Any] | None = None, out: Any = sys.stdout) -> int:
    from stockctl.stack import stack_access

    source = Path(args.source)
    path = manifest_path(source)
    manifest = json.loads(path.read_text()) if path.exists() else {}
    the_plan = plan(entries(source), manifest)
    for planned in the_plan.files:
        out.write(f"{'plan' if args.dry_run else 'will upload'}: {planned.name} -> {planned.key}\n")
    for planned in the_plan.already:
        out.write(f"already uploaded: {planned.name} -> {planned.key}\n")
    for name, why in the_plan.problems:
        out.write(f"CANNOT IMPORT {name}: {why}\n")
    if the_plan.problems:
        out.write(f"{len(the_plan.problems)} file(s) cannot be imported: nothing was uploaded\n")
        return 2
    if args.dry_run:
        return 0
    session, outputs, endpoint = stack_access(args)
    importer = Importer(session, outputs, endpoint, ahead=args.ahead, settle=settle, out=out)
    summary = importer.run(
        the_plan,
        lambda name: read(source, name),
        manifest,
        lambda m: path.write_text(json.dumps(m, indent=1, sort_keys=True)),
    )
    subject, message = summary_text(summary)
    for key, why in summary["failed"]:  # all of them here; the e-mail names the first ones
        out.write(f"FAILED {key}: {why}\n")
    out.write(f"\n{subject}\n\n{message}\n\nrequests the import made: {summary['requests']}\n")
    if getattr(args, "summary", None):
        Path(args.summary).write_text(json.dumps(summary, indent=1, default=list))
    importer.notify(summary)
    return 0 if not summary["failed"] else 1
