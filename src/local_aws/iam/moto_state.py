"""What the enforcement reads of moto's backends (in this process): resource and key policies, where a bucket is,
whether an object exists, and which KMS key encrypts a bucket, object, queue, topic or table."""

from __future__ import annotations

import json
from typing import Any

from local_aws.iam import operations


def resource_policy_document(account: str, arn: str, region: str) -> Any:
    """The bucket, queue, topic or function policy of the resource an ARN names (None when it has none)."""
    if arn.startswith("arn:aws:s3:::"):
        from moto.s3.models import s3_backends

        bucket = s3_backends[account]["aws"].buckets.get(arn[len("arn:aws:s3:::") :].split("/", 1)[0])
        return bucket.policy.decode() if bucket is not None and bucket.policy else None
    if arn.startswith("arn:aws:sqs:"):
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[account][arn.split(":")[3]].queues.get(arn.rsplit(":", 1)[-1])
        return queue.policy if queue is not None and queue.policy else None
    if arn.startswith("arn:aws:sns:"):
        from moto.sns.models import sns_backends

        topic = sns_backends[account][arn.split(":")[3]].topics.get(arn)
        return topic._policy_json if topic is not None else None
    if arn.startswith("arn:aws:lambda:"):  # the function's resource-based policy (its Lambda::Permission statements)
        from moto.awslambda.models import lambda_backends

        try:
            document = json.loads(json.loads(lambda_backends[account][arn.split(":")[3]].get_policy(arn))["Policy"])
        except Exception:  # no such function, or no statement yet
            return None
        document["Statement"] = [  # moto keeps the FunctionName it was given in each statement
            {k: v for k, v in statement.items() if k != "FunctionName"} for statement in document.get("Statement", [])
        ]
        return json.dumps(document) if document["Statement"] else None
    return None


def bucket_region(account: str, bucket: str) -> str | None:
    from moto.s3.models import s3_backends

    found = s3_backends[account]["aws"].buckets.get(bucket)
    return found.region_name if found is not None else None


def object_exists(account: str, bucket: str, key: str, version: str | None) -> bool:
    from moto.s3.models import FakeKey, s3_backends

    found = s3_backends[account]["aws"].buckets.get(bucket)
    if found is None:
        return True  # NoSuchBucket is moto's to answer
    if version is None:
        return isinstance(found.keys.get(key), FakeKey)
    return any(str(v.version_id) == str(version) and isinstance(v, FakeKey) for v in found.keys.getlist(key, []))


class Moto:
    """operations.Resources read from moto's backends."""

    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region

    def key_arn(self, key_id: str) -> str | None:
        if key_id.startswith("arn:aws:kms:") and ":key/" in key_id:
            return key_id
        if key_id.startswith("alias/aws/") or ":alias/aws/" in key_id:
            return f"arn:aws:kms:{self.region}:{self.account}:{key_id.split(':')[-1]}"
        from moto.kms.models import kms_backends

        region = key_id.split(":")[3] if key_id.startswith("arn:") else self.region
        backend = kms_backends[self.account][region]
        name = key_id.split(":")[-1] if key_id.startswith("arn:") else key_id
        if name.startswith("alias/"):
            name = backend.get_key_id_from_alias(name) or name
        key = backend.keys.get(name)
        return key.arn if key is not None else None

    def bucket_key(self, bucket: str) -> str | None:
        from moto.s3.models import s3_backends

        found = s3_backends[self.account]["aws"].buckets.get(bucket)
        rule = ((found.encryption or {}).get("Rule") or {}) if found is not None else {}
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
            return default.get("KMSMasterKeyID") or "alias/aws/s3"
        return None

    def object_key(self, bucket: str, key: str, version: str | None) -> str | None:
        from moto.s3.models import FakeKey, s3_backends

        found = s3_backends[self.account]["aws"].buckets.get(bucket)
        if found is None:
            return None
        candidates = found.keys.getlist(key, []) if version else [found.keys.get(key)]
        for item in candidates:
            if isinstance(item, FakeKey) and (version is None or str(item.version_id) == str(version)):
                return self.key_arn(item.kms_key_id) if item.kms_key_id else None
        return None

    def queue_key(self, queue_arn: str) -> str | None:
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[self.account][queue_arn.split(":")[3]].queues.get(queue_arn.rsplit(":", 1)[-1])
        return self.key_arn(queue.kms_master_key_id) if queue is not None and queue.kms_master_key_id else None

    def topic_key(self, topic_arn: str) -> str | None:
        from moto.sns.models import sns_backends

        topic = sns_backends[self.account][topic_arn.split(":")[3]].topics.get(topic_arn)
        return self.key_arn(topic.kms_master_key_id) if topic is not None and topic.kms_master_key_id else None

    def table_key(self, table_arn: str) -> str | None:
        from moto.dynamodb.models import dynamodb_backends

        table = dynamodb_backends[self.account][table_arn.split(":")[3]].tables.get(table_arn.rsplit("/", 1)[-1])
        sse = (table.sse_specification or {}) if table is not None else {}
        if not sse.get("SSEEnabled") or sse.get("SSEType") != "KMS":
            return None
        return self.key_arn(sse.get("KMSMasterKeyId") or "alias/aws/dynamodb")

    def table_partition_key(self, table_arn: str) -> str | None:
        from moto.dynamodb.models import dynamodb_backends

        table = dynamodb_backends[self.account][table_arn.split(":")[3]].tables.get(table_arn.rsplit("/", 1)[-1])
        return table.hash_key_attr if table is not None else None


def resources(account: str, region: str) -> operations.Resources:
    return Moto(account, region)
