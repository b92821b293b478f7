"""`make up` prints each function's cold start: its handler imported in a fresh interpreter, against the floor."""

import io
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

from local_aws.__main__ import cold_starts
from local_aws.runtime import fresh_import_seconds

SRC = Path(__file__).parents[2] / "src"


def test_an_import_is_timed_in_a_fresh_interpreter():
    assert 0 < fresh_import_seconds("import json", SRC) < 5


def test_each_function_is_printed_with_its_import_time_and_its_ratio_to_the_floor():
    function = SimpleNamespace(handler="stock_pipeline.handlers.invite.lambda_handler", memory_mb=256, code_dir=SRC)
    out = io.StringIO()
    with redirect_stdout(out):
        cold_starts(SimpleNamespace(functions={"ConsoleInviteFunction": function}))
    line = out.getvalue().strip()
    assert line.startswith("cold start: ConsoleInviteFunction") and "x the floor of" in line and "256 MB" in line
