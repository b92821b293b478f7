"""`make up` (python -m local_aws up) when its port is taken: it says so and exits at once."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_make_up_with_its_port_taken_exits_at_once_naming_the_port_and_how_to_choose_another(tmp_path):
    # Given another program listening on the port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # When the local stack is started on it
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "local_aws", "up", "--port", str(port), "--state-file", str(tmp_path / "s.json")],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            capture_output=True,
            text=True,
            timeout=120,  # moto's own start() waited for ever here
            check=False,
        )

    # Then it exits non-zero, naming the port and the way to another, and leaves no state file behind
    assert run.returncode == 2, run.stderr
    assert f"127.0.0.1:{port} cannot be used (Address already in use)" in run.stderr
    assert f"make up ARGS='--port {port + 10}'" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "s.json").exists()
    assert time.monotonic() - started < 60
