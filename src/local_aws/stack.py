"""The embedded local stack: moto, the stack created from template.yaml, and events routed as the template wires them.

Deploying is what `sam package` + `sam deploy` do: upload the code, run the SAM transform, create the
CloudFormation stack (moto's). Resource types moto's CloudFormation skips are then created from the *same*
translated template through moto's service APIs (with moto's own intrinsic-function resolver), so there is no
second list of resources. What cannot be emulated is listed with the reason (see `inventory`).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
import threading
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from local_aws import faults as local_faults
from local_aws import firehose as local_firehose
from local_aws import lambda_api, moto_patches
from local_aws import layers as local_layers
from local_aws import stepfunctions as local_stepfunctions
from local_aws import transport as local_transport
from local_aws.event_sources import EventSources
from local_aws.fillers import ResourceFillers
from local_aws.iam import enforcer
from local_aws.runtime import LocalFunction
from local_aws.stack_support import (
    ACCOUNT_ID,
    ARTIFACT_BUCKET,
    CREDENTIALS,
    DEFAULT_REGION,
    FILL_ORDER,
    LOCAL_FUNCTION_ENVIRONMENT,
    LOCAL_PARAMETERS,
    NOT_EMULATED,
    EndpointSession,
    Inventory,
    StandIn,
    after_fill_in,
    condition_holds,
    empty_zip,
    for_moto,
    quiet,
    seed_public_ssm_parameter,
)
from local_aws.template import (
    ROOT,
    code_dirs,
    creation_order,
    dependencies,
    load_template,
    package,
    parameter_errors,
    translate,
    zip_folder,
)

log = logging.getLogger("local_aws")


class LocalStack(ResourceFillers, EventSources):
    def __init__(
        self,
        *,
        stack_name: str = "stock-pipeline-local",
        region: str = DEFAULT_REGION,
        parameters: dict[str, str] | None = None,
        template_path: Path | None = None,
        port: int = 0,
        function_environment: dict[str, str] | None = None,
        enforce_iam: bool = True,
        faults: local_faults.FaultPlan | None = None,
    ) -> None:
        self.stack_name = stack_name
        self.region = region
        self.parameters = {**LOCAL_PARAMETERS, **(parameters or {})}
        self.template_path = template_path or ROOT / "template.yaml"
        self.port = port
        self.function_environment = {**LOCAL_FUNCTION_ENVIRONMENT, **(function_environment or {})}
        self.enforce_iam = enforce_iam
        self.iam = enforcer.ENFORCEMENT
        self.fault_plan = faults
        self.faults: local_faults.FaultInjector | None = None  # the injector while this stack runs with a plan
        self.role_sessions: dict[str, enforcer.Credential] = {}  # role ARN -> the session its service acts with
        self.endpoint: str | None = None
        self.functions: dict[str, LocalFunction] = {}
        self.pollers: list[Any] = []
        self.inventory: list[Inventory] = []
        self.outputs: dict[str, str] = {}
        self.firehose: local_firehose.LocalFirehose | None = None
        self.http_api_bodies: dict[str, dict[str, Any]] = {}
        self.http_apis: dict[str, Any] = {}
        self.console_credentials: dict[str, str] | None = None
        self._precreated: dict[str, StandIn] = {}
        self.schedules: dict[str, str] = {}
        self.invitations: list[dict[str, str]] = []  # what Cognito would e-mail to the users the stack creates
        self.dependencies: dict[str, set[str]] = {}  # CloudFormation's graph of the deployed template
        self._code_dir: Path | None = None
        self._moto_server: Any = None
        self._background: threading.Thread | None = None
        self._stop = threading.Event()
        self._session: boto3.session.Session | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalStack:
        """Start a moto server on 127.0.0.1 and deploy the template.

        Always a server: moto's in-process mock does not route DynamoDB Streams calls.
        """
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        local_transport.share_service_models()
        self._moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        try:
            _start_server(self._moto_server, self.port)
        except OSError:
            self._moto_server = None  # nothing listens: nothing to stop
            raise
        host, port = self._moto_server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        local_transport.serve(f"{host}:{port}", local_transport.app_of(self._moto_server))
        # No process-wide AWS_* changes: clients get the endpoint explicitly, handlers get it in their environment.
        self._session = boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=self.region,
        )
        self.iam = enforcer.install()
        self.iam.enabled = self.enforce_iam
        self.firehose = local_firehose.LocalFirehose(self._firehose_s3_client)
        local_firehose.install(self.firehose)
        moto_patches.install()
        local_layers.install()
        self.faults = local_faults.activate(self.fault_plan)
        self.deploy()
        return self

    def stop(self) -> None:
        self._stop.set()
        for function in self.functions.values():
            lambda_api.forget(function)
        if self.faults is not None and local_faults.ACTIVE is self.faults:
            local_faults.activate(None)
        for server in self.http_apis.values():
            server.stop()
        self.http_apis.clear()
        if self._background:
            self._background.join(timeout=10)
        if self._moto_server:
            local_transport.forget(self.endpoint.removeprefix("http://") if self.endpoint else "")
            self._moto_server.stop()
            self._moto_server = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def session(self) -> Any:
        """A boto3 session for this stack's account (pass endpoint_url=stack.endpoint to its clients)."""
        return EndpointSession(self._session, self.endpoint)

    def client(self, service: str) -> Any:
        assert self._session is not None, "start() the stack first"
        return self._session.client(service, endpoint_url=self.endpoint)

    def session_of(self, logical_id: str) -> Any:
        """A boto3 session with a function's own credentials (its execution role), as the function has them."""
        session = boto3.session.Session(region_name=self.region, **self.functions[logical_id].client_credentials())
        return EndpointSession(session, self.endpoint)

    def role_client(self, role_arn: str, service: str) -> Any:
        """A client with the session an AWS service holds for a role of the template (assumed at deploy)."""
        credential = self.role_sessions[role_arn]
        return boto3.session.Session(region_name=self.region, **credential.as_client_kwargs()).client(
            service, endpoint_url=self.endpoint
        )

    def _assume(self, role_arn: str, service: str, session_name: str, context: dict[str, str] | None = None) -> Any:
        """The service's session for a role: refused (as CloudFormation would fail the resource) when the role's
        trust policy does not let that service assume it."""
        try:
            credential = self.iam.assume(role_arn, service, session_name, context=context)
        except enforcer.AccessDeniedError as exc:
            raise RuntimeError(f"{service} cannot assume {role_arn}: {exc}") from exc
        self.role_sessions.setdefault(role_arn, credential)
        return credential

    def _firehose_s3_client(self, role_arn: str) -> Any:
        """Firehose writes with its delivery role, assumed with the account id as external id
        (https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#using-iam-s3)."""
        if role_arn not in self.role_sessions:
            self._assume(role_arn, "firehose.amazonaws.com", "firehose-delivery", {"sts:ExternalId": ACCOUNT_ID})
        return self.role_client(role_arn, "s3")

    # ------------------------------------------------------------------ deploy

    def deploy(self) -> None:
        sam_template = load_template(self.template_path)
        code_dir = next(iter(code_dirs(sam_template, self.template_path.parent)))
        parameters = self._prepare_account(code_dir)
        refused = parameter_errors(sam_template, parameters)
        if refused:  # CloudFormation's ValidationError: the stack is not created
            raise ValueError("; ".join(refused))
        packaged = package(sam_template, f"s3://{self._artifact_bucket}/code.zip", self.template_path.parent)
        self.cfn_template = translate(packaged, parameters, EndpointSession(self._session, self.endpoint))
        cfn = self.client("cloudformation")
        # moto warns (and prints) for each type it skips and for the Docker it looks for; the inventory says it better.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), quiet("moto"):
            warnings.simplefilter("ignore")
            cfn.create_stack(
                StackName=self.stack_name,
                TemplateBody=json.dumps(self._precreate(for_moto(self.cfn_template))),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
            status = cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]["StackStatus"]
            if status != "CREATE_COMPLETE":
                raise RuntimeError(f"local stack {self.stack_name} ended in {status}")
            self._fill_in(code_dir)

    def _precreate(self, template: dict[str, Any]) -> dict[str, Any]:
        """Cognito pools and clients, which moto's CloudFormation does not create but functions and the API name:
        created through the API first, their references in the template replaced by the physical ids (the fill-in
        registers the same ids, so outputs and the API's JWT issuer resolve to them)."""
        resources = template["Resources"]
        idp = self.client("cognito-idp")
        ids: dict[str, str] = {}
        for lid, resource in resources.items():
            if resource["Type"] == "AWS::Cognito::UserPool":
                pool = idp.create_user_pool(PoolName=self._name(lid))["UserPool"]
                ids[lid] = pool["Id"]
                self._precreated[lid] = StandIn(pool["Id"], {"Arn": pool["Arn"], "ProviderName": pool["Id"]})
        for lid, resource in resources.items():
            if resource["Type"] == "AWS::Cognito::UserPoolClient":
                props = resource["Properties"]
                client = idp.create_user_pool_client(
                    UserPoolId=ids[props["UserPoolId"]["Ref"]],
                    ClientName=props.get("ClientName", lid),
                    ExplicitAuthFlows=props.get("ExplicitAuthFlows", []),
                    GenerateSecret=bool(props.get("GenerateSecret", False)),
                )["UserPoolClient"]
                ids[lid] = client["ClientId"]
                self._precreated[lid] = StandIn(client["ClientId"])
        text = json.dumps({k: v for k, v in template.items()})
        for lid, physical in ids.items():
            text = text.replace(json.dumps({"Ref": lid}), json.dumps(physical)).replace("${" + lid + "}", physical)
            for name, value in self._precreated[lid].attributes.items():  # GetAtt ConsoleUserPool.Arn, ...
                text = text.replace(json.dumps({"Fn::GetAtt": [lid, name]}), json.dumps(value))
                text = text.replace("${" + f"{lid}.{name}" + "}", value)
        replaced = json.loads(text)
        replaced["Resources"] = {lid: r for lid, r in replaced["Resources"].items() if lid not in ids}
        return replaced

    def _prepare_account(self, code_dir: Path) -> dict[str, str]:
        """What exists in a real account before `sam deploy`: the artifact, the managed layers, the public SSM name."""
        s3 = self.client("s3")
        location = (
            {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        )
        s3.create_bucket(Bucket=self._artifact_bucket, **location)
        s3.put_object(Bucket=self._artifact_bucket, Key="code.zip", Body=zip_folder(code_dir))
        lam = self.client("lambda")
        empty = empty_zip()
        pandas_arn = lam.publish_layer_version(
            LayerName="AWSSDKPandas-Python312-Arm64", Content={"ZipFile": empty}, CompatibleRuntimes=["python3.12"]
        )["LayerVersionArn"]
        powertools_arn = lam.publish_layer_version(
            LayerName="AWSLambdaPowertoolsPythonV3-python312-arm64", Content={"ZipFile": empty}
        )["LayerVersionArn"]
        # the public parameter the template names (AWS publishes one per Powertools version)
        ssm_name = load_template(self.template_path)["Parameters"]["PowertoolsLayerArn"]["Default"]
        seed_public_ssm_parameter(self.region, ssm_name, powertools_arn)
        self._pandas_layer_arn = pandas_arn
        return {"PandasLayerArn": pandas_arn, **self.parameters}

    @property
    def _artifact_bucket(self) -> str:
        # one per Region, as sam's managed artifact bucket is (S3 bucket names are global)
        return f"{self.stack_name.lower()}-{self.region}-{ARTIFACT_BUCKET}"[:63]

    def _resource_map(self) -> Any:
        from moto.cloudformation.models import cloudformation_backends

        backend = cloudformation_backends[ACCOUNT_ID][self.region]
        stack = next(s for s in backend.stacks.values() if s.name == self.stack_name)
        return stack.resource_map

    def _fill_in(self, code_dir: Path) -> None:
        from moto.cloudformation.parsing import clean_json

        resource_map = self._resource_map()
        created = {  # (moto keeps no physical id for a Lambda::Permission: it is a statement in the function policy)
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in self.client("cloudformation").describe_stack_resources(StackName=self.stack_name)["StackResources"]
            if "LogicalResourceId" in r
        }
        resources = self.cfn_template["Resources"]
        # Conditions false for these parameters: the resource is not part of this deployment.
        active = {lid: r for lid, r in resources.items() if condition_holds(r, resource_map)}
        pending = [lid for lid in active if lid not in created]
        for lid in active:
            if lid in created:
                self.inventory.append(Inventory(lid, active[lid]["Type"], "cloudformation", created[lid]))
        fillers = self._fillers()
        self._code_dir, self.dependencies = code_dir, dependencies(self.cfn_template)
        rank = {lid: FILL_ORDER.get(active[lid]["Type"], 99) for lid in pending}
        for lid in creation_order(self.dependencies, pending, rank):
            rtype = active[lid]["Type"]
            props = clean_json(active[lid].get("Properties", {}), resource_map)
            filler = fillers.get(rtype)
            if filler is None:
                self.inventory.append(
                    Inventory(lid, rtype, "not emulated", None, NOT_EMULATED.get(rtype, "no local emulation"))
                )
                continue
            stand_in, note = filler(lid, props)
            resource_map._parsed_resources[lid] = stand_in
            self.inventory.append(Inventory(lid, rtype, "local", stand_in.physical_resource_id, note))
        for lid, resource in active.items():
            if resource["Type"] == "AWS::Lambda::Function":
                # moto created the function before the resources filled in here existed (the HTTP API): a value
                # naming one (the console's URL) is resolved again now, as CloudFormation would have
                template_env = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
                resolved = clean_json(template_env, resource_map) if template_env else {}
                layers = clean_json(resource.get("Properties", {}).get("Layers", []), resource_map)
                carries = self._pandas_layer_arn in layers  # moto keeps no layers: the template says
                self._register_function(lid, created[lid], code_dir, resolved, pandas_layer=carries)
        for lid, resource in active.items():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                self._executable_state_machine(lid, created[lid], clean_json(resource["Properties"], resource_map))
        for lid, resource in active.items():
            if resource["Type"] == "AWS::Lambda::EventSourceMapping":
                self._route_event_source(lid, created[lid], clean_json(resource["Properties"], resource_map))
        # Properties moto's CloudFormation stores but does not act on (after the pollers own the queues).
        for lid, resource in active.items():
            if resource["Type"] == "AWS::S3::Bucket" and "NotificationConfiguration" in resource.get("Properties", {}):
                config = clean_json(resource["Properties"]["NotificationConfiguration"], resource_map)
                self._bucket_notifications(created[lid], config)
                self._note(
                    lid, "cloudformation", "NotificationConfiguration applied locally (moto's CloudFormation skips it)"
                )
        after_fill_in(self.client, self._note, active, created, set(pending), resource_map)
        self.outputs = {
            name: str(clean_json(output["Value"], resource_map))
            for name, output in self.cfn_template.get("Outputs", {}).items()
            if condition_holds(output, resource_map)
        }
        self._serve_http_apis()
        self._console_user()

    def _serve_http_apis(self) -> None:
        """Each HTTP API on 127.0.0.1; an output that names the API's execute-api URL names the local one."""
        from local_aws.http_api import LocalHttpApi, routes_from

        credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        for n, (lid, body) in enumerate(sorted(self.http_api_bodies.items())):
            port = self.port + 1 + n if self.port else 0
            server = LocalHttpApi(
                routes_from(body, self.functions.values()),
                region=self.region,
                credentials=credentials,
                port=port,
                jwks=self._issuer_keys,
            ).start()
            self.http_apis[lid] = server
            for name, output in self.cfn_template.get("Outputs", {}).items():
                text = json.dumps(output.get("Value"))
                if name in self.outputs and "${" + lid + "}" in text and "execute-api" in text:
                    path = text.split("${AWS::URLSuffix}", 1)[-1].split('"', 1)[0] if "URLSuffix" in text else ""
                    self.outputs[name] = server.url + path  # e.g. the console's /console

    def _issuer_keys(self, issuer: str) -> dict[str, Any]:
        """A Cognito issuer's JSON Web Key Set, from moto's endpoint for it (what API Gateway fetches from AWS)."""
        import urllib.request

        pool = issuer.rstrip("/").rsplit("/", 1)[-1]
        with urllib.request.urlopen(f"{self.endpoint}/{pool}/.well-known/jwks.json", timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def _console_user(self) -> None:
        """A user of the console's pool with a known password (a deployed stack's users are added by an admin)."""
        pool = self.outputs.get("ConsoleUserPoolId")
        if not pool:
            return
        idp = self.client("cognito-idp")
        username, password = "console-user", "Local-" + uuid.uuid4().hex[:12] + "A1"
        idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
        self.console_credentials = {"username": username, "password": password}

    # ------------------------------------------------------------------ running

    def drain(self, *, max_rounds: int = 10_000, on_progress: Callable[[int], Any] | None = None) -> int:
        """Deliver buffered Firehose data and poll every event source until nothing is left; returns messages."""
        assert self.firehose is not None
        handled = 0
        for _ in range(max_rounds):
            self.firehose.flush_all()
            moved = sum(poller.poll_once() for poller in self.pollers)
            moved += local_stepfunctions.wait_for_executions()
            handled += moved
            if on_progress is not None:
                on_progress(moved)
            settled = self.firehose.pending_records() == 0 or self.firehose.failing  # a refused delivery waits
            if moved == 0 and settled and all(p.backlog() == 0 for p in self.pollers):
                return handled
        raise RuntimeError(f"the local pipeline did not drain within {max_rounds} rounds")

    def run_in_background(self, *, interval_s: float = 0.5) -> None:
        """What AWS does continuously: flush Firehose buffers when due, and poll every event source."""
        assert self.firehose is not None

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.firehose.flush_due()  # type: ignore[union-attr]
                    if sum(poller.poll_once() for poller in self.pollers) == 0:
                        self._stop.wait(interval_s)
                except Exception:  # keep serving; the error is the function's, already counted
                    log.exception("local event routing failed")
                    self._stop.wait(interval_s)

        self._background = threading.Thread(target=loop, name="local-aws-router", daemon=True)
        self._background.start()

    def describe(self) -> dict[str, Any]:
        """What `.local-stack.json` holds: enough for the aws CLI, boto3 or the notebook to drive the stack."""
        return {
            "endpoint": self.endpoint,
            "region": self.region,
            "stackName": self.stack_name,
            "credentials": {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
            "outputs": self.outputs,
            "consoleUser": self.console_credentials,
            # the sessions EventBridge Scheduler holds for the schedules' roles (`python -m local_aws fire`)
            "schedulerSessions": {
                role: credential.as_client_kwargs()
                for role, credential in self.role_sessions.items()
                if credential.principal.arn.endswith("/scheduler")
            },
            "generatedAt": datetime.datetime.now(datetime.UTC).isoformat(),
        }


class PortTakenError(OSError):
    """The local endpoint's port is in use by another process."""


def _start_server(server: Any, port: int) -> None:
    """moto's ThreadedMotoServer.start() waits for an event that its server thread sets only once it is listening:
    when the port is taken the thread dies of "Address already in use" and start() waits for ever (deaf to SIGTERM,
    which Python handles only between the main thread's bytecodes). Its own entry is run here, and the wait ends
    with the thread."""
    import socket

    if port:  # the same bind werkzeug makes (it prints its own message and exits the thread with SystemExit)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                raise PortTakenError(f"127.0.0.1:{port} cannot be used ({exc.strerror})") from None
    failure: list[BaseException] = []

    def entry() -> None:
        try:
            server._server_entry()
        except BaseException as exc:  # werkzeug exits the thread with SystemExit(1)
            failure.append(exc)

    server._thread = threading.Thread(target=entry, name="moto-server", daemon=True)
    server._thread.start()
    while not server._server_ready_event.wait(0.05):
        if not server._thread.is_alive():
            reason = failure[0].strerror if failure and isinstance(failure[0], OSError) else "the server stopped"
            raise PortTakenError(f"127.0.0.1:{port} cannot be used ({reason})")


# Types moto's CloudFormation knows but cannot create here, because they name resources it skips (a dashboard's
# alarm widget names alarms by ARN, a parameter holds the HTTP API's URL): created by the local fillers instead,
# after those resources.
