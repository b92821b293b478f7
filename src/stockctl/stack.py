"""Reaching a stack from the command line: the local one of `make up` (.local-stack.json) or a deployed one (its
CloudFormation outputs), and its reports API with SigV4-signed requests."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

LOCAL_STATE = Path(".local-stack.json")


class ReportsClient:
    """GET a report with a SigV4-signed request; `pages` follows the `next` tokens."""

    def __init__(self, base_url: str, session: Any, region: str) -> None:
        self.base_url, self._session, self.region = base_url.rstrip("/"), session, region

    def get(self, path: str, query: dict[str, Any], *, csv: bool = False) -> tuple[int, dict[str, str], bytes]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        params = {k: v for k, v in query.items() if v is not None}
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        request = AWSRequest(method="GET", url=url, headers={"Accept": "text/csv" if csv else "application/json"})
        credentials = self._session.get_credentials()
        if credentials is None:
            raise SystemExit("no AWS credentials found (profile, environment or role)")
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        prepared = urllib.request.Request(url, headers=dict(request.headers.items()), method="GET")  # noqa: S310
        try:
            with urllib.request.urlopen(prepared, timeout=30) as response:  # noqa: S310 (http(s) URL we built)
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers.items()), error.read()

    def pages(self, path: str, query: dict[str, Any], *, csv: bool = False) -> Iterator[tuple[int, bytes]]:
        token = None
        while True:
            status, headers, body = self.get(path, {**query, "next": token}, csv=csv)
            yield status, body
            token = headers.get("X-Next-Token") or headers.get("x-next-token")
            if status != 200 or not token:
                return


def client_for(args: argparse.Namespace) -> ReportsClient:
    if args.url:
        import boto3

        session = boto3.session.Session(region_name=args.region)
        return ReportsClient(args.url, session, session.region_name)
    session, outputs, _ = stack_access(args)
    return ReportsClient(outputs["ReportsApiUrl"], session, session.region_name)


def stack_access(args: argparse.Namespace) -> tuple[Any, dict[str, str], str | None]:
    """(boto3 session, the stack's outputs, endpoint URL or None) for the local or a deployed stack."""
    import boto3

    if args.local:
        state = json.loads(Path(args.local).read_text())
        session = boto3.session.Session(region_name=state["region"], **state["credentials"])
        return session, state["outputs"], state["endpoint"]
    session = boto3.session.Session(region_name=args.region)
    stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    return session, {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}, None


def topic_may_send(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """The queue policy an SQS subscriber of a topic needs (https://docs.aws.amazon.com/sns/latest/dg/
    subscribe-sqs-queue-to-sns-topic.html): SNS may send, for that topic only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }


@dataclass
class Target:
    """The stack under test: a session with the caller's credentials, its outputs and where to reach it."""

    session: Any
    outputs: dict[str, str]
    endpoint: str | None
    stack: str
    region: str
    console_user: dict[str, str] | None = None

    def client(self, service: str) -> Any:
        """Clients as the functions make them (S3: SigV4 at the regional endpoint), aimed at the stack's endpoint."""
        from stock_pipeline.adapters.aws import client_config, s3_client

        session = _EndpointSession(self.session, self.endpoint)
        return s3_client(session) if service == "s3" else session.client(service, config=client_config())


class _EndpointSession:
    """A session whose clients go to the local stack's endpoint (None: AWS's)."""

    def __init__(self, session: Any, endpoint: str | None) -> None:
        self._session, self._endpoint = session, endpoint

    def client(self, service: str, **kwargs: Any) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint, **kwargs)


def start_workflow(sfn: Any, machine: str, args: argparse.Namespace, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Start a workflow as its schedule does; with --wait, follow it and print its status and output."""
    import time
    from datetime import UTC, datetime

    now = datetime.now(UTC)  # to the millisecond: two starts in one second are two executions, not a clash
    name = args.name or f"manual-{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z"
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))["executionArn"]
    print(f"started {arn}", flush=True)
    if not args.wait:
        return None
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(args.poll)
    print(f"{execution['status']}: {execution.get('output') or execution.get('cause') or ''}")
    return execution
