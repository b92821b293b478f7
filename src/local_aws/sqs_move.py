"""SQS's message move task (StartMessageMoveTask, ListMessageMoveTasks), which moto does not implement: a
dead-letter queue's messages back to their source queue, as `stockctl redrive --queue ingest` asks for it.

AWS (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html): the
source must be a dead-letter queue (some queue's redrive policy names it), without a DestinationArn the messages go
back to their source queue, one task at a time per queue; moving is asynchronous and ListMessageMoveTasks reports
it. Locally the move is done when the call answers (COMPLETED), the task kept for ListMessageMoveTasks.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

_TASKS: dict[str, list[dict[str, Any]]] = {}  # source ARN -> its tasks, newest first


def install() -> None:
    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import SQSException
    from moto.sqs.responses import SQSResponse

    def start_message_move_task(self: Any) -> Any:
        source_arn = self._get_param("SourceArn")
        backend = self.sqs_backend
        source = _queue_of(backend, source_arn)
        sources = [
            q for q in backend.queues.values() if (q.redrive_policy or {}).get("deadLetterTargetArn") == source_arn
        ]
        if source is None:
            raise SQSException(
                "ResourceNotFoundException", "The resource that you specified for SourceArn doesn't exist."
            )
        destination_arn = self._get_param("DestinationArn")
        if not sources:
            raise SQSException("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
        if destination_arn is None:
            if len(sources) != 1:
                raise SQSException("InvalidParameterValue", "More than one source queue: give a DestinationArn.")
            destination_arn = sources[0].queue_arn
        destination = _queue_of(backend, destination_arn)
        if destination is None:
            raise SQSException("ResourceNotFoundException", "The DestinationArn queue does not exist.")
        moved = 0
        with source._messages_lock:
            waiting = [m for m in source._messages if m.visible and not m.delayed]
            for message in waiting:
                source._messages.remove(message)
        for message in waiting:
            backend.send_message(destination.name, message.body, message_attributes=message.message_attributes)
            moved += 1
        handle = uuid.uuid4().hex
        _TASKS.setdefault(source_arn, []).insert(
            0,
            {
                "TaskHandle": handle,
                "Status": "COMPLETED",
                "SourceArn": source_arn,
                "DestinationArn": destination_arn,
                "ApproximateNumberOfMessagesMoved": moved,
                "ApproximateNumberOfMessagesToMove": moved,
                "StartedTimestamp": int(time.time() * 1000),
            },
        )
        return ActionResult({"TaskHandle": handle})

    def list_message_move_tasks(self: Any) -> Any:
        source_arn = self._get_param("SourceArn")
        limit = int(self._get_param("MaxResults") or 1)
        return ActionResult({"Results": _TASKS.get(source_arn, [])[:limit]})

    SQSResponse.start_message_move_task = start_message_move_task  # type: ignore[attr-defined]
    SQSResponse.list_message_move_tasks = list_message_move_tasks  # type: ignore[attr-defined]


def _queue_of(backend: Any, arn: str | None) -> Any:
    if not arn:
        return None
    return next((q for q in backend.queues.values() if q.queue_arn == arn), None)
