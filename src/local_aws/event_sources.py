"""The stack's functions, run in-process with their roles' credentials, and their event sources (SQS and
stream pollers with Lambda's semantics), the state machines' task principals and the topic inboxes (a mixin of
LocalStack)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from local_aws import lambda_api
from local_aws import stepfunctions as local_stepfunctions
from local_aws.iam import enforcer, moto_state
from local_aws.iam.operations import Need, kms_needs
from local_aws.pollers import DynamoDbStreamPoller, InProcessStreams, SqsPoller
from local_aws.runtime import LocalFunction
from local_aws.stack_support import ACCOUNT_ID, CREDENTIALS, InboxReader


class EventSources:
    # ------------------------------------------------------------------ functions and their event sources

    def _register_function(
        self,
        lid: str,
        name: str,
        code_dir: Path,
        resolved: dict[str, Any] | None = None,
        *,
        pandas_layer: bool = True,
    ) -> None:
        config = self.client("lambda").get_function_configuration(FunctionName=name)
        # The template's Environment, then local overrides (e.g. a quieter log level for the demo).
        # Lambda's environment values are strings (moto hands back Number parameters as numbers).
        variables = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
        # a value naming a resource filled in locally: moto left it unresolved ("${...}") or dropped it (a Ref)
        variables.update({k: str(v) for k, v in (resolved or {}).items() if k not in variables or "${" in variables[k]})
        environment = {**variables, **self.function_environment}
        # Lambda runs the function with a session of its execution role (the trust policy must let Lambda assume it:
        # https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html), session name = function
        credential = self._assume(config["Role"], "lambda.amazonaws.com", name)
        self.functions[lid] = LocalFunction(
            logical_id=lid,
            name=name,
            arn=config["FunctionArn"],
            handler=config["Handler"],
            environment=environment,
            timeout_s=int(config.get("Timeout", 3)),
            memory_mb=int(config.get("MemorySize", 128)),
            code_dir=code_dir,
            base_environment=self._runtime_environment(),
            credentials=credential.as_environment(),
            role_arn=config["Role"],
            pandas_layer=pandas_layer,
        )
        lambda_api.register(self.functions[lid])  # Invoke (stockctl redrive's replays) runs it in-process
        if self.faults is not None:  # the calls this function makes are the ones faults are injected into
            self.faults.register(credential.access_key, lid)

    def _runtime_environment(self) -> dict[str, str]:
        env = {
            **CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        if self.endpoint:
            env["AWS_ENDPOINT_URL"] = self.endpoint
        return env

    def _route_event_source(self, lid: str, uuid: str, props: dict[str, Any]) -> None:
        lam = self.client("lambda")
        # moto's own invoker for this mapping needs Docker; the pollers below replace it.
        lam.update_event_source_mapping(UUID=uuid, Enabled=False)
        function = next(f for f in self.functions.values() if props["FunctionName"] in (f.name, f.arn))
        source = props["EventSourceArn"]
        if ":sqs:" in source:
            poller: Any = self._sqs_poller(source, function, props)
        elif ":dynamodb:" in source and "/stream/" in source:
            poller = self._stream_poller(source, function, props)
        else:
            self._note(lid, "not emulated", f"no local poller for {source}")
            return
        self.pollers.append(poller)
        self._note(lid, "local", "moto's mapping disabled; polled here with Lambda's semantics")

    def _mapping_needs(self, function: LocalFunction, needs: list[Need], what: str) -> None:
        """Lambda checks, when a mapping is created, that the execution role may read its source (and send to its
        on-failure destination); CloudFormation then fails the mapping with the missing permission
        (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-permissions,
        https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html#events-dynamodb-permissions)."""
        principal = self.iam.credential(function.credentials["AWS_ACCESS_KEY_ID"])
        if not self.enforce_iam or principal is None:
            return
        refused = self.iam.check(principal.principal, needs, self.region)
        if refused is not None:
            raise RuntimeError(
                f"event source mapping of {function.logical_id}: the provided execution role does not have "
                f"permissions to {what}: {refused[0].message()}"
            )

    def _mapping_client(self, function: LocalFunction, service: str) -> Any:
        """The mapping polls with a session of the function's role of its own (Lambda's pollers are not the
        function: an injected fault or kill of the function never hits them)."""
        credential = self.iam.assume(function.role_arn, "lambda.amazonaws.com", "event-source-mapping")
        return boto3.session.Session(region_name=self.region, **credential.as_client_kwargs()).client(
            service, endpoint_url=self.endpoint
        )

    def _sqs_poller(self, source: str, function: LocalFunction, props: dict[str, Any]) -> SqsPoller:
        resources = moto_state.resources(ACCOUNT_ID, self.region)
        self._mapping_needs(
            function,
            [
                *(Need(f"sqs:{a}", source) for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")),
                *kms_needs("sqs", resources.queue_key(source), producer=False, region=self.region),
            ],
            f"call ReceiveMessage on {source}",
        )
        sqs = self._mapping_client(function, "sqs")
        return SqsPoller(
            sqs=sqs,
            queue_url=self.client("sqs").get_queue_url(QueueName=source.rsplit(":", 1)[-1])["QueueUrl"],
            queue_arn=source,
            function=function,
            batch_size=int(props.get("BatchSize", 10)),
            report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            region=self.region,
        )

    def _stream_poller(self, source: str, function: LocalFunction, props: dict[str, Any]) -> DynamoDbStreamPoller:
        from moto.dynamodb.models import dynamodb_backends

        table_name = source.split(":table/", 1)[1].split("/stream/", 1)[0]
        # moto would call a Docker Lambda on every write to the table; the poller reads the stream instead.
        dynamodb_backends[ACCOUNT_ID][self.region].get_table(table_name).lambda_event_source_mappings.clear()
        on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        needs = [
            *(Need(f"dynamodb:{a}", source) for a in ("DescribeStream", "GetRecords", "GetShardIterator")),
            Need("dynamodb:ListStreams", "*"),
        ]
        failure_url = None
        if on_failure and ":sqs:" in on_failure:
            failure_url = self.client("sqs").get_queue_url(QueueName=on_failure.rsplit(":", 1)[-1])["QueueUrl"]
            resources = moto_state.resources(ACCOUNT_ID, self.region)
            needs += [
                Need("sqs:SendMessage", on_failure),
                *kms_needs("sqs", resources.queue_key(on_failure), producer=True, region=self.region),
            ]
        self._mapping_needs(function, needs, f"read {source} and send to its on-failure destination")
        return DynamoDbStreamPoller(
            streams=InProcessStreams(ACCOUNT_ID, self.region),
            sqs=self._mapping_client(function, "sqs"),
            stream_arn=source,
            function=function,
            batch_size=int(props.get("BatchSize", 100)),
            starting_position=props.get("StartingPosition", "TRIM_HORIZON"),
            report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            bisect_on_error=str(props.get("BisectBatchOnFunctionError", False)).lower() == "true",
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            filters=props.get("FilterCriteria", {}).get("Filters", []),
            on_failure_queue_url=failure_url,
            region=self.region,
        )

    def _executable_state_machine(self, lid: str, arn: str, props: dict[str, Any]) -> None:
        """moto's CloudFormation ignores DefinitionSubstitutions and creates the machine where nothing runs it;
        it is created again, substituted, in moto's executing Step Functions backend (same name, same ARN)."""
        from moto.core.config import default_user_config

        definition = props["DefinitionString"]
        for name, value in (props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + name + "}", str(value))
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        # Step Functions acts with the machine's role: its trust policy must let states.amazonaws.com assume it
        # (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html)
        self._assume(props["RoleArn"], "states.amazonaws.com", arn.rsplit(":", 1)[-1])
        sfn = self.client("stepfunctions")
        sfn.create_state_machine(
            name=arn.rsplit(":", 1)[-1],
            definition=definition,
            roleArn=props.get("RoleArn", ""),
            type=props.get("StateMachineType", "STANDARD"),
        )
        local_stepfunctions.route_lambda_tasks(self.functions.values(), self._task_principal)
        self._note(
            lid, "cloudformation", "executed by moto's ASL interpreter; Lambda tasks run the handlers in-process"
        )

    def _task_principal(self, role_arn: str) -> enforcer.Principal | None:
        """The principal a state machine's tasks call AWS as (None when IAM is not enforced)."""
        credential = self.role_sessions.get(role_arn)
        return credential.principal if credential is not None and self.enforce_iam else None

    def _note(self, lid: str, how: str, note: str) -> None:
        for item in self.inventory:
            if item.logical_id == lid:
                item.how, item.note = how, note

    def inbox(self, topic_arn: str, name: str = "local-inbox") -> InboxReader:
        """An SQS subscription to a topic, standing in for the e-mail inbox (e-mail is not sent locally)."""
        sqs, sns = self.client("sqs"), self.client("sns")
        queue_url = sqs.create_queue(QueueName=f"{self.stack_name}-{name}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # as anyone subscribing a queue must: let the topic send to it
        from stockctl.stack import topic_may_send

        policy = json.dumps(topic_may_send(queue_arn, topic_arn))
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy})
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        return InboxReader(sqs, queue_url)
