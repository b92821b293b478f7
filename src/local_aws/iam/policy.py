"""IAM policy evaluation as AWS documents it, for the local stack (pure: no moto, no boto3, no network).

A request is a principal asking for one action on one resource with a request context. It is allowed when no
applicable statement denies it and a statement allows it: an identity-based policy of the principal, or a
resource-based policy naming the principal. Each rule below cites the page it comes from:

- Evaluation within one account (explicit deny wins; a resource-based policy that names the principal is enough; a
  statement naming the account's root only delegates to the account's identity-based policies):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts
- A KMS key's policy must allow the request itself, or delegate to IAM through the account's root; IAM policies alone
  never give access to a key: https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html and
  https://docs.aws.amazon.com/kms/latest/developerguide/determining-access-key-policy.html
- Action (case-insensitive, wildcards): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
- Resource (ARN segments, wildcards do not cross ':' before the resource segment, policy variables):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html (only in Version 2012-10-17)
- Condition operators, ...IfExists, Null, negated operators true when the key is absent, set operators:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
- Condition key names are case-insensitive, values case-sensitive (unless ...IgnoreCase):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

ContextValue = str | list[str]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who asks: a role session (a function, a state machine, the scheduler), the account's administrator (the
    credentials that deploy and test), or an AWS service delivering on its own behalf (S3, SNS, CloudWatch)."""

    arn: str
    account: str
    kind: str  # "role" (an assumed-role session) | "admin" | "service"
    role_arn: str | None = None  # the role a session belongs to
    service: str | None = None  # "s3.amazonaws.com" for kind == "service"

    @property
    def name(self) -> str:
        return self.service or self.arn


@dataclass(frozen=True, slots=True)
class Request:
    principal: Principal
    action: str  # "s3:GetObject"
    resource: str  # an ARN, or "*" for actions without resource-level permissions
    context: Mapping[str, ContextValue] = field(default_factory=dict)  # condition keys -> values


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    request: Request
    reason: str  # AWS's wording: "because no identity-based policy allows the s3:GetObject action"

    def message(self) -> str:
        """The sentence AWS puts in an AccessDenied error (the principal, action, resource and why)."""
        return (
            f"User: {self.request.principal.name} is not authorized to perform: {self.request.action} "
            f"on resource: {self.request.resource} {self.reason}"
        )


# ---------------------------------------------------------------------------------------------- compiled policies


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str
    allow: bool
    actions: tuple[re.Pattern[str], ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    principals: Mapping[str, tuple[str, ...]] | None  # resource policies: {"AWS": (...), "Service": (...)} or {"*": ()}
    not_principal: bool
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]  # (operator, lower-case key, values)
    variables: bool  # Version 2012-10-17: ${aws:...} in Resource and condition values are substituted


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]


def compile_policy(document: Mapping[str, Any] | str, name: str = "") -> Policy:
    """A policy document (dict or JSON text) compiled once: patterns as regular expressions."""
    import json

    doc = json.loads(document) if isinstance(document, str) else document
    raw = doc.get("Statement", [])
    variables = str(doc.get("Version", "2008-10-17")) == "2012-10-17"
    statements = [_statement(s, n, variables) for n, s in enumerate([raw] if isinstance(raw, dict) else raw)]
    return Policy(name, tuple(statements))


def _listed(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in (value if isinstance(value, list) else [value]))


def _statement(raw: Mapping[str, Any], n: int, variables: bool) -> Statement:
    not_action = "NotAction" in raw
    not_resource = "NotResource" in raw
    not_principal = "NotPrincipal" in raw
    principal = raw.get("NotPrincipal" if not_principal else "Principal")
    principals: dict[str, tuple[str, ...]] | None = None
    if principal is not None:
        principals = {"*": ()} if principal == "*" else {k: _listed(v) for k, v in dict(principal).items()}
    conditions = tuple(
        (operator, key.lower(), _listed(values))
        for operator, block in (raw.get("Condition") or {}).items()
        for key, values in block.items()
    )
    return Statement(
        sid=str(raw.get("Sid", n)),
        allow=raw.get("Effect") == "Allow",
        actions=tuple(_glob(a, ignore_case=True) for a in _listed(raw.get("NotAction" if not_action else "Action"))),
        not_action=not_action,
        # a role's trust policy names no Resource: it is about the role it belongs to
        resources=_listed(raw.get("NotResource" if not_resource else "Resource", "*")),
        not_resource=not_resource,
        principals=principals,
        not_principal=not_principal,
        conditions=conditions,
        variables=variables,
    )


@lru_cache(maxsize=4096)
def _glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's wildcards: * any run of characters, ? one character; everything else literal."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


# ---------------------------------------------------------------------------------------------- matching


def _action_matches(statement: Statement, action: str) -> bool:
    hit = any(p.match(action) for p in statement.actions)
    return not hit if statement.not_action else hit


def arn_matches(pattern: str, arn: str) -> bool:
    """Segment by segment: partition, service, region and account each match on their own (a wildcard there does
    not cross ':'); in the resource segment wildcards cross '/' and ':'."""
    if pattern == "*":
        return True
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return bool(_glob(pattern).match(arn))
    return all(_glob(p).match(a) for p, a in zip(pattern_parts, arn_parts, strict=True))


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


class _Unset(Exception):
    """A policy variable with no value in the request context: the element does not match."""


def _substitute(text: str, context: Mapping[str, ContextValue]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _ESCAPES:
            return _ESCAPES[name]
        found = context.get(name.lower())
        if found is None or isinstance(found, list):
            raise _Unset(name)
        return found

    return _VARIABLE.sub(value, text) if "${" in text else text


def _resource_matches(statement: Statement, resource: str, context: Mapping[str, ContextValue]) -> bool:
    hit = False
    for pattern in statement.resources:
        try:
            pattern = _substitute(pattern, context) if statement.variables else pattern
        except _Unset:
            continue
        if arn_matches(pattern, resource):
            hit = True
            break
    return not hit if statement.not_resource else hit


def _principal_match(statement: Statement, principal: Principal) -> str | None:
    """'direct' when the statement names this principal (or everyone), 'account' when it names only the account
    (its root or id: a delegation to the account's identity-based policies), None when it does not apply."""
    if statement.principals is None:
        return None
    match = _names(statement.principals, principal)
    if statement.not_principal:
        return None if match else "direct"
    return match


def _names(principals: Mapping[str, tuple[str, ...]], principal: Principal) -> str | None:
    if "*" in principals:
        return "direct"
    if principal.kind == "service":
        return "direct" if principal.service in principals.get("Service", ()) else None
    found = None
    for value in principals.get("AWS", ()):
        if value == "*" or value in (principal.arn, principal.role_arn):
            return "direct"
        if value in (principal.account, f"arn:aws:iam::{principal.account}:root") or (
            value.startswith("arn:") and value.endswith(f":iam::{principal.account}:root")
        ):
            found = "account"
    return found


# ---------------------------------------------------------------------------------------------- conditions

_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "ArnNotEquals",
    "ArnNotLike",
    "NotIpAddress",
}


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> float:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


_COMPARISONS = {
    "Equals": lambda a, e: a == e,
    "LessThan": lambda a, e: a < e,
    "LessThanEquals": lambda a, e: a <= e,
    "GreaterThan": lambda a, e: a > e,
    "GreaterThanEquals": lambda a, e: a >= e,
}


def _positive(operator: str, actual: str, expected: str) -> bool:
    """The operator without its negation: does this request value match this policy value?"""
    base = operator.replace("Not", "", 1) if operator in _NEGATED else operator
    if base == "StringEquals":
        return actual == expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if base == "StringLike":
        return bool(_glob(expected).match(actual))
    if base in ("ArnEquals", "ArnLike"):  # both take wildcards per segment (condition operators page)
        return arn_matches(expected, actual)
    if base.startswith(("Numeric", "Date")):
        kind, comparison = ("Numeric", base[7:]) if base.startswith("Numeric") else ("Date", base[4:])
        if comparison not in _COMPARISONS:
            raise UnknownOperatorError(operator)
        parse = _number if kind == "Numeric" else _date
        return _COMPARISONS[comparison](parse(actual), parse(expected))
    if base == "Bool":
        return actual.lower() == expected.lower()
    if base == "BinaryEquals":
        return base64.b64decode(actual) == base64.b64decode(expected)
    if base == "IpAddress":
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    raise UnknownOperatorError(operator)


class UnknownOperatorError(ValueError):
    """A condition operator this evaluator does not know: refused rather than guessed."""


def _one_value(operator: str, actual: str, expected: Sequence[str]) -> bool:
    try:
        hit = any(_positive(operator, actual, e) for e in expected)
    except (ValueError, KeyError) as exc:
        if isinstance(exc, UnknownOperatorError):
            raise
        hit = False  # a value of the wrong type does not match (a number operator on text)
    return not hit if operator in _NEGATED else hit


def condition_holds(operator: str, key: str, expected: Sequence[str], context: Mapping[str, ContextValue]) -> bool:
    """One operator on one key (the values of one key are ORed, the keys and operators of a block ANDed)."""
    set_operator = None
    if operator.startswith(("ForAllValues:", "ForAnyValue:")):
        set_operator, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    actual = context.get(key)
    if operator == "Null":
        return (actual is None or actual == []) == (expected[0].lower() == "true")
    if set_operator is not None:
        values = [] if actual is None else actual if isinstance(actual, list) else [actual]
        if set_operator == "ForAllValues":  # true for an empty or missing set
            return all(_one_value(operator, v, expected) for v in values)
        return any(_one_value(operator, v, expected) for v in values)  # ForAnyValue: false when missing
    if actual is None:
        return if_exists or operator in _NEGATED
    if isinstance(actual, list):  # a multivalued key with a single-valued operator: some value must match
        return any(_one_value(operator, v, expected) for v in actual)
    return _one_value(operator, actual, expected)


def _conditions_hold(statement: Statement, context: Mapping[str, ContextValue]) -> bool:
    for operator, key, values in statement.conditions:
        try:
            expected = [_substitute(v, context) for v in values] if statement.variables else list(values)
        except _Unset:
            return False
        if not condition_holds(operator, key, expected, context):
            return False
    return True


def _applies(statement: Statement, request: Request, context: Mapping[str, ContextValue]) -> bool:
    return (
        _action_matches(statement, request.action)
        and _resource_matches(statement, request.resource, context)
        and _conditions_hold(statement, context)
    )


# ---------------------------------------------------------------------------------------------- evaluation


def normalised(context: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    return {k.lower(): v for k, v in context.items()}


def evaluate(
    request: Request,
    identity: Iterable[Policy] = (),
    resource_policy: Policy | None = None,
    *,
    key_policy: Policy | None = None,
) -> Decision:
    """The decision for one request within one account.

    `identity`: the principal's identity-based policies (none for a service principal). `resource_policy`: the
    bucket, queue or topic policy of the resource, if any. `key_policy`: for KMS keys, whose policy must allow
    (directly, or by delegating to the account's identity-based policies).
    """
    context = normalised(request.context)
    identity = list(identity)
    resource_side = key_policy if key_policy is not None else resource_policy
    # 1. an explicit deny anywhere decides
    for policy, where in [(p, "an identity-based policy") for p in identity] + [
        (resource_side, "a resource-based policy")
    ]:
        if policy is None:
            continue
        for s in policy.statements:
            if s.allow:
                continue
            if where != "an identity-based policy" and _principal_match(s, request.principal) is None:
                continue
            if _applies(s, request, context):
                return Decision(False, request, f"with an explicit deny in {where}")
    # 2. the resource's policy names the principal (or delegates to the account)
    delegated = False
    if resource_side is not None:
        for s in resource_side.statements:
            if not s.allow:
                continue
            match = _principal_match(s, request.principal)
            if match is None or not _applies(s, request, context):
                continue
            if match == "direct":
                return Decision(True, request, "allowed by a resource-based policy")
            delegated = True
    # 3. the principal's own policies
    identity_allows = any(s.allow and _applies(s, request, context) for p in identity for s in p.statements)
    if key_policy is not None:
        if delegated and identity_allows:
            return Decision(True, request, "allowed by an identity-based policy the key policy delegates to")
        if identity_allows:
            return Decision(False, request, "because no key policy allows the action (IAM alone cannot)")
        return Decision(False, request, f"because no identity-based policy allows the {request.action} action")
    if identity_allows:
        return Decision(True, request, "allowed by an identity-based policy")
    if request.principal.kind == "service":
        return Decision(False, request, f"because no resource-based policy allows the {request.action} action")
    return Decision(False, request, f"because no identity-based policy allows the {request.action} action")


ADMINISTRATOR = compile_policy(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    "AdministratorAccess",
)
