"""Every IAM policy the template creates, linted with parliament (duo-labs): the roles' inline policies and trust
policies, the bucket, queue and topic policies and the KMS key policy, as CloudFormation resolves them (the template
translated by the SAM transform and deployed on the local stack, intrinsic functions resolved).

A finding fails `make lint` unless it is justified below, with the reason; a justification nothing matches any
more fails too, so the list never outlives the policy it excuses.

    python scripts/lint_policies.py            # findings and justifications; exit 1 on an unjustified one
"""

from __future__ import annotations

import json
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from typing import Any

# (policy name pattern, parliament issue, detail pattern) -> why the finding stands
JUSTIFIED: dict[tuple[str, str, str], str] = {
    (
        r"^KMS/DataKey key policy$",
        "RESOURCE_STAR",
        r"kms:",
    ): 'in a key policy "Resource": "*" is the key itself, the only resource a key policy can govern '
    "(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html)",
    (
        r"^Role/(Alert|History)FunctionRole ",
        "RESOURCE_MISMATCH",
        r"table/\*/stream/\*",
    ): "the stream's ARN is right: its label is a timestamp with colons (table/T/stream/2015-05-11T21:21:33.291, as "
    "DynamoDB documents it), which parliament's ARN matcher splits as segments",
}


def policies() -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, document) of every policy of the deployed template."""
    from moto.cloudformation.parsing import clean_json

    from local_aws.stack import LocalStack

    logging.getLogger("local_aws").setLevel(logging.ERROR)
    with warnings.catch_warnings(), LocalStack(stack_name="policy-lint", enforce_iam=False) as stack:
        warnings.simplefilter("ignore")
        resources = stack._resource_map()
        for lid, resource in stack.cfn_template["Resources"].items():
            props = resource.get("Properties", {})
            kind = resource["Type"]
            if kind == "AWS::IAM::Role":
                # (not its trust policy: parliament reads every policy as identity-based, and a trust policy has
                # no Resource; the local stack evaluates the trust policies when each service assumes its role)
                resolved = clean_json(props, resources)
                for policy in resolved.get("Policies", []):
                    yield f"Role/{lid} {policy['PolicyName']}", policy["PolicyDocument"]
            elif kind in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
                yield f"{kind.split('::')[1]}/{lid}", clean_json(props["PolicyDocument"], resources)
            elif kind == "AWS::KMS::Key":
                yield f"KMS/{lid} key policy", clean_json(props["KeyPolicy"], resources)


def main() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources
        from parliament import analyze_policy_string

    used: set[tuple[str, str, str]] = set()
    unjustified = 0
    count = 0
    for name, document in policies():
        count += 1
        for finding in analyze_policy_string(json.dumps(document), ignore_private_auditors=True).findings:
            detail = json.dumps(finding.detail, default=str)
            reason = next(
                (
                    (key, why)
                    for key, why in JUSTIFIED.items()
                    if re.search(key[0], name) and key[1] == finding.issue and re.search(key[2], detail)
                ),
                None,
            )
            if reason is None:
                unjustified += 1
                print(f"FINDING   {name}: {finding.issue} {detail}")
            else:
                used.add(reason[0])
                print(f"justified {name}: {finding.issue} {detail}\n          because {reason[1]}")
    stale = set(JUSTIFIED) - used
    for key in sorted(stale):
        print(f"STALE     justification matches no finding any more: {key}")
    print(f"parliament: {count} policies, {unjustified} unjustified finding(s), {len(stale)} stale justification(s)")
    return 1 if unjustified or stale else 0


if __name__ == "__main__":
    sys.exit(main())
