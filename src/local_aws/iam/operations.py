"""Which IAM actions an AWS API call needs, on which resources, with which request context (pure).

An HTTP request as an SDK sends it is parsed into an operation (service, name, parameters), and the operation into
the authorizations IAM evaluates: one action on one resource ARN each. Most calls are one action named after the
operation on the resource it names; the exceptions are the point of this module, each with the page that says so:

- S3 HeadObject is s3:GetObject, a versioned read s3:GetObjectVersion, ListObjects(V2) s3:ListBucket with the
  s3:prefix key, DeleteObjects s3:DeleteObject per key, a copy s3:GetObject on the source too:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
- DynamoDB TransactWriteItems and TransactGetItems are the actions of their items (there is no action of that
  name); PartiQL statements are dynamodb:PartiQLSelect/Insert/Update/Delete each; a Query or Scan of an index is
  authorised on the index ARN:
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/using-identity-based-policies.html
- SQS batch calls are their single actions: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
- SNS PublishBatch is sns:Publish: https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html
- Data in an encrypted bucket, queue, topic or table needs the KMS key too (see `kms_needs`).
- DynamoDB's item calls carry `dynamodb:LeadingKeys`, the partition key values they touch (a batch: all of them
  per table): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html and the
  actions that take the key in https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html

An operation this module does not know is authorised as `<service>:<Operation>` on "*", so a role scoped to its
resources is refused with a message that names this module: the local stack never allows what it cannot check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local_aws.iam.model import HttpRequest, Need, Operation, Resources, kms_needs
from local_aws.iam.s3_operations import s3_needs, s3_operation

# The service name in a SigV4 credential scope -> the IAM service prefix.
IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "execute-api": "execute-api"}

# Operations AWS serves without credentials (botocore sends them unsigned): Cognito's user sign-in flow.
# https://docs.aws.amazon.com/cognito/latest/developerguide/user-pools-API-operations.html (unauthenticated APIs)
UNAUTHENTICATED = {
    ("cognito-idp", name)
    for name in (
        "InitiateAuth",
        "RespondToAuthChallenge",
        "AssociateSoftwareToken",
        "VerifySoftwareToken",
        "SetUserMFAPreference",
        "GetUser",
        "ChangePassword",
        "ForgotPassword",
        "ConfirmForgotPassword",
        "GlobalSignOut",
        "RevokeToken",
        "SignUp",
        "ConfirmSignUp",
    )
}
# Always allowed, even with an explicit deny: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
ALWAYS_ALLOWED = {("sts", "GetCallerIdentity")}


# ---------------------------------------------------------------------------------------------- parsing


def parse(service: str, request: HttpRequest) -> Operation:
    """The operation an SDK request asks for: JSON protocols by X-Amz-Target, query protocols by Action, S3 by
    method, path and sub-resource."""
    target = request.headers.get("x-amz-target")
    if target:
        body = json.loads(request.body or b"{}")
        return Operation(service, target.rsplit(".", 1)[-1], body)
    if service == "s3":
        return s3_operation(request)
    form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)) if request.body else {}
    form.update(request.params())
    if "Action" in form:
        return Operation(service, form["Action"], form)
    return Operation(service, f"{request.method} {request.path}", {})


# ---------------------------------------------------------------------------------------------- authorizations


def needs(operation: Operation, request: HttpRequest, *, region: str, account: str, resources: Resources) -> list[Need]:
    """Every authorization the call needs (its own action(s), then the KMS use its data implies)."""
    mapper = _MAPPERS.get(operation.service)
    found = mapper(operation, request, region, account, resources) if mapper else None
    if found is None:
        prefix = IAM_PREFIX.get(operation.service, operation.service)
        return [Need(f"{prefix}:{operation.name}", "*", {"local:unmapped": "true"})]
    return found


def _dynamodb(
    op: Operation, request: HttpRequest, region: str, account: str, resources: Resources
) -> list[Need] | None:
    p = op.params

    def table(name: str, index: str | None = None) -> str:
        if name.startswith("arn:"):
            return name + (f"/index/{index}" if index else "")
        return f"arn:aws:dynamodb:{region}:{account}:table/{name}" + (f"/index/{index}" if index else "")

    def item(action: str, table_name: str, keys: list[Mapping[str, Any]]) -> Need:
        arn = table(table_name)
        return Need(action, arn, leading_keys(resources.table_partition_key(arn), keys))

    name = op.name
    found: list[Need]
    if name in ("ListTables", "DescribeLimits", "DescribeEndpoints", "ListStreams", "ListBackups"):
        return [Need(f"dynamodb:{name}", "*")]
    if name == "Query" and not p.get("IndexName"):
        arn = table(p["TableName"])
        found = [Need("dynamodb:Query", arn, leading_keys(resources.table_partition_key(arn), [], query=p))]
    elif name in ("Query", "Scan"):
        found = [Need(f"dynamodb:{name}", table(p["TableName"], p.get("IndexName")))]
    elif name == "BatchGetItem":
        found = [item("dynamodb:BatchGetItem", t, r.get("Keys", [])) for t, r in p.get("RequestItems", {}).items()]
    elif name == "BatchWriteItem":
        found = [
            item("dynamodb:BatchWriteItem", t, [next(iter(w.values())) for w in writes])
            for t, writes in p.get("RequestItems", {}).items()
        ]
    elif name == "TransactWriteItems":
        kinds = {
            "ConditionCheck": "ConditionCheckItem",
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
        }
        found = [
            item(f"dynamodb:{kinds[kind]}", body["TableName"], [body])
            for action in p.get("TransactItems", [])
            for kind, body in action.items()
        ]
    elif name == "TransactGetItems":
        found = [item("dynamodb:GetItem", i["Get"]["TableName"], [i["Get"]]) for i in p.get("TransactItems", [])]
    elif name in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        found = [item(f"dynamodb:{name}", p["TableName"], [p])]
    elif name in ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"):
        statements = [p] if name == "ExecuteStatement" else p.get("Statements") or p.get("TransactStatements") or []
        found = []
        for statement in statements:
            kind, table_name, index = partiql_target(statement["Statement"])
            found.append(Need(f"dynamodb:PartiQL{kind.title()}", table(table_name, index)))
    elif name in ("DescribeStream", "GetShardIterator"):
        return [Need(f"dynamodb:{name}", p["StreamArn"])]
    elif name == "GetRecords":
        return [Need("dynamodb:GetRecords", stream_of_iterator(p.get("ShardIterator", "")))]
    elif name == "ExportTableToPointInTime":
        # the table; the export's objects are written with the caller's S3 permission (local_aws.dynamodb_export)
        return [Need("dynamodb:ExportTableToPointInTime", table(p["TableArn"]))]
    elif name == "DescribeExport":
        return [Need("dynamodb:DescribeExport", p["ExportArn"])]
    elif "TableName" in p:
        found = [Need(f"dynamodb:{name}", table(p["TableName"]))]
    else:
        return None
    if name in ("DescribeTable", "DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource"):
        return found
    tables = dict.fromkeys(n.resource.split("/index/")[0] for n in found)
    return found + [
        k for t in tables for k in kms_needs("dynamodb", resources.table_key(t), producer=False, region=region)
    ]


def leading_keys(
    partition_key: str | None, requests: list[Mapping[str, Any]], *, query: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The `dynamodb:LeadingKeys` context of a call: the partition key values of the items it names (a request's
    `Key`, or `Item` for a put; a key given as the request itself), or of a Query's key condition. Values are the
    attribute values as text (S and N as written, B in base64). Nothing when the key is unknown."""
    if not partition_key:
        return {}
    values: list[str] = []
    for request in requests:
        key = request.get("Key") or request.get("Item") or request
        if partition_key in key:
            values.append(_attribute_text(key[partition_key]))
    if query is not None:
        values += _queried_partition(partition_key, query)
    return {"dynamodb:LeadingKeys": list(dict.fromkeys(values))} if values else {}


def _attribute_text(value: Mapping[str, Any]) -> str:
    return str(next(iter(value.values())))


_EQUALITY = re.compile(r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)")


def _queried_partition(partition_key: str, query: Mapping[str, Any]) -> list[str]:
    """The partition key value a Query's `KeyConditionExpression` (or legacy `KeyConditions`) fixes."""
    legacy = (query.get("KeyConditions") or {}).get(partition_key)
    if legacy:
        return [_attribute_text(v) for v in legacy.get("AttributeValueList", [])]
    names = query.get("ExpressionAttributeNames") or {}
    values = query.get("ExpressionAttributeValues") or {}
    return [
        _attribute_text(values[placeholder])
        for name, placeholder in _EQUALITY.findall(query.get("KeyConditionExpression") or "")
        if names.get(name, name) == partition_key and placeholder in values
    ]


_NAME = r'("[^"]+"|[A-Za-z0-9_.-]+)'
_PARTIQL = {
    "SELECT": re.compile(rf"\bFROM\s+{_NAME}(?:\s*\.\s*{_NAME})?", re.IGNORECASE),
    "EXISTS": re.compile(rf"\bFROM\s+{_NAME}(?:\s*\.\s*{_NAME})?", re.IGNORECASE),
    "INSERT": re.compile(rf"^\s*INSERT\s+INTO\s+{_NAME}", re.IGNORECASE),
    "UPDATE": re.compile(rf"^\s*UPDATE\s+{_NAME}", re.IGNORECASE),
    "DELETE": re.compile(rf"^\s*DELETE\s+FROM\s+{_NAME}", re.IGNORECASE),
}


def partiql_target(statement: str) -> tuple[str, str, str | None]:
    """(SELECT|INSERT|UPDATE|DELETE, table, index or None) of a PartiQL statement."""
    kind = statement.strip().split(None, 1)[0].upper() if statement.strip() else ""
    match = _PARTIQL[kind].search(statement) if kind in _PARTIQL else None
    if match is None:
        raise ValueError(f"not a PartiQL statement the local stack can authorise: {statement[:80]!r}")
    groups = [g.strip('"') if g else None for g in match.groups()] + [None]
    return ("SELECT" if kind == "EXISTS" else kind), str(groups[0]), groups[1]


def stream_of_iterator(iterator: str) -> str:
    """moto's shard iterators carry the stream ARN (AWS's are opaque; they are only ever used with that stream)."""
    match = re.search(r"(arn:aws[^|\s]*:dynamodb:[^/]+/[^/]+/stream/[^/|\s]+)", iterator)
    return match.group(1) if match else "*"


def queue_arn_of_url(url: str, region: str) -> str:
    parts = urlsplit(url).path.strip("/").split("/")
    return f"arn:aws:sqs:{region}:{parts[-2]}:{parts[-1]}"


_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs(op: Operation, request: HttpRequest, region: str, account: str, resources: Resources) -> list[Need] | None:
    p = op.params
    if op.name in ("ListQueues",):
        return [Need("sqs:ListQueues", "*")]
    if op.name == "GetQueueUrl":
        owner = p.get("QueueOwnerAWSAccountId") or account
        return [Need("sqs:GetQueueUrl", f"arn:aws:sqs:{region}:{owner}:{p['QueueName']}")]
    if op.name == "CreateQueue":
        return [Need("sqs:CreateQueue", f"arn:aws:sqs:{region}:{account}:{p['QueueName']}")]
    if op.name in ("StartMessageMoveTask", "ListMessageMoveTasks", "CancelMessageMoveTask"):
        source = p.get("SourceArn") or p.get("TaskHandle", "*")
        return [Need(f"sqs:{op.name}", source)]
    if "QueueUrl" not in p:
        return None
    arn = queue_arn_of_url(p["QueueUrl"], region)
    action = _SQS_ACTIONS.get(op.name, op.name)
    found = [Need(f"sqs:{action}", arn)]
    if action == "SendMessage":
        found += kms_needs("sqs", resources.queue_key(arn), producer=True, region=region)
    elif action == "ReceiveMessage":
        found += kms_needs("sqs", resources.queue_key(arn), producer=False, region=region)
    return found


def _sns(op: Operation, request: HttpRequest, region: str, account: str, resources: Resources) -> list[Need] | None:
    p = op.params
    if op.name in ("ListTopics", "ListSubscriptions", "CreatePlatformApplication"):
        return [Need(f"sns:{op.name}", "*")]
    if op.name == "CreateTopic":
        return [Need("sns:CreateTopic", f"arn:aws:sns:{region}:{account}:{p['Name']}")]
    topic = p.get("TopicArn") or p.get("TargetArn")
    if not topic and p.get("SubscriptionArn"):
        topic = p["SubscriptionArn"].rsplit(":", 1)[0]
    if not topic:
        return None
    action = "Publish" if op.name == "PublishBatch" else op.name
    found = [Need(f"sns:{action}", topic)]
    if action == "Publish":
        found += kms_needs("sns", resources.topic_key(topic), producer=True, region=region)
    return found


def _states(op: Operation, request: HttpRequest, region: str, account: str, resources: Resources) -> list[Need] | None:
    p = op.params
    arn = p.get("stateMachineArn") or p.get("executionArn") or p.get("activityArn") or p.get("resourceArn")
    if op.name in ("ListStateMachines", "ListActivities", "CreateStateMachine"):
        return [Need(f"states:{op.name}", "*")]
    return [Need(f"states:{op.name}", arn)] if arn else None


def _kms_direct(
    op: Operation, request: HttpRequest, region: str, account: str, resources: Resources
) -> list[Need] | None:
    if op.name in ("ListKeys", "ListAliases", "CreateKey", "GenerateRandom"):
        return [Need(f"kms:{op.name}", "*")]
    key = op.params.get("KeyId") or op.params.get("TargetKeyId")
    if not key:
        return None
    return [Need(f"kms:{op.name}", resources.key_arn(str(key)) or str(key), error="KMS")]


def _firehose(
    op: Operation, request: HttpRequest, region: str, account: str, resources: Resources
) -> list[Need] | None:
    stream = op.params.get("DeliveryStreamName")
    if not stream:
        return [Need(f"firehose:{op.name}", "*")] if op.name == "ListDeliveryStreams" else None
    return [Need(f"firehose:{op.name}", f"arn:aws:firehose:{region}:{account}:deliverystream/{stream}")]


def _logs(op: Operation, request: HttpRequest, region: str, account: str, resources: Resources) -> list[Need] | None:
    group, stream = op.params.get("logGroupName"), op.params.get("logStreamName")
    if not group:
        return None
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    return [Need(f"logs:{op.name}", f"{arn}:log-stream:{stream}" if stream else f"{arn}:*")]


def _cognito(op: Operation, request: HttpRequest, region: str, account: str, resources: Resources) -> list[Need] | None:
    pool = op.params.get("UserPoolId")
    if not pool:
        return None
    return [Need(f"cognito-idp:{op.name}", f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool}")]


def _ssm(op: Operation, request: HttpRequest, region: str, account: str, resources: Resources) -> list[Need] | None:
    def arn(name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"

    p = op.params
    if op.name in ("GetParameter", "PutParameter", "DeleteParameter", "GetParameterHistory"):
        return [Need(f"ssm:{op.name}", arn(p["Name"]))]
    if op.name in ("GetParameters", "DeleteParameters"):
        return [Need(f"ssm:{op.name}", arn(name)) for name in p.get("Names", [])]
    if op.name == "GetParametersByPath":
        return [Need("ssm:GetParametersByPath", arn(p["Path"]))]
    return None


def _athena(op: Operation, request: HttpRequest, region: str, account: str, resources: Resources) -> list[Need] | None:
    """A query's actions on its workgroup (https://docs.aws.amazon.com/athena/latest/ug/workgroups-iam-policy.html);
    the tables and objects it reads are checked as the query runs (local_aws.athena)."""
    p = op.params
    if op.name == "StartQueryExecution":
        workgroup = p.get("WorkGroup") or "primary"
    elif op.name in ("GetQueryExecution", "GetQueryResults", "StopQueryExecution"):
        workgroup = _workgroup_of(account, region, p.get("QueryExecutionId", ""))
    else:
        return None
    return [Need(f"athena:{op.name}", f"arn:aws:athena:{region}:{account}:workgroup/{workgroup}")]


def _workgroup_of(account: str, region: str, execution_id: str) -> str:
    from moto.athena.models import athena_backends

    execution = athena_backends[account][region].executions.get(execution_id)
    return execution.workgroup.name if execution is not None and execution.workgroup is not None else "primary"


def _glue(op: Operation, request: HttpRequest, region: str, account: str, resources: Resources) -> list[Need] | None:
    """Glue's catalog, database and table resources, each of which an action on a table needs
    (https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html)."""
    p = op.params
    database, table = p.get("DatabaseName"), p.get("TableName") or p.get("Name")
    if not database or op.name not in (
        "GetTable",
        "GetPartition",
        "GetPartitions",
        "CreatePartition",
        "BatchCreatePartition",
        "DeletePartition",
        "BatchDeletePartition",
    ):
        return None
    arns = [
        f"arn:aws:glue:{region}:{account}:catalog",
        f"arn:aws:glue:{region}:{account}:database/{database}",
        f"arn:aws:glue:{region}:{account}:table/{database}/{table}",
    ]
    return [Need(f"glue:{op.name}", arn) for arn in arns]


_MAPPERS: dict[str, Callable[[Operation, HttpRequest, str, str, Resources], list[Need] | None]] = {
    "s3": s3_needs,
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "sns": _sns,
    "states": _states,
    "kms": _kms_direct,
    "firehose": _firehose,
    "logs": _logs,
    "cognito-idp": _cognito,
    "ssm": _ssm,
    "athena": _athena,
    "glue": _glue,
}
