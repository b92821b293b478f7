"""What the local stack's IAM enforcement cannot check, read from the code instead.

The enforcement (local_aws.iam) refuses every call a role does not allow, action and resource, so a missing
permission fails the flow that needs it: that direction is not tested here any more. What no run can show is the
other direction: that a role allows *only* what its code needs. A permission the code never uses passes every run.
So this reads the code: which adapter classes a handler builds, which of their methods the handler and the
application modules it imports call, which boto3 operations those methods send (TransactWriteItems and PartiQL
counted as the per-item actions IAM checks), plus what the function's event source mapping needs; every action
the role allows must be among them. And no statement may reach every resource (but the one action that has no
resource-level permissions).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "stock_pipeline"
CLIENT_ATTRIBUTES = {
    "_ddb": "dynamodb",
    "_s3": "s3",
    "_sns": "sns",
    "_sfn": "states",
    "_idp": "cognito-idp",
    "_ssm": "ssm",
    "_sqs": "sqs",
}
# boto3 operations whose IAM action is not the operation's name
ACTIONS = {
    # S3 answers 403 instead of 404 for a missing key unless the caller may list the bucket; the code tells
    # "missing" from "refused", so reads need s3:ListBucket; reads name the version an event announced
    ("s3", "head_object"): {"s3:GetObject", "s3:ListBucket"},
    ("s3", "get_object"): {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"},
    ("s3", "put_object"): {"s3:PutObject"},
    ("s3", "list_objects_v2"): {"s3:ListBucket"},
    ("sns", "publish_batch"): {"sns:Publish"},
    # a presigned POST or GET is authorised, when the browser uses it, by the signer's own permission
    ("s3", "generate_presigned_post"): {"s3:PutObject"},
    ("s3", "generate_presigned_url"): {"s3:GetObject"},
    # sign-in with a public app client: Cognito does not authorise these with IAM
    ("cognito-idp", "initiate_auth"): set(),
    ("cognito-idp", "respond_to_auth_challenge"): set(),
    ("cognito-idp", "associate_software_token"): set(),
    ("cognito-idp", "verify_software_token"): set(),
    ("cognito-idp", "set_user_mfa_preference"): set(),
}
# adapter module functions that take the client and send for the caller
HELPERS = {"write_batches": {"dynamodb:BatchWriteItem"}}
TRANSACT_KINDS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem"}
PARTIQL_KINDS = {
    "INSERT": "dynamodb:PartiQLInsert",
    "UPDATE": "dynamodb:PartiQLUpdate",
    "DELETE": "dynamodb:PartiQLDelete",
}
# what an event source mapping polls with (the function's role, not the code)
MAPPING_ACTIONS = {
    "sqs": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"},
    "dynamodb": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
}
ALLOWED_MANAGED = {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"}
FUNCTIONS = {
    "IngestFunction": "ingest",
    "AlertFunction": "alerts",
    "ReevaluateFunction": "reevaluate",
    "ReportsFunction": "reports",
    "ValidationFunction": "validate",
    "HistoryFunction": "history",
    "ConsoleFunction": "console",
    "ConsoleInviteFunction": "invite",
}


def camel(operation: str) -> str:
    return "".join(part.title() for part in operation.split("_"))


class AdapterIndex:
    """Every adapter class: per method, the AWS actions it sends itself and the methods of its own it calls."""

    def __init__(self) -> None:
        self.actions: dict[str, dict[str, set[str]]] = {}
        self.calls: dict[str, dict[str, set[str]]] = {}
        self.uses: dict[str, set[str]] = {}  # adapter classes an adapter builds (LakeWriter -> ObjectStore)
        for path in sorted((SRC / "adapters").glob("*.py")):
            tree = ast.parse(path.read_text())
            partiql = {PARTIQL_KINDS[m] for m in re.findall(r"""['"](INSERT|UPDATE|DELETE) """, path.read_text())}
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    self._index(node, partiql)
        for name in self.uses:
            self.uses[name] &= set(self.actions)

    def _index(self, cls: ast.ClassDef, partiql: set[str]) -> None:
        actions, calls, uses = {}, {}, set()
        for method in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            found, called = set(), set()
            for node in ast.walk(method):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    uses.add(node.func.id)
                    found |= HELPERS.get(node.func.id, set())
                    for arg in node.args:  # written_if(self._ddb.update_item, ...): a client's method handed on
                        if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Attribute):
                            holder = arg.value
                            service = CLIENT_ATTRIBUTES.get(holder.attr)
                            if service and isinstance(holder.value, ast.Name) and holder.value.id == "self":
                                found |= ACTIONS.get((service, arg.attr), {f"{service}:{camel(arg.attr)}"})
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                owner, operation = node.func.value, node.func.attr
                if isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) and owner.value.id == "self":
                    service = CLIENT_ATTRIBUTES.get(owner.attr)
                    if service is None:
                        called.add(operation)  # self._store.write(...): a method of another adapter
                    elif operation == "get_paginator":
                        paginated = node.args[0].value  # type: ignore[attr-defined]
                        found |= ACTIONS.get((service, paginated), {f"{service}:{camel(paginated)}"})
                    elif operation == "transact_write_items":
                        # the items may be built by helpers of the class: its constants say which kinds it sends
                        kinds = {k.value for k in ast.walk(cls) if isinstance(k, ast.Constant)} & set(TRANSACT_KINDS)
                        found |= {TRANSACT_KINDS[k] for k in kinds}
                    elif operation == "batch_execute_statement":
                        found |= partiql
                    else:
                        found |= ACTIONS.get((service, operation), {f"{service}:{camel(operation)}"})
                elif isinstance(owner, ast.Name) and owner.id == "self":
                    called.add(operation)
            actions[method.name], calls[method.name] = found, called
        self.actions[cls.name], self.calls[cls.name], self.uses[cls.name] = actions, calls, uses

    def reach(self, classes: set[str], method_names: set[str]) -> set[str]:
        """Actions of the named methods of these classes, following their calls to methods of their own and of
        the adapters they hold."""
        classes = set(classes)
        for name in list(classes):
            classes |= self.uses.get(name, set())
        found: set[str] = set()
        pending = {(c, m) for c in classes for m in method_names if m in self.actions.get(c, {})}
        seen: set[tuple[str, str]] = set()
        while pending:
            cls, method = pending.pop()
            if (cls, method) in seen:
                continue
            seen.add((cls, method))
            found |= self.actions[cls][method]
            for name in self.calls[cls][method]:
                pending |= {(c, name) for c in classes if name in self.actions[c]}
        return found


def called_names(handler: str) -> tuple[set[str], set[str]]:
    """Adapter classes the handler builds, and every method name called from the handler and from the
    application functions it imports (followed through the functions of their module that they call)."""
    tree = ast.parse((SRC / "handlers" / f"{handler}.py").read_text())
    built = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    names = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    for node in tree.body:
        if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stock_pipeline")):
            continue
        # `from stock_pipeline.reports import x` (those functions) or `from stock_pipeline import reports` (all)
        modules = (
            [(node.module.split(".")[1], {a.name for a in node.names})]
            if node.module.count(".") == 1
            else [(a.name, None) for a in node.names]
            if node.module == "stock_pipeline"
            else []
        )
        for module_name, imported in modules:
            path = SRC / f"{module_name}.py"
            if not path.exists():
                continue
            module = ast.parse(path.read_text())
            functions = {f.name: f for f in module.body if isinstance(f, ast.FunctionDef)}
            pending = [f for f in functions if imported is None or f in imported]
            seen: set[str] = set()
            while pending:
                name = pending.pop()
                if name in seen:
                    continue
                seen.add(name)
                for call in (n for n in ast.walk(functions[name]) if isinstance(n, ast.Call)):
                    if isinstance(call.func, ast.Attribute):
                        names.add(call.func.attr)
                    elif isinstance(call.func, ast.Name) and call.func.id in functions:
                        pending.append(call.func.id)
    return built, names


def granted(template: dict, function: str) -> tuple[set[str], set[str], list[dict]]:
    """(actions, managed policy names, statements) of the function's role in the translated template."""
    role = template["Resources"][f"{function}Role"]["Properties"]
    managed = {str(arn).rsplit("/", 1)[-1] for arn in role.get("ManagedPolicyArns", [])}
    statements = [
        s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    return actions, managed, statements


@pytest.fixture(scope="module")
def index():
    return AdapterIndex()


@pytest.mark.single_region
@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_role_allows_only_what_its_code_calls(local_stack, index, function):
    template = local_stack.cfn_template
    classes, names = called_names(FUNCTIONS[function])
    needed = index.reach(classes & set(index.actions), names)
    mappings = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping" and r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    for mapping in mappings:
        source = str(mapping["EventSourceArn"])
        needed |= MAPPING_ACTIONS["sqs" if "Queue" in source else "dynamodb"]
        if mapping.get("DestinationConfig"):
            needed.add("sqs:SendMessage")
    # the bucket, queues, table and topics share one key: reading decrypts, writing makes data keys
    writes = any(not re.match(r"[a-z]+:(Get|Query|Scan|List|Describe|BatchGet|Receive)", a) for a in needed)
    needed |= {"kms:Decrypt", "kms:GenerateDataKey"} if writes else {"kms:Decrypt"}
    actions, managed, _ = granted(template, function)
    assert managed <= ALLOWED_MANAGED, f"{function}: managed policies reach every resource: {managed - ALLOWED_MANAGED}"
    assert not actions - needed, f"{function}: the policy allows what the code never calls"


@pytest.mark.single_region
@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_no_statement_of_a_function_reaches_every_resource(local_stack, function):
    # ListStreams has no resource-level permissions: IAM takes it on "*" only (the stream mapping needs it)
    without_resources = {"dynamodb:ListStreams"}
    _, _, statements = granted(local_stack.cfn_template, function)
    for statement in statements:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        actions = {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])
        assert "*" not in resources or actions <= without_resources, f"{function}: {actions} on every resource"
