"""The vocabulary of the local IAM enforcement: an HTTP request, the operation it asks for, one authorization it
needs (action, resource, request context), what the enforcer knows of the account's resources, and the KMS
authorizations that using encrypted data implies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    host: str
    path: str  # as sent (percent-encoded)
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass(frozen=True, slots=True)
class Operation:
    service: str  # the credential scope's service ("s3", "dynamodb", "states", ...)
    name: str  # "GetObject"
    params: Mapping[str, Any] = field(default_factory=dict)
    bucket: str | None = None  # S3: the bucket and key the request addresses
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Need:
    """One authorization: `action` on `resource`, with these condition keys in the request context."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None  # the service's error code when this one is refused (KMS: KmsAccessDenied, ...)


class Resources(Protocol):
    """What the mapping must know about the account's resources (the enforcer reads moto's backends)."""

    def bucket_key(self, bucket: str) -> str | None: ...  # default SSE-KMS key ARN of the bucket

    def object_key(self, bucket: str, key: str, version: str | None) -> str | None: ...  # key ARN of one object

    def queue_key(self, queue_arn: str) -> str | None: ...

    def topic_key(self, topic_arn: str) -> str | None: ...

    def table_key(self, table_arn: str) -> str | None: ...

    def table_partition_key(self, table_arn: str) -> str | None: ...  # the table's partition key attribute name

    def key_arn(self, key_id: str) -> str | None: ...  # an id, ARN or alias -> the key ARN


def kms_actions(key_arn: str | None, actions: list[str], service: str, region: str) -> list[Need]:
    """Using a service with a customer managed key: the caller's request to the service is also a request to KMS,
    made through the service (kms:ViaService). An AWS managed key (alias/aws/...) allows every principal of the
    account through its service, so it needs nothing here."""
    if not key_arn or ":alias/aws/" in key_arn:
        return []
    via = {"kms:ViaService": f"{service}.{region}.amazonaws.com"}
    return [Need(action, key_arn, via, error="KMS") for action in actions]


def kms_needs(service: str, key_arn: str | None, *, producer: bool, region: str) -> list[Need]:
    """What reading or writing encrypted data of a queue, topic or table needs of its key:
    SQS producers kms:GenerateDataKey and kms:Decrypt, consumers kms:Decrypt
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html);
    SNS publishers the same (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html);
    DynamoDB callers kms:Decrypt of the table key, refreshed per caller
    (https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html)."""
    actions = ["kms:GenerateDataKey", "kms:Decrypt"] if producer else ["kms:Decrypt"]
    return kms_actions(key_arn, actions, service, region)
