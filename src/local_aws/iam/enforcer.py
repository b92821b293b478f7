"""IAM, SigV4 and key policies enforced on the local stack, the way AWS enforces them.

Every principal the template defines gets credentials of its own: each function (its execution role, as Lambda
assumes it), each state machine, the scheduler's and Firehose's roles. Every request reaching the moto server is
checked before moto sees it: the signature (SigV4 only), the credential's Region for S3, then each IAM action the
call needs (`operations.needs`) against the caller's identity-based policies, the resource's policy and, for
encrypted data, the KMS key's policy (`policy.evaluate`). A refusal is answered in the service's own error shape
(AccessDeniedException, AuthorizationError, S3's AccessDenied ...) with AWS's sentence naming action and resource.

Deliveries AWS services make on their own behalf are checked with the request context each service documents:
S3 -> SQS (event notifications), SNS -> SQS (subscriptions), CloudWatch -> SNS (alarm actions), each against the
queue or topic policy and the key policy of its key. A refused delivery is dropped, as AWS drops it, and recorded
in `Enforcement.undelivered` (a warning in the log says which statement was missing).

The credentials the local stack itself uses (`testing`, the deployer's) are the account's administrator: allowed
everything, like AdministratorAccess.
"""

from __future__ import annotations

import logging
import secrets
import string
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from local_aws.iam import operations, sigv4
from local_aws.iam.moto_state import Moto, bucket_region, object_exists, resource_policy_document
from local_aws.iam.operations import HttpRequest, Need
from local_aws.iam.policy import ADMINISTRATOR, Decision, Policy, Principal, Request, compile_policy, evaluate
from local_aws.iam.responses import REASONS, error, http_request, refusal, service_of, unmapped_hint, wrong_region

log = logging.getLogger("local_aws.iam")

ADMIN_KEY, ADMIN_SECRET = "testing", "testing"


@dataclass(frozen=True, slots=True)
class Credential:
    access_key: str
    secret_key: str
    session_token: str | None
    principal: Principal

    def as_environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            **({"AWS_SESSION_TOKEN": self.session_token} if self.session_token else {}),
        }

    def as_client_kwargs(self) -> dict[str, str | None]:
        return {
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "aws_session_token": self.session_token,
        }


# The principal of the request this thread is serving (the moto server answers each request in one thread): what
# S3's event notifications name as the event's userIdentity.
CALLER = threading.local()


def principal_id(principal: Principal | None) -> str:
    """The principalId S3 puts in an event's userIdentity: "AWS:<role id>:<session>" for a role session, "AWS:<user
    id>" otherwise (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html);
    the ids are derived from the ARNs, stable across runs."""
    import hashlib

    if principal is None:
        return "AWS:AIDALOCALUNKNOWN"
    if principal.kind == "role" and principal.role_arn:
        role_id = "AROA" + hashlib.sha256(principal.role_arn.encode()).hexdigest()[:17].upper()
        return f"AWS:{role_id}:{principal.arn.rsplit('/', 1)[-1]}"
    return "AWS:AIDA" + hashlib.sha256(principal.arn.encode()).hexdigest()[:17].upper()


class AccessDeniedError(Exception):
    """A refused request made in-process (a poller, a state machine's task, a schedule, a delivery)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.message())
        self.decision = decision


class Enforcement:
    """The process's one enforcer (moto's backends are the process's too): credentials, policies, decisions."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.enabled = False
        self._credentials: dict[str, Credential] = {}
        self._policies: dict[str, Policy] = {}
        self._by_identity: dict[int, tuple[Any, Policy]] = {}
        self._lock = threading.Lock()
        self.refusals: deque[Decision] = deque(maxlen=200)  # the latest refused requests, for tests and `make up`
        self.undelivered: deque[str] = deque(maxlen=200)  # deliveries of AWS services their policies refused
        self.admin = Credential(
            ADMIN_KEY,
            ADMIN_SECRET,
            None,
            Principal(f"arn:aws:iam::{account}:user/local-administrator", account, "admin"),
        )
        self._credentials[ADMIN_KEY] = self.admin

    # ------------------------------------------------------------------ principals

    def assume(
        self, role_arn: str, service: str, session_name: str, *, context: dict[str, str] | None = None
    ) -> Credential:
        """What an AWS service does to act as a role: sts:AssumeRole, allowed only by the role's trust policy for
        that service principal with the context the service sends. Returns the session's credentials."""
        role = self._role(role_arn)
        trust = compile_policy(role.assume_role_policy_document, f"{role.name} trust policy")
        request = Request(
            Principal(service, self.account, "service", service=service), "sts:AssumeRole", role_arn, context or {}
        )
        decision = evaluate(request, resource_policy=trust)
        if not decision.allowed:
            raise AccessDeniedError(decision)
        key = "ASIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        credential = Credential(
            key,
            secrets.token_urlsafe(30),
            secrets.token_urlsafe(48),
            Principal(
                f"arn:aws:sts::{self.account}:assumed-role/{role.name}/{session_name}",
                self.account,
                "role",
                role_arn=role.arn,
            ),
        )
        with self._lock:
            self._credentials[key] = credential
        return credential

    def credential(self, access_key: str) -> Credential | None:
        return self._credentials.get(access_key)

    # ------------------------------------------------------------------ policies (read from moto's backends)

    def _compiled(self, name: str, document: Any) -> Policy:
        """Compiled once per document: text by its value, a dict (moto keeps role, topic and key policies as dicts,
        replaced whole when they change) by its identity."""
        if isinstance(document, str):
            policy = self._policies.get(document)
            if policy is None:
                policy = self._policies[document] = compile_policy(document, name)
            return policy
        cached = self._by_identity.get(id(document))
        if cached is None or cached[0] is not document:
            cached = self._by_identity[id(document)] = (document, compile_policy(document, name))
        return cached[1]

    def _role(self, role_arn: str) -> Any:
        from moto.iam.models import iam_backends

        return iam_backends[self.account]["aws"].get_role_by_arn(role_arn)

    def identity_policies(self, principal: Principal) -> list[Policy]:
        if principal.kind == "admin":
            return [ADMINISTRATOR]
        if principal.kind != "role" or principal.role_arn is None:
            return []
        role = self._role(principal.role_arn)
        found = [self._compiled(f"{role.name}/{name}", doc) for name, doc in role.policies.items()]
        for arn, managed in role.managed_policies.items():
            document = getattr(managed, "document", None)
            if document is None:  # a moto ManagedPolicy keeps its versions
                document = next(v.document for v in managed.versions if v.is_default)
            found.append(self._compiled(arn, document))
        return found

    def resource_policy(self, arn: str, region: str) -> Policy | None:
        document = resource_policy_document(self.account, arn, region)
        return self._compiled(arn, document) if document else None

    def key_policy(self, key_arn: str) -> Policy:
        from moto.kms.models import kms_backends

        region = key_arn.split(":")[3]
        key = kms_backends[self.account][region].keys[key_arn.rsplit("/", 1)[-1]]
        return self._compiled(key_arn, key.policy)

    # ------------------------------------------------------------------ decisions

    def decide(self, principal: Principal, need: Need, region: str) -> Decision:
        context = {**base_context(principal, region), **need.context}
        request = Request(principal, need.action, need.resource, context)
        identity = self.identity_policies(principal)
        if need.action.startswith("kms:") and need.resource.startswith("arn:aws:kms:"):
            return evaluate(request, identity, key_policy=self.key_policy(need.resource))
        return evaluate(request, identity, self.resource_policy(need.resource, region))

    def check(self, principal: Principal, needs: Iterable[Need], region: str) -> tuple[Decision, Need] | None:
        """The first refused need, or None when every one is allowed."""
        for need in needs:
            decision = self.decide(principal, need, region)
            if not decision.allowed:
                self.refusals.append(decision)
                log.warning("IAM refused: %s", unmapped_hint(decision, need))
                return decision, need
        return None

    def require(self, principal: Principal, needs: Iterable[Need], region: str) -> None:
        refused = self.check(principal, needs, region)
        if refused is not None:
            raise AccessDeniedError(refused[0])

    def delivery(self, service: str, needs: Sequence[Need], region: str, *, source_arn: str, what: str) -> bool:
        """May this AWS service deliver (its needs evaluated against resource and key policies only, with the
        aws:SourceArn and aws:SourceAccount it sends)? A refusal is recorded and the delivery dropped."""
        if not self.enabled:
            return True
        principal = Principal(service, self.account, "service", service=service)
        context = {"aws:SourceArn": source_arn, "aws:SourceAccount": self.account}
        refused = self.check(principal, [Need(n.action, n.resource, {**n.context, **context}) for n in needs], region)
        if refused is None:
            return True
        self.undelivered.append(f"{what}: {refused[0].message()}")
        return False

    # ------------------------------------------------------------------ the moto server's requests

    def screen(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """None to let moto answer; else the (status, headers, body) AWS would answer instead."""
        CALLER.principal = None  # this thread served another request before: not its caller
        if not self.enabled:
            return None
        request = http_request(environ)
        if request.path.startswith("/moto-api") or request.path.endswith("/.well-known/jwks.json"):
            return None
        try:
            signed = sigv4.signed_by(request)
        except sigv4.SignatureError as exc:
            return error(service_of(request), request, exc.code, str(exc), exc.status)
        if signed is None:
            return self._unsigned(request)
        credential = self.credential(signed.access_key)
        if credential is None:
            code = "InvalidAccessKeyId" if signed.service == "s3" else "UnrecognizedClientException"
            return error(signed.service, request, code, "The security token included in the request is invalid.", 403)
        try:
            sigv4.verify(request, signed, credential.secret_key, credential.session_token)
        except sigv4.SignatureError as exc:
            return error(signed.service, request, exc.code, str(exc), exc.status)
        CALLER.principal = credential.principal
        is_admin = credential.principal.kind == "admin"
        if is_admin and signed.service != "s3":
            return None  # allowed everything; S3 still checks the credential's Region against the bucket's
        operation = operations.parse(signed.service, request)
        if signed.service == "s3" and operation.bucket and operation.name != "CreateBucket":
            wrong = wrong_region(self.account, operation.bucket, signed)
            if wrong is not None:
                return wrong
        if is_admin or (signed.service, operation.name) in operations.ALWAYS_ALLOWED:
            return None
        if (signed.service, operation.name) in operations.UNAUTHENTICATED:
            return None
        needs = operations.needs(
            operation, request, region=signed.region, account=self.account, resources=Moto(self.account, signed.region)
        )
        refused = self.check(credential.principal, needs, signed.region)
        if refused is not None:
            decision, need = refused
            return refusal(signed.service, request, decision, need)
        if signed.service == "s3" and operation.name in ("GetObject", "HeadObject") and operation.key:
            return self._missing_object(credential.principal, operation, request, signed.region)
        return None

    def _unsigned(self, request: HttpRequest) -> tuple[int, list[tuple[str, str]], bytes] | None:
        target = request.headers.get("x-amz-target", "")
        if (
            target.startswith("AWSCognitoIdentityProviderService.")
            and ("cognito-idp", target.rsplit(".", 1)[-1]) in operations.UNAUTHENTICATED
        ):
            return None
        if request.method == "POST" and request.headers.get("content-type", "").startswith("multipart/form-data"):
            return None  # a browser upload: its signed policy is checked where S3 reads the form (`check_post`)
        service = service_of(request)
        return error(
            service,
            request,
            "AccessDenied" if service == "s3" else "MissingAuthenticationTokenException",
            "Anonymous access is not allowed: the request carries no signature.",
            403,
        )

    def _missing_object(
        self, principal: Principal, operation: operations.Operation, request: HttpRequest, region: str
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """S3 answers a read of a missing key with 404 only to a caller who may list the bucket, else with 403
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions")."""
        if object_exists(self.account, operation.bucket or "", operation.key or "", operation.params.get("versionId")):
            return None
        listing = Need("s3:ListBucket", f"arn:aws:s3:::{operation.bucket}", {"s3:signatureversion": "AWS4-HMAC-SHA256"})
        decision = self.decide(principal, listing, region)
        if decision.allowed:
            return None
        self.refusals.append(decision)
        refused = Decision(False, Request(principal, "s3:ListBucket", listing.resource), decision.reason)
        return refusal("s3", request, refused, listing)

    def check_post(self, bucket: str, fields: dict[str, str]) -> tuple[int, str, str] | None:
        """A browser's presigned POST (form fields, lower-case names): a SigV4 policy signature by known
        credentials, for the bucket's Region, and s3:PutObject (with the bucket key's kms:GenerateDataKey) on the
        key for the signer. None when S3 would accept it; else (status, code, message)."""
        if not self.enabled:
            return None
        try:
            signed = sigv4.post_signed_by(fields)
            credential = self.credential(signed.access_key)
            if credential is None:
                return 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
            sigv4.verify_post(fields, signed, credential.secret_key, credential.session_token)
        except sigv4.SignatureError as exc:
            return exc.status, exc.code, str(exc)
        CALLER.principal = credential.principal
        region = bucket_region(self.account, bucket)
        if region and region != signed.region:
            return (
                400,
                "AuthorizationQueryParametersError",
                (
                    f"Error parsing the X-Amz-Credential parameter; the region '{signed.region}' is wrong; "
                    f"expecting '{region}'"
                ),
            )
        if credential.principal.kind == "admin":
            return None
        key = fields.get("key", "")
        request = HttpRequest("POST", "", f"/{bucket}", "", {"content-type": "multipart/form-data"}, b"")
        operation = operations.Operation("s3", "PostObject", {}, bucket, key)
        needs = operations.needs(
            operation, request, region=signed.region, account=self.account, resources=Moto(self.account, signed.region)
        )
        refused = self.check(credential.principal, needs, signed.region)
        if refused is not None:
            return 403, "AccessDenied", refused[0].message()
        return None


def base_context(principal: Principal, region: str) -> dict[str, str]:
    """Global condition keys every request carries (https://docs.aws.amazon.com/IAM/latest/UserGuide/
    reference_policies_condition-keys.html). aws:SecureTransport is true: the local endpoint is plain HTTP on
    127.0.0.1, standing in for AWS's HTTPS endpoints, which the SDKs always use."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    context = {
        "aws:SecureTransport": "true",
        "aws:RequestedRegion": region,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:PrincipalAccount": principal.account,
    }
    if principal.kind != "service":
        context["aws:PrincipalArn"] = principal.role_arn or principal.arn
        context["aws:PrincipalType"] = "AssumedRole" if principal.kind == "role" else "User"
    else:
        context["aws:PrincipalServiceName"] = principal.service or ""
    return context


# ---------------------------------------------------------------------------------------------- installation

ENFORCEMENT = Enforcement("123456789012")
_installed = False


def install() -> Enforcement:
    """Put the enforcer in front of every moto server of this process, and on the deliveries moto makes."""
    global _installed
    if _installed:
        return ENFORCEMENT
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original: Callable[..., Any] = DomainDispatcherApplication.__call__

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        answer = ENFORCEMENT.screen(environ)
        if answer is None:  # allowed: a Lambda Invoke of a stack's function runs here, the rest is moto's
            from local_aws import lambda_api

            answer = lambda_api.answer(environ)
        if answer is None:
            return original(self, environ, start_response)
        status, headers, body = answer
        start_response(f"{status} {REASONS.get(status, 'Error')}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]
    from local_aws.iam import deliveries

    deliveries.install(ENFORCEMENT)
    _installed = True
    return ENFORCEMENT
