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


def new_session() -> Any:
    return boto3.session.Session()


def clients(session: Any, concurrency: int) -> dict[str, Any]:
    config = client_config(concurrency + 4)
    made = {name: session.client(name, config=config) for name in ("s3", "dynamodb")}
    made["dynamodb-bulk"] = session.client("dynamodb", config=client_config(concurrency + 4, validate=False))
    return made
