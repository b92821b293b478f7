"""`make build`'s size check: a package over its own limit, or over Lambda's 250 MB with its layers, fails."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))

import check_package_size


def build(tmp_path, package_bytes, layers_mb):
    (tmp_path / "build" / "IngestFunction").mkdir(parents=True)
    (tmp_path / "build" / "IngestFunction" / "code.py").write_bytes(b"x" * package_bytes)
    layers = tmp_path / "layers.json"
    layers.write_text(json.dumps({"layers": [{"name": "L", "release": "1", "unzipped_mb": mb} for mb in layers_mb]}))
    return str(tmp_path / "build"), str(layers)


def test_a_package_that_fits_with_its_layers_passes(tmp_path):
    folder, layers = build(tmp_path, 1024 * 1024, [204, 32])
    assert check_package_size.main(folder, "50", layers) == 0


def test_a_small_package_on_top_of_large_layers_fails_the_250_mb_limit(tmp_path):
    folder, layers = build(tmp_path, 2 * 1024 * 1024, [204, 45])
    assert check_package_size.main(folder, "50", layers) == 1


def test_the_recorded_layer_sizes_leave_room_for_the_packages():
    layers = json.loads((Path(__file__).parents[2] / "docs" / "layers.json").read_text())["layers"]
    assert {layer["name"] for layer in layers} == {
        "AWSSDKPandas-Python312-Arm64",
        "AWSLambdaPowertoolsPythonV3-python312-arm64",
    }
    assert all(layer["source"] for layer in layers)
    assert sum(layer["unzipped_mb"] for layer in layers) < 250


def test_the_tests_run_the_library_versions_the_layers_ship():
    """What is tested is what runs: a version bump in requirements.txt without a layer that ships it fails here."""
    from importlib.metadata import version

    layers = json.loads((Path(__file__).parents[2] / "docs" / "layers.json").read_text())["layers"]
    shipped = {name: v for layer in layers for name, v in layer["ships"].items()}
    assert {"awswrangler", "pyarrow", "aws-lambda-powertools"} <= set(shipped)
    assert {name: version(name) for name in shipped} == shipped
