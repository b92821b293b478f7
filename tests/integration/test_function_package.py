"""What `sam build` puts in a function package: src/Makefile's target for it (template.yaml: BuildMethod makefile)."""

import subprocess
import sys
from pathlib import Path

from local_aws.template import load_template

ROOT = Path(__file__).parents[2]


def test_every_function_is_built_by_the_makefile_into_a_package_of_stock_pipeline_and_its_requirements(tmp_path):
    functions = [lid for lid, r in load_template()["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    for lid in functions:
        assert load_template()["Resources"][lid]["Metadata"]["BuildMethod"] == "makefile", lid
    assert all(
        f"build-{lid}" in (ROOT / "src" / "Makefile").read_text() or lid in (ROOT / "src" / "Makefile").read_text()
        for lid in functions
    )
    # When sam build runs the target of one function
    artifacts = tmp_path / "IngestFunction"
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "build-IngestFunction",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ],
        cwd=ROOT / "src",
        check=True,
        capture_output=True,
    )
    # Then the package holds the pipeline's code, the arm64 wheel of calamine and the zone data, nothing of the
    # local stack, the load generator, the CLI or the state machine files
    top = sorted(p.name for p in artifacts.iterdir())
    requirements = (ROOT / "src" / "requirements.txt").read_text()
    pinned = requirements.split("python-calamine==", 1)[1].split()[0]
    zones = requirements.split("tzdata==", 1)[1].split()[0]
    assert top == [
        "python_calamine",
        f"python_calamine-{pinned}.dist-info",
        "stock_pipeline",
        "tzdata",
        f"tzdata-{zones}.dist-info",
    ]
    assert (artifacts / "tzdata" / "zoneinfo" / "Europe" / "Berlin").exists()
    assert list((artifacts / "python_calamine").glob("*aarch64-linux-gnu.so"))
    # and its bytecode, for the runtime's Python, used without a look at the sources (Lambda's /var/task is
    # read-only: a module without it would be compiled at every cold start)
    sources = list((artifacts / "stock_pipeline").rglob("*.py"))
    for source in sources:
        [compiled] = (source.parent / "__pycache__").glob(f"{source.stem}.cpython-312.pyc")
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{compiled}: not unchecked-hash bytecode"  # hash-based, source not checked (PEP 552)
    assert (artifacts / "stock_pipeline" / "handlers" / "ingest.py").exists()
