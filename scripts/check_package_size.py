"""Fails when a built function package exceeds the package limit (MB, unzipped), or when package and layers
together exceed Lambda's 250 MB unzipped limit (layer sizes from docs/layers.json): the managed layers carry the
heavy libraries, and they take most of the 250 MB."""

import json
import sys
from pathlib import Path

LAMBDA_LIMIT_MB = 250.0


def size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1024 / 1024


def layers_of(build_dir: Path, layers: list[dict]) -> dict[str, list[dict]]:
    """Each function's layers as the built template attaches them (Globals' and its own), matched to
    docs/layers.json by the parameter's name (PandasLayerArn: the AWS SDK for pandas layer; ...)."""
    from local_aws.template import load_template

    template = load_template(build_dir / "template.yaml")
    common = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    found = {}
    for lid, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        refs = [
            r.get("Ref", "") if isinstance(r, dict) else str(r)
            for r in [*common, *resource["Properties"].get("Layers", [])]
        ]
        found[lid] = [
            layer
            for layer in layers
            if any(ref.removesuffix("LayerArn").lower() in layer["name"].lower() for ref in refs)
        ]
    return found


def main(build_dir: str, limit_mb: str, layers_file: str | None = None) -> int:
    limit = float(limit_mb)
    layers = json.loads(Path(layers_file).read_text())["layers"] if layers_file else []
    folders = [p for p in Path(build_dir).iterdir() if p.is_dir()]
    if not folders:
        print(f"no function packages under {build_dir}")
        return 1
    built = Path(build_dir) / "template.yaml"
    attached = layers_of(Path(build_dir), layers) if layers and built.exists() else {}  # else: every layer on each
    failed = False
    for folder in sorted(folders):
        mb = size_mb(folder)
        its = attached.get(folder.name, layers)
        total = mb + sum(float(layer["unzipped_mb"]) for layer in its)
        names = " + ".join(layer["name"].split("-")[0] for layer in its) or "no layer"
        print(f"  {folder.name:<28} {mb:8.2f} MB unzipped, {total:8.2f} MB with its layers ({names})")
        failed |= mb > limit or total > LAMBDA_LIMIT_MB
    names = ", ".join(f"{layer['name']} {layer['release']} ({layer['unzipped_mb']} MB)" for layer in layers)
    if failed:
        print(f"a function package exceeds {limit} MB, or {LAMBDA_LIMIT_MB} MB with its layers ({names})")
        return 1
    print(f"every function package is under {limit} MB, and under {LAMBDA_LIMIT_MB} MB with its layers ({names})")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
