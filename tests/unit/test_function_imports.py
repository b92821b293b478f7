"""What each function imports when Lambda starts it (its handler module, in a fresh interpreter), held to what it
uses: the functions people wait on import no Arrow, pandas, NumPy, X-Ray SDK or pydantic (their cold start), and
exactly the functions that import Arrow, pandas or NumPy carry the AWS SDK for pandas layer (which provides them)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local_aws.template import load_template

ROOT = Path(__file__).parents[2]
HEAVY = {"pyarrow", "pandas", "numpy", "awswrangler", "aws_xray_sdk", "pydantic"}
LAYER_PROVIDES = {"pyarrow", "pandas", "numpy", "awswrangler"}
PEOPLE_WAIT_ON = {"ConsoleFunction", "ReportsFunction", "ConsoleInviteFunction", "AlertFunction"}
PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def functions():
    resources = load_template()["Resources"]
    return {
        lid: r
        for lid, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function" and r["Properties"]["Handler"].startswith("stock_pipeline.")
    }


@pytest.fixture(scope="module")
def imported():
    """Each function's top-level modules after its handler module is imported, as at a cold start."""
    found = {}
    for lid, resource in functions().items():
        module = resource["Properties"]["Handler"].rsplit(".", 1)[0]
        done = subprocess.run(
            [sys.executable, "-c", PROBE, module],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "eu-central-1"},
        )
        found[lid] = set(json.loads(done.stdout))
    return found


def test_the_functions_people_wait_on_import_no_arrow_pandas_numpy_xray_sdk_or_pydantic(imported):
    assert set(imported) >= PEOPLE_WAIT_ON
    for lid in PEOPLE_WAIT_ON:
        assert not imported[lid] & HEAVY, f"{lid} imports {sorted(imported[lid] & HEAVY)}"


def test_exactly_the_functions_that_import_what_the_pandas_layer_provides_carry_it(imported):
    template = load_template()
    global_layers = template["Globals"]["Function"].get("Layers", [])
    assert {"Ref": "PandasLayerArn"} not in global_layers  # attached where it is used, not to every function
    for lid, resource in functions().items():
        carries = {"Ref": "PandasLayerArn"} in resource["Properties"].get("Layers", [])
        needs = bool(imported[lid] & LAYER_PROVIDES)
        assert carries == needs, f"{lid}: imports {sorted(imported[lid] & LAYER_PROVIDES)}, layer {carries}"
