"""boto3 session and clients as every adapter wants them: pooled for concurrency, retrying throttles."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def client_config(max_pool_connections: int = 10, *, validate: bool = True) -> Config:
    """`validate=False` skips botocore's client-side walk over every parameter (DynamoDB validates each request
    itself): for the bulk snapshot writer that walk was over half of the handler's time (`make bench`)."""
    return Config(
        max_pool_connections=max(10, max_pool_connections),
        retries={"mode": "standard", "max_attempts": 10},
        parameter_validation=validate,
    )


# S3 called the way every Region and every bucket accepts: Signature Version 4 (botocore still signs presigned POSTs
# and GET URLs with SigV2 in us-east-1, us-west-2, eu-west-1 and ap-southeast-2 unless told; S3 refuses SigV2 for
# buckets created since June 2020 and for SSE-KMS objects:
# https://docs.aws.amazon.com/AmazonS3/latest/API/UsingAWSSDK.html#UsingAWSSDK-sig2-deprecation), at the Region's
# own virtual-hosted endpoint (the global one answers a new bucket outside us-east-1 with a 307 redirect for a
# while, which a browser's cross-origin POST does not follow:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html). An endpoint override (the local
# stack's 127.0.0.1) is addressed by path, as botocore does for IP addresses.
S3_STYLE = {"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"}


def s3_client(session: Any, max_pool_connections: int = 10) -> Any:
    config = client_config(max_pool_connections).merge(Config(signature_version="s3v4", s3=S3_STYLE))
    return session.client("s3", config=config)


def new_session() -> Any:
    return boto3.session.Session()


def clients(session: Any, concurrency: int) -> dict[str, Any]:
    config = client_config(concurrency + 4)
    made = {"s3": s3_client(session, concurrency + 4), "dynamodb": session.client("dynamodb", config=config)}
    made["dynamodb-bulk"] = session.client("dynamodb", config=client_config(concurrency + 4, validate=False))
    return made
