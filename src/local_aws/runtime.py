"""Runs a template's Lambda handler in this process, with the Environment the template gives the function."""

from __future__ import annotations

import importlib
import importlib.util
import logging
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

from local_aws.lambda_limits import (
    check_memory,
    check_request,
    check_response,
    start_memory_watch,
    stop_memory_watch,
)
from local_aws.layers import without_pandas_layer
from local_aws.request_count import COUNT

# One invocation at a time: the process environment is shared, as a Lambda container's is not.
_INVOKE_LOCK = threading.RLock()
log = logging.getLogger(__name__)
COLD_FLOOR = "import boto3; from aws_lambda_powertools import Logger"  # what every function of the stack imports
_PROBE = "import sys, time; t = time.perf_counter(); exec(sys.argv[1]); print(time.perf_counter() - t)"


def fresh_import_seconds(code: str, code_dir: Path) -> float:
    """How long `code` (an import) takes in a fresh interpreter, as a cold start's init phase runs it: in this
    process a function's libraries are often imported already (by another function), so its own first
    invocation here would hide them."""
    import subprocess

    done = subprocess.run(  # noqa: S603 (this interpreter, the stack's own code)
        [sys.executable, "-c", _PROBE, code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(code_dir)},
    )
    return float(done.stdout.strip().splitlines()[-1])


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
    pandas_layer: bool = True  # carries the AWS SDK for pandas layer (else its libraries cannot be imported)
    invocations: int = 0
    errors: int = 0
    _handlers: dict[int, Callable[[dict[str, Any], Any], Any]] = field(default_factory=dict, repr=False)

    def _resolve(self, container: int = 0) -> Callable[[dict[str, Any], Any], Any]:
        """The handler module is loaded once per function and container, like a warm container: its module-level
        state (clients, cached settings) belongs to this container of this function and is not shared."""
        if container not in self._handlers:
            module_name, _, attribute = self.handler.rpartition(".")
            if str(self.code_dir) not in sys.path:
                sys.path.insert(0, str(self.code_dir))
            spec = importlib.util.find_spec(module_name)
            assert spec is not None and spec.loader is not None, f"handler module {module_name} not found"
            suffix = f"__{container}" if container else ""
            container_spec = importlib.util.spec_from_file_location(f"{module_name}__{self.name}{suffix}", spec.origin)
            assert container_spec is not None and container_spec.loader is not None
            module = importlib.util.module_from_spec(container_spec)
            sys.modules[container_spec.name] = module  # dataclasses look their module up there
            container_spec.loader.exec_module(module)
            self._handlers[container] = getattr(module, attribute)
        return self._handlers[container]

    def invoke(self, event: dict[str, Any]) -> Any:
        """Synchronous invoke; an exception is the function's error, as Lambda reports it to the poller."""
        with (
            _INVOKE_LOCK,
            _environment({**self.base_environment, **self.credentials, **self.environment, **self._lambda_vars()}),
        ):
            return self._run(event, container=0, killable=True)

    def invoke_concurrently(self, events: list[dict[str, Any]]) -> list[Any]:
        """Each event to its own container, all running at the same time (as when SQS hands one message to two
        pollers); per event its result or the exception it ended with."""
        with (
            _INVOKE_LOCK,
            _environment({**self.base_environment, **self.credentials, **self.environment, **self._lambda_vars()}),
        ):
            for container in range(len(events)):
                with without_pandas_layer(not self.pandas_layer):
                    self._resolve(container)
            outcomes: list[Any] = [None] * len(events)

            def run(n: int) -> None:
                try:
                    outcomes[n] = self._run(events[n], container=n, killable=False)
                except Exception as exc:  # the invocation's error, handed to the caller
                    outcomes[n] = exc

            threads = [threading.Thread(target=run, args=(n,), name=f"{self.name}-{n}") for n in range(len(events))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return outcomes

    def _run(self, event: dict[str, Any], *, container: int, killable: bool) -> Any:
        from local_aws import faults

        check_request(event)  # before the function runs (and for each of concurrent deliveries too)
        with without_pandas_layer(not self.pandas_layer):
            handler = self._resolve(container)
        context = LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=self.arn,
            timeout_s=self.timeout_s,
            log_group_name=f"/aws/lambda/{self.name}",
            _deadline=time.monotonic() + self.timeout_s,
        )
        self.invocations += 1
        first = self.invocations == 1
        began = time.perf_counter()
        injector = faults.ACTIVE
        # one invocation at a time (killable): its memory is watched; concurrent ones would reset each other's mark
        watch = start_memory_watch() if killable else None
        try:
            with COUNT.invocation(self.logical_id), without_pandas_layer(not self.pandas_layer):
                if injector is None:
                    result = handler(event, context)
                else:
                    access_key = self.credentials.get("AWS_ACCESS_KEY_ID", "")
                    with injector.invocation(self.logical_id, access_key, killable=killable):
                        result = handler(event, context)
            check_memory(self.memory_mb, watch)
            check_response(result)
            if first:  # in this process, with what other functions imported already: the cold start is `make up`'s
                log.info("first invocation of %s: %.0f ms", self.logical_id, (time.perf_counter() - began) * 1000)
            return result
        except Exception:
            stop_memory_watch()
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
