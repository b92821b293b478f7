"""Step Functions: start the re-evaluation run, once per thresholds file."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError


class Workflow:
    def __init__(self, sfn_client: Any, state_machine_arn: str) -> None:
        self._sfn = sfn_client
        self.arn = state_machine_arn

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        """False when an execution of that name exists already (the same file delivered again)."""
        try:
            self._sfn.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return False
            raise
        return True
