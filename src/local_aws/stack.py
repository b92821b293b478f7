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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local_aws import faults as local_faults
from local_aws import firehose as local_firehose
from local_aws import lambda_api, moto_patches
from local_aws import stepfunctions as local_stepfunctions
from local_aws.iam import enforcer, moto_state
from local_aws.iam.operations import Need, kms_needs
from local_aws.pollers import DynamoDbStreamPoller, InProcessStreams, SqsPoller
from local_aws.runtime import LocalFunction
from local_aws.template import ROOT, code_dirs, load_template, package, translate, zip_folder

log = logging.getLogger("local_aws")

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


class _EndpointSession:
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


class LocalStack:
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
        self._moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._moto_server.start()
        host, port = self._moto_server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
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
            self._moto_server.stop()
            self._moto_server = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def session(self) -> Any:
        """A boto3 session for this stack's account (pass endpoint_url=stack.endpoint to its clients)."""
        return _EndpointSession(self._session, self.endpoint)

    def client(self, service: str) -> Any:
        assert self._session is not None, "start() the stack first"
        return self._session.client(service, endpoint_url=self.endpoint)

    def session_of(self, logical_id: str) -> Any:
        """A boto3 session with a function's own credentials (its execution role), as the function has them."""
        session = boto3.session.Session(region_name=self.region, **self.functions[logical_id].client_credentials())
        return _EndpointSession(session, self.endpoint)

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
        packaged = package(sam_template, f"s3://{self._artifact_bucket}/code.zip", self.template_path.parent)
        self.cfn_template = translate(packaged, parameters, _EndpointSession(self._session, self.endpoint))
        cfn = self.client("cloudformation")
        # moto warns (and prints) for each type it skips and for the Docker it looks for; the inventory says it better.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet("moto"):
            warnings.simplefilter("ignore")
            cfn.create_stack(
                StackName=self.stack_name,
                TemplateBody=json.dumps(self._precreate(_for_moto(self.cfn_template))),
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
        empty = _empty_zip()
        pandas_arn = lam.publish_layer_version(
            LayerName="AWSSDKPandas-Python312-Arm64", Content={"ZipFile": empty}, CompatibleRuntimes=["python3.12"]
        )["LayerVersionArn"]
        powertools_arn = lam.publish_layer_version(
            LayerName="AWSLambdaPowertoolsPythonV3-python312-arm64", Content={"ZipFile": empty}
        )["LayerVersionArn"]
        # the public parameter the template names (AWS publishes one per Powertools version)
        ssm_name = load_template(self.template_path)["Parameters"]["PowertoolsLayerArn"]["Default"]
        _seed_public_ssm_parameter(self.region, ssm_name, powertools_arn)
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
        active = {lid: r for lid, r in resources.items() if _condition_holds(r, resource_map)}
        pending = [lid for lid in active if lid not in created]
        for lid in active:
            if lid in created:
                self.inventory.append(Inventory(lid, active[lid]["Type"], "cloudformation", created[lid]))
        fillers = self._fillers()
        for lid in sorted(pending, key=lambda x: _FILL_ORDER.get(active[x]["Type"], 99)):
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
                self._register_function(lid, created[lid], code_dir, resolved)
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
        self.outputs = {
            name: str(clean_json(output["Value"], resource_map))
            for name, output in self.cfn_template.get("Outputs", {}).items()
            if _condition_holds(output, resource_map)
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

    # ------------------------------------------------------------------ what moto's CloudFormation skips

    def _fillers(self) -> dict[str, Callable[[str, dict[str, Any]], tuple[StandIn, str]]]:
        return {
            "AWS::KinesisFirehose::DeliveryStream": self._firehose_stream,
            "AWS::Glue::Database": self._glue_database,
            "AWS::Glue::Table": self._glue_table,
            "AWS::Athena::WorkGroup": self._athena_workgroup,
            "AWS::Athena::NamedQuery": self._named_query,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::SNS::TopicPolicy": self._topic_policy,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::CloudWatch::Dashboard": self._dashboard,
            "AWS::SSM::Parameter": self._ssm_parameter,
            "AWS::Logs::LogStream": self._log_stream,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::ApiGatewayV2::Api": self._http_api,
            "AWS::ApiGatewayV2::Stage": self._http_api_stage,
            "AWS::ApplicationAutoScaling::ScalableTarget": self._scalable_target,
            "AWS::ApplicationAutoScaling::ScalingPolicy": self._scaling_policy,
            "AWS::Scheduler::Schedule": self._schedule,
            "AWS::Cognito::UserPool": self._user_pool,
            "AWS::Cognito::UserPoolClient": self._precreated_resource,
            "AWS::Cognito::UserPoolUser": self._user_pool_user,
        }

    def _precreated_resource(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        return self._precreated[
            lid
        ], "created through moto's Cognito API before the stack (its CloudFormation has no Cognito)"

    def _user_pool(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        """The pool made before the stack gets the template's settings now that they are resolved: password
        policy, invitation, recovery, and two-factor sign-in (TOTP) as ConsoleMfa says."""
        stand_in, note = self._precreated_resource(lid, props)
        idp = self.client("cognito-idp")
        keys = ("Policies", "AdminCreateUserConfig", "AutoVerifiedAttributes", "AccountRecoverySetting")
        idp.update_user_pool(UserPoolId=stand_in.physical_resource_id, **{k: props[k] for k in keys if k in props})
        mfa = props.get("MfaConfiguration", "OFF")
        idp.set_user_pool_mfa_config(
            UserPoolId=stand_in.physical_resource_id,
            MfaConfiguration=mfa,
            **(
                {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
                if "SOFTWARE_TOKEN_MFA" in props.get("EnabledMfas", [])
                else {}
            ),
        )
        return stand_in, f"{note}; settings applied, two-factor sign-in {mfa} (TOTP codes checked)"

    def _user_pool_user(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        attributes = props.get("UserAttributes", [])
        self.client("cognito-idp").admin_create_user(
            UserPoolId=props["UserPoolId"],
            Username=props["Username"],
            UserAttributes=attributes,
            MessageAction="SUPPRESS",
        )
        return StandIn(props["Username"]), "created with no invitation sent (no e-mail locally)"

    def _name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    def _firehose_stream(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        name = props.get("DeliveryStreamName") or self._name(lid)
        kwargs = {k: v for k, v in props.items() if k not in ("DeliveryStreamName", "Tags")}
        self.client("firehose").create_delivery_stream(DeliveryStreamName=name, **kwargs)
        arn = f"arn:aws:firehose:{self.region}:{ACCOUNT_ID}:deliverystream/{name}"
        return StandIn(name, {"Arn": arn}), "buffering, prefix expressions, delimiter and GZIP emulated locally"

    def _glue_database(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        database = props["DatabaseInput"]
        self.client("glue").create_database(DatabaseInput=database)
        return StandIn(database["Name"]), ""

    def _glue_table(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        table = props["TableInput"]
        self.client("glue").create_table(DatabaseName=props["DatabaseName"], TableInput=table)
        return StandIn(table["Name"]), "catalog only: Athena does not run queries locally"

    def _athena_workgroup(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        self.client("athena").create_work_group(
            Name=props["Name"],
            Description=props.get("Description", ""),
            Configuration=props.get("WorkGroupConfiguration", {}),
        )
        return StandIn(props["Name"]), "catalog only: queries are not executed locally"

    def _named_query(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        query_id = self.client("athena").create_named_query(
            Name=props["Name"],
            Description=props.get("Description", ""),
            Database=props["Database"],
            QueryString=props["QueryString"],
            WorkGroup=props.get("WorkGroup", "primary"),
        )["NamedQueryId"]
        return StandIn(query_id), "stored; the test suite runs it on DuckDB against the local lake"

    def _bucket_policy(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        self.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
        return StandIn(props["Bucket"]), _POLICY_NOTE

    def _queue_policy(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        sqs = self.client("sqs")
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        return StandIn(self._name(lid)), _POLICY_NOTE

    def _topic_policy(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        sns = self.client("sns")
        for arn in props["Topics"]:
            sns.set_topic_attributes(
                TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
            )
        return StandIn(self._name(lid)), _POLICY_NOTE

    def _alarm(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        name = props.pop("AlarmName", None) or self._name(lid)
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **props)
        arn = f"arn:aws:cloudwatch:{self.region}:{ACCOUNT_ID}:alarm:{name}"
        return StandIn(name, {"Arn": arn}), "created; no metrics are emitted locally, so it does not fire"

    def _dashboard(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        name = props.get("DashboardName") or self._name(lid)
        self.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
        return StandIn(name), "stored; its widgets stay empty locally (no metrics are emitted)"

    def _ssm_parameter(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        name = props.get("Name") or self._name(lid)
        self.client("ssm").put_parameter(
            Name=name,
            Value=str(props["Value"]),
            Type=props.get("Type", "String"),
            Description=props.get("Description", ""),
        )
        return StandIn(name, {"Type": props.get("Type", "String"), "Value": str(props["Value"])}), "value as in AWS"

    def _log_stream(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        self.client("logs").create_log_stream(logGroupName=props["LogGroupName"], logStreamName=props["LogStreamName"])
        return StandIn(props["LogStreamName"]), ""

    def _subscription(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        attributes = {
            k: json.dumps(v) if isinstance(v, dict) else str(v)
            for k, v in props.items()
            if k in ("RedrivePolicy", "FilterPolicy", "RawMessageDelivery")
        }
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"], Attributes=attributes
        )["SubscriptionArn"]
        return StandIn(arn), "e-mail is not sent locally"

    def _http_api(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        body = props.get("Body") or {}
        api = self.client("apigatewayv2").create_api(
            Name=str(body.get("info", {}).get("title") or self._name(lid)), ProtocolType="HTTP"
        )
        self.http_api_bodies[lid] = body
        return (
            StandIn(api["ApiId"], {"ApiEndpoint": api.get("ApiEndpoint", "")}),
            "served on 127.0.0.1 from its OpenAPI body (routes, IAM SigV4 check, Lambda proxy 2.0)",
        )

    def _http_api_stage(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        self.client("apigatewayv2").create_stage(ApiId=props["ApiId"], StageName=props["StageName"])
        return StandIn(props["StageName"]), "the local server answers on the $default stage"

    def _scalable_target(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        self.client("application-autoscaling").register_scalable_target(
            ServiceNamespace=props["ServiceNamespace"],
            ResourceId=props["ResourceId"],
            ScalableDimension=props["ScalableDimension"],
            MinCapacity=int(props["MinCapacity"]),
            MaxCapacity=int(props["MaxCapacity"]),
        )
        # CloudFormation's Ref of a scalable target: "<resource id>|<dimension>|<namespace>"
        ref = f"{props['ResourceId']}|{props['ScalableDimension']}|{props['ServiceNamespace']}"
        return StandIn(ref), "registered; nothing scales locally (moto does not throttle)"

    def _scaling_policy(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        resource_id, dimension, namespace = props["ScalingTargetId"].split("|")
        tracking = dict(props["TargetTrackingScalingPolicyConfiguration"])
        tracking["TargetValue"] = float(tracking["TargetValue"])
        arn = self.client("application-autoscaling").put_scaling_policy(
            PolicyName=props["PolicyName"],
            ServiceNamespace=namespace,
            ResourceId=resource_id,
            ScalableDimension=dimension,
            PolicyType=props["PolicyType"],
            TargetTrackingScalingPolicyConfiguration=tracking,
        )["PolicyARN"]
        return StandIn(arn), "stored; no metrics locally, so it never acts"

    def _schedule(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        name = props.get("Name") or self._name(lid)
        target = dict(props["Target"])
        if "RetryPolicy" in target:
            target["RetryPolicy"] = {k: int(v) for k, v in target["RetryPolicy"].items()}
        kwargs = {k: v for k, v in props.items() if k not in ("Name", "Target")}
        arn = self.client("scheduler").create_schedule(Name=name, Target=target, **kwargs)["ScheduleArn"]
        self.schedules[lid] = name
        group_arn = f"arn:aws:scheduler:{self.region}:{ACCOUNT_ID}:schedule-group/{props.get('GroupName', 'default')}"
        self._scheduler_client(target["RoleArn"], "scheduler", group_arn)  # its trust policy, checked now
        return StandIn(
            name, {"Arn": arn}
        ), "stored by moto; fired on request (`fire_schedule`, python -m local_aws fire)"

    def fire_schedule(self, logical_id: str) -> str:
        """What EventBridge Scheduler does when the schedule's time comes: start its target with the schedule's
        role; the execution ARN."""
        from local_aws.scheduler import fire

        return fire(self.client("scheduler"), self._scheduler_client, self.schedules[logical_id])

    def _scheduler_client(self, role_arn: str, service: str, schedule_group_arn: str) -> Any:
        """Scheduler assumes the target's role with the account and the schedule group as source
        (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role)."""
        context = {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": schedule_group_arn}
        if role_arn not in self.role_sessions:
            self._assume(role_arn, "scheduler.amazonaws.com", "scheduler", context)
        return self.role_client(role_arn, service)

    def _bucket_notifications(self, bucket: str, config: dict[str, Any]) -> None:
        queues = [
            {
                "QueueArn": q["Queue"],
                "Events": [q["Event"]],
                **({"Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}}} if "Filter" in q else {}),
            }
            for q in config.get("QueueConfigurations", [])
        ]
        self.client("s3").put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queues}
        )

    # ------------------------------------------------------------------ functions and their event sources

    def _register_function(self, lid: str, name: str, code_dir: Path, resolved: dict[str, Any] | None = None) -> None:
        config = self.client("lambda").get_function_configuration(FunctionName=name)
        # The template's Environment, then local overrides (e.g. a quieter log level for the demo).
        # Lambda's environment values are strings (moto hands back Number parameters as numbers).
        variables = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
        variables.update({k: str(v) for k, v in (resolved or {}).items() if "${" in variables.get(k, "")})
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


# Types moto's CloudFormation knows but cannot create here, because they name resources it skips (a dashboard's
# alarm widget names alarms by ARN, a parameter holds the HTTP API's URL): created by the local fillers instead,
# after those resources.
_NOT_FOR_MOTO = {"AWS::CloudWatch::Dashboard", "AWS::SSM::Parameter"}


def _for_moto(template: dict[str, Any]) -> dict[str, Any]:
    """The template without the _NOT_FOR_MOTO resources and the outputs that name them."""
    left_out = {lid for lid, r in template["Resources"].items() if r["Type"] in _NOT_FOR_MOTO}
    outputs = {
        name: output
        for name, output in template.get("Outputs", {}).items()
        if not any(lid in json.dumps(output) for lid in left_out)
    }
    resources = {lid: r for lid, r in template["Resources"].items() if lid not in left_out}
    return {**template, "Resources": resources, "Outputs": outputs}


_FILL_ORDER = {
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
_POLICY_NOTE = "applied as written; evaluated by the local IAM enforcement (aws:SecureTransport is true)"


def _condition_holds(resource: dict[str, Any], resource_map: Any) -> bool:
    condition = resource.get("Condition")
    return condition is None or bool(resource_map.lazy_condition_map[condition])


@contextlib.contextmanager
def _quiet(name: str) -> Any:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _seed_public_ssm_parameter(region: str, name: str, value: str) -> None:
    """AWS publishes /aws/service/... parameters; moto refuses to create them through the API."""
    from moto.ssm.models import Parameter, ssm_backends

    backend = ssm_backends[ACCOUNT_ID][region]
    backend._parameters[name].append(
        Parameter(ACCOUNT_ID, name, value, "String", None, None, None, datetime.datetime.now(datetime.UTC), 1, "text")
    )


def _empty_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/.keep", "")
    return buffer.getvalue()
