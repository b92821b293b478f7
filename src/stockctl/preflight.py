"""`python -m stockctl preflight`: check the deploy parameters AWS only checks when it creates the functions.

The template's pattern accepts only the python3.12 arm64 build's name, but a layer ARN of another region, a version
that was never published, or a layer built for another platform passes CloudFormation's parameter check and fails
half-way through the first deploy. The same holds for Powertools' public SSM parameter: a version not published in
the deploy region fails the stack's creation ("Parameters [...] referenced by template have types not supported by
CloudFormation" / "Unable to fetch parameters"). `make deploy` runs this first, against the region it deploys to.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:(?P<name>[^:]+):(?P<version>\d+)$"
)
RUNTIME, ARCHITECTURE, LAYER_NAME = "python3.12", "arm64", "AWSSDKPandas-Python312-Arm64"
LAYERS_FILE = Path(__file__).parents[2] / "docs" / "layers.json"
RELEASE = re.compile(r"\b(\d+\.\d+\.\d+)\b")
TEMPLATE = Path(__file__).parents[2] / "template.yaml"
POWERTOOLS_NAME = re.compile(r"^AWSLambdaPowertoolsPythonV3-python312-arm64$")


def deploy_settings(config: Path, env: str = "default") -> tuple[str | None, dict[str, str]]:
    """(region, parameter overrides) as `sam deploy` reads them from samconfig.toml."""
    settings = tomllib.loads(config.read_text()).get(env, {}).get("deploy", {}).get("parameters", {})
    overrides = settings.get("parameter_overrides", [])
    if isinstance(overrides, str):
        overrides = re.findall(r'(\w+)=("[^"]*"|\S+)', overrides)
        pairs = [(k, v.strip('"')) for k, v in overrides]
    else:
        pairs = [tuple(item.split("=", 1)) for item in overrides if "=" in item]
    return settings.get("region"), dict(pairs)


def layer_problems(arn: str, region: str, published: dict[str, Any] | None) -> list[str]:
    """Why this layer version would fail the functions in `region` (empty: it will load). `published` is Lambda's
    GetLayerVersion answer, None when no such version exists or it is not shared with this account."""
    match = ARN.match(arn)
    if not match:
        return [f"{arn!r} is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)"]
    problems = []
    if match["region"] != region:
        problems.append(
            f"the layer is in {match['region']} but the stack deploys to {region}: Lambda loads layers of the "
            f"function's own region only; take the {region} ARN from https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html"
        )
    if match["name"] != LAYER_NAME:
        problems.append(f"layer {match['name']} is not {LAYER_NAME}, the build for {RUNTIME} on {ARCHITECTURE}")
    if published is None:
        if not problems:
            problems.append(
                f"version {match['version']} of {match['name']} does not exist in {region} (or is not public): the "
                "published versions differ per region"
            )
        return problems
    runtimes, architectures = published.get("CompatibleRuntimes"), published.get("CompatibleArchitectures")
    if runtimes and RUNTIME not in runtimes:
        problems.append(f"the layer is built for {', '.join(runtimes)}, not {RUNTIME}")
    if architectures and ARCHITECTURE not in architectures:
        problems.append(f"the layer is built for {', '.join(architectures)}, not {ARCHITECTURE}")
    return problems


def release_note(published: dict[str, Any], tested: str) -> str | None:
    """A warning when the layer's description names another release than the one the tests pin."""
    found = RELEASE.search(published.get("Description", ""))
    if found and found[1] != tested:
        return (
            f"the layer says release {found[1]}, the tests run {tested}: deployable, but not what `make test` checked "
            "(update docs/layers.json and requirements.txt together)"
        )
    return None


def tested_release() -> str:
    layers = json.loads(LAYERS_FILE.read_text())["layers"]
    return next(layer["release"] for layer in layers if layer["name"] == LAYER_NAME)


def published_version(client: Any, arn: str) -> dict[str, Any] | None:
    """GetLayerVersion by the layer's ARN (public layers grant it to every account; GetLayerVersionByArn too)."""
    match = ARN.match(arn)
    if not match:
        return None
    layer_arn = arn.rsplit(":", 1)[0]
    try:
        return client.get_layer_version(LayerName=layer_arn, VersionNumber=int(match["version"]))
    except client.exceptions.ResourceNotFoundException:
        return None
    except client.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"AccessDeniedException", "AccessDenied"}:
            return None
        raise


def powertools_parameter(overrides: dict[str, str], template: Path = TEMPLATE) -> str:
    """The SSM parameter the stack resolves the Powertools layer from: samconfig's override or the template's
    default."""
    if overrides.get("PowertoolsLayerArn"):
        return overrides["PowertoolsLayerArn"]
    block = template.read_text().split("\n  PowertoolsLayerArn:\n", 1)[1]
    return re.search(r"^\s+Default:\s*(\S+)", block, re.MULTILINE)[1]  # type: ignore[index]


def powertools_problems(ssm: Any, name: str, region: str) -> list[str]:
    """Why the Powertools layer would not resolve or load in `region` (empty: it will)."""
    try:
        arn = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return [
            f"{name} does not exist in {region}: this Powertools release is not published there (yet). Pick a "
            "release listed for the region (https://docs.powertools.aws.dev/lambda/python/latest/#lambda-layer) "
            "and pass PowertoolsLayerArn=/aws/service/powertools/python/arm64/python3.12/<version>"
        ]
    match = ARN.match(arn)
    if not match:
        return [f"{name} holds {arn!r}, not a layer version ARN"]
    problems = []
    if match["region"] != region:
        problems.append(f"{name} names a layer in {match['region']}, but the stack deploys to {region}")
    if not POWERTOOLS_NAME.match(match["name"]):
        problems.append(f"{name} names {match['name']}, not the Powertools build for {RUNTIME} on {ARCHITECTURE}")
    return problems


def run(config: Path, env: str, region: str | None, layer: str | None, client: Any = None, ssm: Any = None) -> int:
    """Print what is wrong with the deploy settings and return 1, or 0 when they will load."""
    saved_region, overrides = deploy_settings(config, env) if config.exists() else (None, {})
    arn = layer or overrides.get("PandasLayerArn")
    region = region or saved_region
    if not arn:
        print(f"preflight: no PandasLayerArn in {config} ([{env}.deploy.parameters] parameter_overrides) nor --layer")
        return 1
    if client is None:
        import boto3

        client = boto3.session.Session(region_name=region).client("lambda")
    region = region or client.meta.region_name
    if ssm is None:
        import boto3

        ssm = boto3.session.Session(region_name=region).client("ssm")
    published = published_version(client, arn) if ARN.match(arn) and arn.split(":")[3] == region else None
    problems = [f"PandasLayerArn: {p}" for p in layer_problems(arn, region, published)]
    problems += [f"PowertoolsLayerArn: {p}" for p in powertools_problems(ssm, powertools_parameter(overrides), region)]
    for problem in problems:
        print(f"preflight: {problem}")
    if problems:
        return 1
    note = release_note(published or {}, tested_release())
    if note:
        print(f"preflight: warning: {note}")
    print(f"preflight: {arn} loads in {region} ({RUNTIME}, {ARCHITECTURE})")
    return 0
