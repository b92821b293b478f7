"""SSM parameters the functions read at run time (values a template reference cannot carry without a cycle)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class Parameters:
    def __init__(self, ssm_client: Any) -> None:
        self._ssm = ssm_client
        self._values: dict[str, str] = {}

    def value(self, name: str) -> str | None:
        """The parameter's value (kept for the container's life once read), or None when it cannot be read."""
        if name not in self._values:
            try:
                self._values[name] = self._ssm.get_parameter(Name=name)["Parameter"]["Value"]
            except (ClientError, BotoCoreError):
                return None
        return self._values[name]
