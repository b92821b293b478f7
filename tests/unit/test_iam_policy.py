"""The local stack's IAM evaluator against the rules AWS documents (each case names its page in policy.py)."""

import pytest

from local_aws.iam.policy import (
    Principal,
    Request,
    UnknownOperatorError,
    arn_matches,
    compile_policy,
    condition_holds,
    evaluate,
)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/reports"
SESSION = Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/reports/fn", ACCOUNT, "role", role_arn=ROLE)
S3 = Principal("s3.amazonaws.com", ACCOUNT, "service", service="s3.amazonaws.com")
TABLE = f"arn:aws:dynamodb:eu-central-1:{ACCOUNT}:table/stock"


def policy(*statements, version="2012-10-17"):
    return compile_policy({"Version": version, "Statement": list(statements)})


def allow(action, resource, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource, **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def ask(action, resource, principal=SESSION, **context):
    return Request(principal, action, resource, context)


# ------------------------------------------------------------------------------------------ identity-based policies


def test_nothing_allowed_is_an_implicit_deny_with_awss_sentence():
    decision = evaluate(ask("dynamodb:GetItem", TABLE), [policy(allow("dynamodb:Query", TABLE))])
    assert not decision.allowed
    assert decision.message() == (
        f"User: {SESSION.arn} is not authorized to perform: dynamodb:GetItem on resource: {TABLE} "
        "because no identity-based policy allows the dynamodb:GetItem action"
    )


def test_actions_match_case_insensitively_and_with_wildcards():
    granted = [policy(allow(["DynamoDB:query", "dynamodb:BatchGet*", "s3:?etObject"], "*"))]
    assert evaluate(ask("dynamodb:Query", TABLE), granted).allowed
    assert evaluate(ask("dynamodb:BatchGetItem", TABLE), granted).allowed
    assert evaluate(ask("s3:GetObject", "arn:aws:s3:::b/k"), granted).allowed
    assert not evaluate(ask("s3:GetObjectVersion", "arn:aws:s3:::b/k"), granted).allowed


def test_a_query_of_an_index_needs_the_index_arn():
    granted = [policy(allow("dynamodb:Query", TABLE))]
    assert evaluate(ask("dynamodb:Query", TABLE), granted).allowed
    assert not evaluate(ask("dynamodb:Query", f"{TABLE}/index/GSI1"), granted).allowed
    assert evaluate(
        ask("dynamodb:Query", f"{TABLE}/index/GSI1"), [policy(allow("dynamodb:Query", f"{TABLE}/index/*"))]
    ).allowed


def test_resource_wildcards_cross_slashes_in_the_resource_segment_only():
    assert arn_matches("arn:aws:s3:::bucket/curated/*", "arn:aws:s3:::bucket/curated/a/b/c.parquet")
    assert not arn_matches("arn:aws:s3:::bucket/curated/*", "arn:aws:s3:::bucket/raw/x")
    assert not arn_matches("arn:aws:s3:::bucket/curated/*", "arn:aws:s3:::bucket")
    assert arn_matches("arn:aws:sqs:*:123456789012:q", "arn:aws:sqs:eu-central-1:123456789012:q")
    assert not arn_matches("arn:aws:sqs:*:123456789012:q", "arn:aws:sqs:eu-central-1:210987654321:q")
    assert arn_matches("arn:aws:logs:r:1:log-group:g:*", "arn:aws:logs:r:1:log-group:g:log-stream:s")
    assert not arn_matches("arn:aws:s3:::bucket/Curated/*", "arn:aws:s3:::bucket/curated/x"), "ARNs are case-sensitive"


def test_an_explicit_deny_wins_over_any_allow():
    granted = [policy(allow("s3:*", "*")), policy(deny("s3:PutObject", "arn:aws:s3:::b/raw/*"))]
    decision = evaluate(ask("s3:PutObject", "arn:aws:s3:::b/raw/x"), granted)
    assert not decision.allowed and "explicit deny in an identity-based policy" in decision.reason
    assert evaluate(ask("s3:PutObject", "arn:aws:s3:::b/curated/x"), granted).allowed


def test_not_action_and_not_resource():
    granted = [policy({"Effect": "Allow", "NotAction": "s3:DeleteObject", "NotResource": "arn:aws:s3:::b/secret/*"})]
    assert evaluate(ask("s3:GetObject", "arn:aws:s3:::b/x"), granted).allowed
    assert not evaluate(ask("s3:DeleteObject", "arn:aws:s3:::b/x"), granted).allowed
    assert not evaluate(ask("s3:GetObject", "arn:aws:s3:::b/secret/x"), granted).allowed


def test_policy_variables_only_in_version_2012_10_17_and_an_unset_one_matches_nothing():
    resource = "arn:aws:s3:::b/home/${aws:PrincipalAccount}/*"
    new = policy(allow("s3:GetObject", resource))
    old = policy(allow("s3:GetObject", resource), version="2008-10-17")
    target = f"arn:aws:s3:::b/home/{ACCOUNT}/x"
    assert evaluate(ask("s3:GetObject", target, **{"aws:PrincipalAccount": ACCOUNT}), [new]).allowed
    assert not evaluate(ask("s3:GetObject", target, **{"aws:PrincipalAccount": ACCOUNT}), [old]).allowed
    assert not evaluate(ask("s3:GetObject", target), [new]).allowed


# ------------------------------------------------------------------------------------------ conditions


def test_s3_prefix_condition_on_list_bucket():
    granted = [
        policy(allow("s3:ListBucket", "arn:aws:s3:::b", Condition={"StringLike": {"s3:prefix": ["inventory_files/*"]}}))
    ]
    assert evaluate(ask("s3:ListBucket", "arn:aws:s3:::b", **{"s3:prefix": "inventory_files/2026/"}), granted).allowed
    assert not evaluate(ask("s3:ListBucket", "arn:aws:s3:::b", **{"s3:prefix": "curated/"}), granted).allowed
    # no prefix in the request (a whole-bucket listing, or the 404-or-403 check of a read): the key is absent
    assert not evaluate(ask("s3:ListBucket", "arn:aws:s3:::b"), granted).allowed


def test_leading_keys_hold_the_history_function_to_its_own_items():
    """The template's statement: BatchWriteItem only for partition keys CHG#... (ForAllValues: every key of the
    batch must match; a batch naming no key at all passes, as AWS documents for ForAllValues)."""
    only_changes = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CHG#*"]}}
    granted = [policy(allow("dynamodb:BatchWriteItem", TABLE, Condition=only_changes))]
    assert evaluate(
        ask("dynamodb:BatchWriteItem", TABLE, **{"dynamodb:LeadingKeys": ["CHG#w#1", "CHG#w#2"]}), granted
    ).allowed
    assert not evaluate(
        ask("dynamodb:BatchWriteItem", TABLE, **{"dynamodb:LeadingKeys": ["CHG#w#1", "WH#w"]}), granted
    ).allowed
    assert not evaluate(ask("dynamodb:BatchWriteItem", TABLE, **{"dynamodb:LeadingKeys": ["RET#1"]}), granted).allowed


@pytest.mark.parametrize(
    ("operator", "values", "context", "expected"),
    [
        ("StringEquals", ["a"], {"k": "a"}, True),
        ("StringEquals", ["a", "b"], {"k": "b"}, True),  # values of one key are ORed
        ("StringEquals", ["a"], {}, False),  # a missing key does not match
        ("StringEqualsIfExists", ["a"], {}, True),
        ("StringNotEquals", ["a", "b"], {"k": "b"}, False),  # negated: matches none of the values
        ("StringNotEquals", ["a", "b"], {"k": "c"}, True),
        ("StringNotEquals", ["a"], {}, True),  # negated operators are true for a missing key
        ("StringEqualsIgnoreCase", ["ABC"], {"k": "abc"}, True),
        ("StringEquals", ["ABC"], {"k": "abc"}, False),
        ("StringLike", ["a*c?"], {"k": "abbbcd"}, True),
        ("StringNotLike", ["a*"], {"k": "ba"}, True),
        ("NumericLessThan", ["10"], {"k": "9"}, True),
        ("NumericLessThan", ["10"], {"k": "x"}, False),
        ("DateGreaterThan", ["2026-01-01T00:00:00Z"], {"k": "2026-06-01T00:00:00Z"}, True),
        ("Bool", ["false"], {"k": "true"}, False),
        ("IpAddress", ["10.0.0.0/8"], {"k": "10.1.2.3"}, True),
        ("NotIpAddress", ["10.0.0.0/8"], {"k": "10.1.2.3"}, False),
        (
            "ArnLike",
            ["arn:aws:sns:*:123456789012:stack-*"],
            {"k": "arn:aws:sns:eu-central-1:123456789012:stack-T"},
            True,
        ),
        ("ArnEquals", ["arn:aws:s3:::b"], {"k": "arn:aws:s3:::c"}, False),
        ("ArnNotLike", ["arn:aws:s3:::b*"], {}, True),
        ("Null", ["true"], {}, True),
        ("Null", ["false"], {}, False),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "b"]}, True),
        ("ForAllValues:StringEquals", ["a"], {"k": ["a", "c"]}, False),
        ("ForAllValues:StringEquals", ["a"], {}, True),  # an empty set: true
        ("ForAnyValue:StringEquals", ["a"], {"k": ["c", "a"]}, True),
        ("ForAnyValue:StringEquals", ["a"], {}, False),
    ],
)
def test_condition_operators(operator, values, context, expected):
    assert condition_holds(operator, "k", values, context) is expected


def test_an_unknown_operator_is_refused_not_guessed():
    with pytest.raises(UnknownOperatorError):
        condition_holds("StringAlmostEquals", "k", ["a"], {"k": "a"})


def test_condition_keys_are_case_insensitive_values_are_not():
    granted = [policy(allow("s3:GetObject", "*", Condition={"StringEquals": {"AWS:SourceAccount": ACCOUNT}}))]
    assert evaluate(ask("s3:GetObject", "arn:aws:s3:::b/k", **{"aws:sourceaccount": ACCOUNT}), granted).allowed


# ------------------------------------------------------------------------------------------ resource-based policies

QUEUE = f"arn:aws:sqs:eu-central-1:{ACCOUNT}:ingest"
BUCKET = "arn:aws:s3:::data-bucket"
QUEUE_POLICY = policy(
    {
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": QUEUE,
        "Condition": {"ArnEquals": {"aws:SourceArn": BUCKET}, "StringEquals": {"aws:SourceAccount": ACCOUNT}},
    },
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": QUEUE,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    },
)


def test_a_service_delivers_only_with_the_source_the_queue_policy_names():
    context = {"aws:SourceArn": BUCKET, "aws:SourceAccount": ACCOUNT, "aws:SecureTransport": "true"}
    assert evaluate(ask("sqs:SendMessage", QUEUE, S3, **context), resource_policy=QUEUE_POLICY).allowed
    other = {**context, "aws:SourceArn": "arn:aws:s3:::someone-elses"}
    decision = evaluate(ask("sqs:SendMessage", QUEUE, S3, **other), resource_policy=QUEUE_POLICY)
    assert not decision.allowed and "no resource-based policy allows" in decision.reason


def test_the_tls_only_statement_denies_plain_http_and_nothing_else():
    granted = [policy(allow("sqs:SendMessage", QUEUE))]
    assert evaluate(ask("sqs:SendMessage", QUEUE, **{"aws:SecureTransport": "true"}), granted, QUEUE_POLICY).allowed
    decision = evaluate(ask("sqs:SendMessage", QUEUE, **{"aws:SecureTransport": "false"}), granted, QUEUE_POLICY)
    assert not decision.allowed and "explicit deny in a resource-based policy" in decision.reason


def test_a_resource_policy_naming_the_role_is_enough_in_the_same_account():
    named = policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sqs:SendMessage", "Resource": QUEUE})
    assert evaluate(ask("sqs:SendMessage", QUEUE), [], named).allowed


def test_a_resource_policy_naming_the_account_root_only_delegates_to_iam():
    root = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sqs:*", "Resource": QUEUE}
    )
    assert not evaluate(ask("sqs:SendMessage", QUEUE), [], root).allowed
    assert evaluate(ask("sqs:SendMessage", QUEUE), [policy(allow("sqs:SendMessage", QUEUE))], root).allowed


# ------------------------------------------------------------------------------------------ KMS key policies

KEY = f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/1234"
KEY_POLICY = policy(
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
    {
        "Effect": "Allow",
        "Principal": {"Service": ["s3.amazonaws.com", "sns.amazonaws.com"]},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    },
)


def test_a_role_uses_a_key_when_the_key_policy_delegates_and_its_own_policy_allows():
    assert evaluate(ask("kms:Decrypt", KEY), [policy(allow("kms:Decrypt", KEY))], key_policy=KEY_POLICY).allowed
    assert not evaluate(
        ask("kms:GenerateDataKey", KEY), [policy(allow("kms:Decrypt", KEY))], key_policy=KEY_POLICY
    ).allowed


def test_iam_alone_never_opens_a_key():
    only_admins = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    decision = evaluate(ask("kms:Decrypt", KEY), [policy(allow("kms:*", "*"))], key_policy=only_admins)
    assert not decision.allowed and "no key policy allows" in decision.reason


def test_a_service_uses_the_key_only_as_the_key_policy_says():
    assert evaluate(
        ask("kms:GenerateDataKey", KEY, S3, **{"aws:SourceAccount": ACCOUNT}), key_policy=KEY_POLICY
    ).allowed
    cloudwatch = Principal("cloudwatch.amazonaws.com", ACCOUNT, "service", service="cloudwatch.amazonaws.com")
    assert not evaluate(
        ask("kms:Decrypt", KEY, cloudwatch, **{"aws:SourceAccount": ACCOUNT}), key_policy=KEY_POLICY
    ).allowed


# ------------------------------------------------------------------------------------------ trust policies


def test_a_trust_policy_has_no_resource_and_names_the_service():
    trust = compile_policy(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole", '
        '"Condition": {"StringEquals": {"sts:ExternalId": "123456789012"}}}]}'
    )
    firehose = Principal("firehose.amazonaws.com", ACCOUNT, "service", service="firehose.amazonaws.com")
    assert evaluate(ask("sts:AssumeRole", ROLE, firehose, **{"sts:ExternalId": ACCOUNT}), resource_policy=trust).allowed
    assert not evaluate(ask("sts:AssumeRole", ROLE, firehose), resource_policy=trust).allowed
    assert not evaluate(ask("sts:AssumeRole", ROLE, S3, **{"sts:ExternalId": ACCOUNT}), resource_policy=trust).allowed
