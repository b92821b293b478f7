"""`python -m local_aws up`: the local stack in the foreground until Ctrl-C, described in .local-stack.json."""

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


def up(state_file: Path, port: int) -> int:
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stack = LocalStack(port=port)
    stack.start()
    try:
        stack.run_in_background()
        state_file.write_text(json.dumps(stack.describe(), indent=2) + "\n")
        print(f"Local stack {stack.stack_name} is up at {stack.endpoint}")
        for name, value in sorted(stack.outputs.items()):
            print(f"  {name:<26} {value}")
        print(
            f"Described in {state_file}. Try:\n"
            f"  aws --endpoint-url {stack.endpoint} s3 ls s3://{stack.outputs['DataBucketName']}/ --recursive\n"
            "Ctrl-C stops it.",
            flush=True,
        )
        stopping.wait()
    finally:
        stack.stop()
        state_file.unlink(missing_ok=True)
        print("Local stack stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("up", help="run the local stack in the foreground")
    run.add_argument("--state-file", type=Path, default=ROOT / ".local-stack.json")
    run.add_argument("--port", type=int, default=4566)
    args = parser.parse_args(argv)
    return up(args.state_file, args.port)


if __name__ == "__main__":
    sys.exit(main())
