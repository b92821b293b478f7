"""The local stack's parts without behaviour of their own: the session aimed at the endpoint, stand-ins for
resources moto does not hold, the inbox reader, the inventory of what was created and how, and the helpers that
prepare the translated template for moto."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "eu-central-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
ARTIFACT_BUCKET = "local-sam-artifacts"

# Local parameter values: fast Firehose flushes instead of five minutes, a millisecond for the validation's long
# check of a transaction instead of ten seconds; everything else is the template's default.
LOCAL_PARAMETERS = {"FirehoseBufferSeconds": "2", "ValidationCheckSeconds": "0.001"}

# Local function environment on top of the template's: the moto server answers in microseconds and shares this
# process's GIL, so the 32 concurrent table writers that hide network latency in AWS only contend here (a
# 9,000-key object: 9.0 s with 32, 4.5 s with 4).
LOCAL_FUNCTION_ENVIRONMENT = {"WRITE_CONCURRENCY": "4"}

# Why a type that neither moto's CloudFormation nor a filler below creates is left out (listed in the inventory).
NOT_EMULATED = {
    "AWS::IAM::Policy": "no stand-alone policies in this template; roles' inline policies are enforced (local_aws.iam)",
}


class EndpointSession:
    """A boto3 session whose clients talk to the local endpoint (what the SAM translator asks for)."""

    def __init__(self, session: Any, endpoint: str | None) -> None:
        self._session, self._endpoint = session, endpoint
        self.region_name = session.region_name

    def client(self, service_name: str, **kwargs: Any) -> Any:
        if kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self._endpoint
        return self._session.client(service_name, **kwargs)

    def get_available_regions(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.get_available_regions(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@dataclass
class StandIn:
    """A resource created outside moto's CloudFormation, registered so Ref/GetAtt to it resolve."""

    physical_resource_id: str
    attributes: dict[str, Any] = field(default_factory=dict)

    def get_cfn_attribute(self, name: str) -> Any:
        return self.attributes[name]


@dataclass
class InboxReader:
    """Reads what SNS delivered to an inbox queue: subject, message and message attributes per notification."""

    sqs: Any
    queue_url: str

    def read(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                body = json.loads(message["Body"])
                messages.append(
                    {
                        "subject": body.get("Subject"),
                        "message": body.get("Message"),
                        "attributes": {k: v.get("Value") for k, v in body.get("MessageAttributes", {}).items()},
                    }
                )
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class Inventory:
    logical_id: str
    type: str
    how: str  # "cloudformation" (moto), "local" (filled in from the template here), "not emulated"
    physical_id: str | None = None
    note: str = ""


_NOT_FOR_MOTO = {"AWS::CloudWatch::Dashboard", "AWS::SSM::Parameter"}


def for_moto(template: dict[str, Any]) -> dict[str, Any]:
    """The template without the _NOT_FOR_MOTO resources and the outputs that name them."""
    left_out = {lid for lid, r in template["Resources"].items() if r["Type"] in _NOT_FOR_MOTO}
    outputs = {
        name: output
        for name, output in template.get("Outputs", {}).items()
        if not any(lid in json.dumps(output) for lid in left_out)
    }
    resources = {lid: r for lid, r in template["Resources"].items() if lid not in left_out}
    return {**template, "Resources": resources, "Outputs": outputs}


FILL_ORDER = {
    "AWS::Logs::LogStream": 0,
    "AWS::Glue::Database": 1,
    "AWS::Glue::Table": 2,
    "AWS::Athena::WorkGroup": 3,
    "AWS::Athena::NamedQuery": 4,
    "AWS::S3::BucketPolicy": 4,
    "AWS::SQS::QueuePolicy": 5,
    "AWS::SNS::TopicPolicy": 5,
    "AWS::KinesisFirehose::DeliveryStream": 6,
    "AWS::SNS::Subscription": 7,
    "AWS::CloudWatch::Alarm": 8,
    "AWS::ApiGatewayV2::Api": 8,
    "AWS::ApiGatewayV2::Stage": 9,
    "AWS::ApplicationAutoScaling::ScalableTarget": 9,
    "AWS::ApplicationAutoScaling::ScalingPolicy": 10,
    "AWS::Scheduler::Schedule": 11,
    "AWS::CloudWatch::Dashboard": 12,
    "AWS::SSM::Parameter": 12,
    "AWS::Cognito::UserPool": 1,
    "AWS::Cognito::UserPoolClient": 2,
    "AWS::Cognito::UserPoolUser": 3,
}


# The local endpoint is plain HTTP on 127.0.0.1, standing in for AWS's HTTPS endpoints: requests carry
# aws:SecureTransport=true, so the template's deny-unless-TLS statements stay and do not deny.
POLICY_NOTE = "applied as written; evaluated by the local IAM enforcement (aws:SecureTransport is true)"


def condition_holds(resource: dict[str, Any], resource_map: Any) -> bool:
    condition = resource.get("Condition")
    return condition is None or bool(resource_map.lazy_condition_map[condition])


@contextlib.contextmanager
def quiet(name: str) -> Any:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def seed_public_ssm_parameter(region: str, name: str, value: str) -> None:
    """AWS publishes /aws/service/... parameters; moto refuses to create them through the API."""
    from moto.ssm.models import Parameter, ssm_backends

    backend = ssm_backends[ACCOUNT_ID][region]
    backend._parameters[name].append(
        Parameter(ACCOUNT_ID, name, value, "String", None, None, None, datetime.datetime.now(datetime.UTC), 1, "text")
    )


def empty_zip() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/.keep", "")
    return buffer.getvalue()


def after_fill_in(
    client: Any, note: Any, active: dict[str, Any], created: dict[str, str], filled: set[str], resource_map: Any
) -> None:
    """What CloudFormation does that moto's does not, once the resources filled in locally exist: a role's policy
    naming one of them resolved again (moto wrote it before they existed), and a table's point-in-time recovery
    (which moto's CloudFormation skips; an export to S3 needs it)."""
    from moto.cloudformation.parsing import clean_json

    for lid, resource in active.items():
        if resource["Type"] != "AWS::IAM::Role" or lid not in created:
            continue
        policies = resource.get("Properties", {}).get("Policies") or []
        text = json.dumps(policies)
        if not any(f'"{name}"' in text or "${" + name in text for name in filled):
            continue
        for policy in clean_json(policies, resource_map):
            name, document = policy["PolicyName"], json.dumps(policy["PolicyDocument"])
            client("iam").put_role_policy(RoleName=created[lid], PolicyName=name, PolicyDocument=document)
    for lid, resource in active.items():
        recovery = resource.get("Properties", {}).get("PointInTimeRecoverySpecification") or {}
        recovery = clean_json(recovery, resource_map)
        if resource["Type"] == "AWS::DynamoDB::Table" and recovery.get("PointInTimeRecoveryEnabled") in (True, "true"):
            client("dynamodb").update_continuous_backups(
                TableName=created[lid], PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
            note(lid, "cloudformation", "PointInTimeRecoverySpecification applied locally (moto's skips it)")
