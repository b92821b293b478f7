"""What AWS services deliver on their own behalf, checked against the receiving resource's policy and its KMS key's
policy with the request context each service documents; refused deliveries are dropped (and recorded), as in AWS.

- S3 event notifications to SQS: the queue policy must allow s3.amazonaws.com sqs:SendMessage; S3 sends
  aws:SourceArn (the bucket's ARN) and aws:SourceAccount (the bucket owner); an SSE-KMS queue's key policy must
  allow s3.amazonaws.com kms:GenerateDataKey and kms:Decrypt. S3 checks the queue policy when the configuration is
  put ("Unable to validate the following destination configurations").
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/ways-to-add-notification-config-to-bucket.html
- SNS to an SQS subscription: the queue policy must allow sns.amazonaws.com sqs:SendMessage with aws:SourceArn the
  topic; an encrypted queue's key must allow sns.amazonaws.com kms:GenerateDataKey and kms:Decrypt.
  https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html
  https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
- CloudWatch alarm actions to SNS: the topic policy must allow cloudwatch.amazonaws.com sns:Publish (CloudWatch
  sends aws:SourceArn, the alarm's ARN, and aws:SourceAccount); an encrypted topic's key must allow
  cloudwatch.amazonaws.com kms:GenerateDataKey* and kms:Decrypt. moto stores alarm actions but never runs them;
  here a change of state publishes CloudWatch's notification, so an alarm can be followed to an inbox.
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html (encrypted topics)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from local_aws.iam.operations import Need, kms_needs
from stock_pipeline.domain.subjects import subject_line


class Enforcement(Protocol):
    """What a delivery needs of the enforcer (local_aws.iam.enforcer installs the deliveries, so this module
    names only the part it uses and does not import it back)."""

    account: str

    def delivery(self, service: str, needs: Sequence[Need], region: str, *, source_arn: str, what: str) -> bool: ...


log = logging.getLogger("local_aws.iam")

# CloudWatch's alarm e-mail names the Region in words (its subject: ALARM: "name" in EU (Frankfurt)).
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-central-1": "EU (Frankfurt)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
}


def _queue_needs(enforcement: Enforcement, queue_arn: str) -> list[Need]:
    from local_aws.iam.moto_state import resources

    region = queue_arn.split(":")[3]
    key = resources(enforcement.account, region).queue_key(queue_arn)
    return [Need("sqs:SendMessage", queue_arn), *kms_needs("sqs", key, producer=True, region=region)]


def install(enforcement: Enforcement) -> None:
    _s3_to_sqs(enforcement)
    _sns_to_sqs(enforcement)
    _alarm_actions(enforcement)


def _s3_to_sqs(enforcement: Enforcement) -> None:
    from moto.s3 import notifications
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import FakeBucket

    send = notifications._send_sqs_message

    def send_checked(account_id: str, event_body: Any, queue_name: str, region_name: str) -> None:
        bucket = event_body.get("Bucket") or event_body["Records"][0]["s3"]["bucket"]["name"]
        queue_arn = f"arn:aws:sqs:{region_name}:{account_id}:{queue_name}"
        allowed = enforcement.delivery(
            "s3.amazonaws.com",
            _queue_needs(enforcement, queue_arn),
            region_name,
            source_arn=f"arn:aws:s3:::{bucket}",
            what=f"S3 event notification of bucket {bucket} to {queue_arn}",
        )
        if allowed:
            send(account_id, event_body, queue_name, region_name)

    notifications._send_sqs_message = send_checked

    original = FakeBucket.set_notification_configuration

    def set_checked(self: Any, notification_config: dict[str, Any] | None) -> None:
        for queue in (notification_config or {}).get("QueueConfiguration", []) or []:
            queue_arn = queue["Queue"] if isinstance(queue, dict) and "Queue" in queue else queue.get("QueueArn")
            needs = [Need("sqs:SendMessage", queue_arn)]  # what S3's test message needs of the queue policy
            if not enforcement.delivery(
                "s3.amazonaws.com",
                needs,
                queue_arn.split(":")[3],
                source_arn=f"arn:aws:s3:::{self.name}",
                what=f"validating {queue_arn}",
            ):
                raise S3ClientError(
                    "InvalidArgument", f"Unable to validate the following destination configurations: {queue_arn}"
                )
        original(self, notification_config)

    FakeBucket.set_notification_configuration = set_checked  # type: ignore[method-assign]


def _sns_to_sqs(enforcement: Enforcement) -> None:
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(self: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
        if self.protocol == "sqs" and not enforcement.delivery(
            "sns.amazonaws.com",
            _queue_needs(enforcement, self.endpoint),
            self.endpoint.split(":")[3],
            source_arn=self.topic.arn,
            what=f"SNS delivery from {self.topic.arn} to {self.endpoint}",
        ):
            return
        original(self, message, message_id, *args, **kwargs)

    Subscription.publish = publish  # type: ignore[method-assign]


def _alarm_actions(enforcement: Enforcement) -> None:
    from moto.cloudwatch.models import Alarm

    original = Alarm.update_state

    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        old = self.state_value
        original(self, reason, reason_data, state_value)
        if old == state_value or not self.actions_enabled:
            return
        actions = {
            "ALARM": self.alarm_actions,
            "OK": self.ok_actions,
            "INSUFFICIENT_DATA": self.insufficient_data_actions,
        }
        for arn in actions.get(state_value) or []:
            if ":sns:" in str(arn):
                notify(enforcement, self, str(arn), old)

    Alarm.update_state = update_state  # type: ignore[method-assign]


def notify(enforcement: Enforcement, alarm: Any, topic_arn: str, old_state: str) -> bool:
    """Publish CloudWatch's alarm notification to a topic, as cloudwatch.amazonaws.com."""
    from moto.sns.models import sns_backends

    from local_aws.iam.moto_state import resources

    region = topic_arn.split(":")[3]
    key = resources(enforcement.account, region).topic_key(topic_arn)
    needs = [Need("sns:Publish", topic_arn), *kms_needs("sns", key, producer=True, region=region)]
    if not enforcement.delivery(
        "cloudwatch.amazonaws.com", needs, region, source_arn=alarm.alarm_arn, what=f"alarm {alarm.name} to {topic_arn}"
    ):
        return False
    place = REGION_NAMES.get(alarm.region_name, alarm.region_name)
    message = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": enforcement.account,
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": alarm.state_updated_timestamp.isoformat(),
        "Region": place,
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "Trigger": {"MetricName": alarm.metric_name, "Namespace": alarm.namespace, "Threshold": alarm.threshold},
    }
    subject = subject_line(f'{alarm.state_value}: "{alarm.name}" in {place}')  # SNS's rules for subjects
    sns_backends[enforcement.account][region].publish(
        message=json.dumps(message), arn=topic_arn, subject=subject, message_attributes={}
    )
    log.info("alarm %s -> %s", alarm.name, topic_arn)
    return True
