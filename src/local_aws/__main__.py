"""`python -m local_aws up`: the local stack in the foreground until Ctrl-C, described in .local-stack.json.
`python -m local_aws fire`: what EventBridge Scheduler does at 03:00 UTC, now, on that stack."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from local_aws.stack import LocalStack
from local_aws.template import ROOT


def cold_starts(stack: LocalStack) -> None:
    """Each function's cold start as its init phase imports it (a fresh interpreter), against the floor every
    function imports: a change that slows a start shows here, where it is made (`make bench` measures it well)."""
    from local_aws.runtime import COLD_FLOOR, fresh_import_seconds

    code_dir = next(iter(stack.functions.values())).code_dir
    fresh_import_seconds(COLD_FLOOR, code_dir)  # the first reads the files from disk: not what is measured
    floor = fresh_import_seconds(COLD_FLOOR, code_dir)
    for lid, function in sorted(stack.functions.items()):
        module = function.handler.rsplit(".", 1)[0]
        seconds = fresh_import_seconds(f"import {module}", code_dir)
        print(
            f"cold start: {lid:<24} imports in {seconds * 1000:5.0f} ms ({seconds / floor:.1f}x the floor of "
            f"{floor * 1000:.0f} ms), MemorySize {function.memory_mb} MB",
            flush=True,
        )


def up(state_file: Path, port: int) -> int:
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stack = LocalStack(port=port)
    try:
        stack.start()
    except OSError as exc:  # the endpoint's port, or the HTTP API's next to it, is taken
        stack.stop()
        print(
            f"make up: {exc}. Another local stack or program holds port {port} or the ports after it "
            f"(see `ss -ltnp 'sport >= :{port}'`): stop it, or choose another port: make up ARGS='--port {port + 10}'",
            file=sys.stderr,
            flush=True,
        )
        return 2
    try:
        stack.run_in_background()
        state_file.write_text(json.dumps(stack.describe(), indent=2) + "\n")
        print(f"Local stack {stack.stack_name} is up at {stack.endpoint}")
        for name, value in sorted(stack.outputs.items()):
            print(f"  {name:<26} {value}")
        if stack.console_credentials:
            user = stack.console_credentials
            print(f"Web console: {stack.outputs['ConsoleUrl']}  user {user['username']}  password {user['password']}")
        print(
            f"Described in {state_file}. Try:\n"
            f"  aws --endpoint-url {stack.endpoint} s3 ls s3://{stack.outputs['DataBucketName']}/ --recursive\n"
            "Ctrl-C stops it.",
            flush=True,
        )
        threading.Thread(target=cold_starts, args=(stack,), name="cold-starts", daemon=True).start()
        stopping.wait()
    finally:
        stack.stop()
        state_file.unlink(missing_ok=True)
        print("Local stack stopped.", flush=True)
    return 0


def fire_schedule(state_file: Path, name: str | None) -> int:
    import boto3

    from local_aws.scheduler import fire

    state = json.loads(state_file.read_text())
    session = boto3.session.Session(region_name=state["region"], **state["credentials"])
    scheduler = session.client("scheduler", endpoint_url=state["endpoint"])

    def client_for(role_arn: str, service: str, group_arn: str) -> object:
        """The session the running stack's scheduler holds for that role (its trust policy checked at deploy)."""
        credentials = state["schedulerSessions"][role_arn]
        return boto3.session.Session(region_name=state["region"], **credentials).client(
            service, endpoint_url=state["endpoint"]
        )

    arn = fire(scheduler, client_for, name or state["outputs"]["ValidationScheduleName"])
    print(f"fired: started {arn}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("up", help="run the local stack in the foreground")
    run.add_argument("--state-file", type=Path, default=ROOT / ".local-stack.json")
    run.add_argument("--port", type=int, default=4566)
    now = commands.add_parser("fire", help="fire a schedule of the running local stack now (default: the validation)")
    now.add_argument("schedule", nargs="?", help="schedule name (default: the ValidationScheduleName output)")
    now.add_argument("--state-file", type=Path, default=ROOT / ".local-stack.json")
    args = parser.parse_args(argv)
    if args.command == "fire":
        return fire_schedule(args.state_file, args.schedule)
    return up(args.state_file, args.port)


if __name__ == "__main__":
    sys.exit(main())
