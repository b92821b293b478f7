"""Runs a template's Lambda handler in this process, with the Environment the template gives the function."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# One invocation at a time: the process environment is shared, as a Lambda container's is not.
_INVOKE_LOCK = threading.RLock()


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    """One function of the stack: its configuration as deployed, its code from the CodeUri folder."""

    logical_id: str
    name: str
    arn: str
    handler: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    code_dir: Path
    base_environment: Mapping[str, str]
    credentials: Mapping[str, str] = field(default_factory=dict)  # its execution role's session, as Lambda sets it
    role_arn: str = ""
    invocations: int = 0
    errors: int = 0
    _handler: Callable[[dict[str, Any], Any], Any] | None = field(default=None, repr=False)

    def _resolve(self) -> Callable[[dict[str, Any], Any], Any]:
        """The handler module is loaded once per function, like a warm container: its module-level state
        (clients, cached settings) belongs to this function of this stack and is not shared with another."""
        if self._handler is None:
            module_name, _, attribute = self.handler.rpartition(".")
            if str(self.code_dir) not in sys.path:
                sys.path.insert(0, str(self.code_dir))
            spec = importlib.util.find_spec(module_name)
            assert spec is not None and spec.loader is not None, f"handler module {module_name} not found"
            container_spec = importlib.util.spec_from_file_location(f"{module_name}__{self.name}", spec.origin)
            assert container_spec is not None and container_spec.loader is not None
            module = importlib.util.module_from_spec(container_spec)
            sys.modules[container_spec.name] = module  # dataclasses look their module up there
            container_spec.loader.exec_module(module)
            self._handler = getattr(module, attribute)
        return self._handler

    def invoke(self, event: dict[str, Any]) -> Any:
        """Synchronous invoke; an exception is the function's error, as Lambda reports it to the poller."""
        with (
            _INVOKE_LOCK,
            _environment({**self.base_environment, **self.credentials, **self.environment, **self._lambda_vars()}),
        ):
            handler = self._resolve()
            context = LambdaContext(
                function_name=self.name,
                memory_limit_in_mb=self.memory_mb,
                invoked_function_arn=self.arn,
                timeout_s=self.timeout_s,
                log_group_name=f"/aws/lambda/{self.name}",
                _deadline=time.monotonic() + self.timeout_s,
            )
            self.invocations += 1
            try:
                return handler(event, context)
            except Exception:
                self.errors += 1
                raise

    def client_credentials(self) -> dict[str, str | None]:
        """Its credentials as boto3 client arguments (to act as the function from a test)."""
        return {
            "aws_access_key_id": self.credentials.get("AWS_ACCESS_KEY_ID"),
            "aws_secret_access_key": self.credentials.get("AWS_SECRET_ACCESS_KEY"),
            "aws_session_token": self.credentials.get("AWS_SESSION_TOKEN"),
        }

    def _lambda_vars(self) -> dict[str, str]:
        return {
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
        }


@contextmanager
def _environment(values: Mapping[str, str]) -> Any:
    saved = dict(os.environ)
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
