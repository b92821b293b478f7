"""template.yaml -> CloudFormation, the way `sam package` + the SAM transform would do it, for the local stack."""

from __future__ import annotations

import copy
import functools
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from samtranslator.parser.parser import Parser
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse the SAM template, short-form intrinsics (!Ref, !Sub, ...) included.

    A copy of the parse kept per file version: the pure-Python YAML parser took about half a second per stack
    start, twice (a test session starts dozens of stacks from the same file)."""
    stat = path.stat()
    return copy.deepcopy(_parsed(str(path.resolve()), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _parsed(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    return yaml_parse(Path(path).read_text())


def stock_table_request(name: str, *, stream: bool = False) -> dict[str, Any]:
    """CreateTable's arguments for a table like the template's single table (its keys and indexes, on demand): for
    the benchmarks and the unit tests that need the table without a stack."""
    table = load_template()["Resources"]["StockTable"]["Properties"]
    indexes = [{k: v for k, v in g.items() if k != "ProvisionedThroughput"} for g in table["GlobalSecondaryIndexes"]]
    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": table["AttributeDefinitions"],
        "KeySchema": table["KeySchema"],
        "GlobalSecondaryIndexes": indexes,
    }
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    return request


def code_dirs(template: dict[str, Any], template_dir: Path = ROOT) -> set[Path]:
    """Every function's CodeUri as a local folder: what `sam build` packages and Lambda puts on sys.path."""
    default = template.get("Globals", {}).get("Function", {}).get("CodeUri")
    dirs = set()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            uri = resource.get("Properties", {}).get("CodeUri", default)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                dirs.add((template_dir / uri).resolve())
    return dirs


def package(template: dict[str, Any], code_uri: str, template_dir: Path = ROOT) -> dict[str, Any]:
    """Point every local CodeUri at an uploaded artifact, and inline every local state machine DefinitionUri,
    as `sam package` does before the transform (it uploads the file; inlining it is equivalent)."""
    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads((template_dir / props.pop("DefinitionUri")).read_text())
    function_globals = packaged.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = code_uri
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in resource.get("Properties", {}):
            resource["Properties"]["CodeUri"] = code_uri
    return packaged


def zip_folder(folder: Path) -> bytes:
    """The deployment artifact (moto stores it; the local runtime imports the code from the folder itself)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def translate(template: dict[str, Any], parameters: dict[str, str], session: Any) -> dict[str, Any]:
    """The SAM transform, run locally with the library the CloudFormation service uses (samtranslator.transform,
    with the session passed in so the region and the managed-policy look-ups come from the local account)."""
    fragment, values = copy.deepcopy(template), dict(parameters)
    to_py27_compatible_template(fragment, values)
    loader = ManagedPolicyLoader(session.client("iam"))
    translator = Translator(None, Parser(), boto_session=session)
    translated = translator.translate(fragment, parameter_values=values, get_managed_policy_map=loader.load)
    return undo_mark_unicode_str_in_template(translated)


def parameter_errors(template: dict[str, Any], values: dict[str, str]) -> list[str]:
    """CloudFormation's checks of the parameter values against their constraints, made before it creates anything
    (moto's CloudFormation makes none). AllowedPattern must match the whole value of a String; a constraint's
    ConstraintDescription is what CloudFormation says instead of the pattern
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html)."""
    import re

    errors = []
    for name, spec in template.get("Parameters", {}).items():
        if name not in values and "Default" not in spec:
            errors.append(f"Parameters: [{name}] must have values")
            continue
        value = str(values.get(name, spec.get("Default")))
        broken = None
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            broken = f"must be one of AllowedValues {spec['AllowedValues']}"
        elif spec.get("Type", "String") == "String":
            if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
                broken = f"must match pattern {spec['AllowedPattern']}"
            elif not int(spec.get("MinLength", 0)) <= len(value) <= int(spec.get("MaxLength", 4096)):
                broken = f"must have a length within [{spec.get('MinLength', 0)}, {spec.get('MaxLength', 4096)}]"
        elif spec["Type"] == "Number":
            try:
                number = float(value)
            except ValueError:
                number = float("nan")
            if not float(spec.get("MinValue", "-inf")) <= number <= float(spec.get("MaxValue", "inf")):
                broken = f"must be within [{spec.get('MinValue', '-inf')}, {spec.get('MaxValue', 'inf')}]"
        if broken:
            described = spec.get("ConstraintDescription")
            errors.append(
                f"Parameter '{name}' failed to satisfy constraint: {described}"
                if described
                else f"Parameter '{name}' {broken}"
            )
    return errors


def dependencies(template: dict[str, Any]) -> dict[str, set[str]]:
    """Each resource's direct dependencies as CloudFormation reads them: Ref, Fn::GetAtt, the ${Name} and
    ${Name.Attr} of Fn::Sub, and DependsOn. CloudFormation creates a resource only after these, and may create
    any two resources with no path between them in either order, or at the same time
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html)."""
    import re

    resources = template.get("Resources", {})

    def named(node: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and isinstance(value, str):
                    found.add(value)
                elif key == "Fn::GetAtt":
                    target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
                    found.add(target)
                elif key == "Fn::Sub":
                    text = value[0] if isinstance(value, list) else value
                    found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", str(text))}
                found |= named(value)
        elif isinstance(node, list):
            for value in node:
                found |= named(value)
        return found

    graph = {}
    for lid, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        direct = named({k: v for k, v in resource.items() if k != "DependsOn"})
        direct |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[lid] = {d for d in direct if d in resources and d != lid}
    return graph


def created_before(graph: dict[str, set[str]], lid: str) -> set[str]:
    """What CloudFormation is sure to have created before `lid`: its dependencies, and theirs."""
    seen: set[str] = set()
    todo = list(graph.get(lid, ()))
    while todo:
        dependency = todo.pop()
        if dependency not in seen:
            seen.add(dependency)
            todo.extend(graph.get(dependency, ()))
    return seen


def creation_order(graph: dict[str, set[str]], lids: list[str], rank: dict[str, int]) -> list[str]:
    """`lids` in an order CloudFormation's graph allows (each after those of its dependencies among them), the
    lowest rank first among those ready: a resource is made as early as the graph lets it, as CloudFormation,
    which creates in parallel, may make it."""
    pending = set(lids)
    order: list[str] = []
    while pending:
        ready = [lid for lid in pending if not (graph.get(lid, set()) & pending)]
        if not ready:
            raise ValueError(f"circular dependency between resources: {sorted(pending)}")
        chosen = min(ready, key=lambda lid: (rank.get(lid, 99), lids.index(lid)))
        order.append(chosen)
        pending.remove(chosen)
    return order
