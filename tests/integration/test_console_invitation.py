"""The console's first user, created by the stack: the invitation Cognito's custom message trigger writes for it,
and the creation order CloudFormation's graph allows (the user before the trigger's permission or the console's
address would roll a first deploy back, or invite without the address)."""

import pytest

from local_aws.stack import LocalStack
from tests.integration.test_iam_bites import template_with

STACK_PARAMETERS = {"ConsoleAdminEmail": "first.user@example.com"}


def test_the_first_user_is_invited_with_the_consoles_address(stack):
    # Given a stack deployed with the console's first user (ConsoleAdminEmail)
    # Then Cognito's invitation, written by the trigger while CloudFormation created the user, names the console
    [invitation] = stack.invitations
    assert invitation["to"] == "first.user@example.com"
    assert invitation["subject"] == "Your Stock Update Pipeline console account"
    api = stack.client("ssm").get_parameter(Name=f"/{stack.stack_name}/console-url")["Parameter"]["Value"]
    assert api.startswith("https://") and api.endswith(".amazonaws.com/console")  # the address in AWS
    assert f"Sign in at {api}\n" in invitation["message"]
    assert "ask your administrator for its address" not in invitation["message"]
    assert "first.user@example.com" in invitation["message"]  # the username, as Cognito fills it in


def stack_where_the_user_depends_on(tmp_path, name, depends_on):
    """The stack of a copy of template.yaml in which the console's first user waits for `depends_on` only."""

    def change(template):
        template["Resources"]["ConsoleAdminUser"]["DependsOn"] = depends_on

    return LocalStack(
        stack_name=name,
        template_path=template_with(tmp_path, change),
        parameters={"GlueDatabaseName": name.replace("-", "_"), **STACK_PARAMETERS},
    )


def test_a_first_user_that_does_not_wait_for_the_triggers_permission_fails_the_deploy(tmp_path):
    # Given the template with nothing making CloudFormation create the user after the trigger's permission
    stack = stack_where_the_user_depends_on(tmp_path, "invite-order", [])

    # When it is deployed, then the user's creation fails as Cognito's AdminCreateUser would
    try:
        with pytest.raises(RuntimeError, match=r"ConsoleAdminUser CREATE_FAILED: .*ConsoleInvitePermission"):
            stack.start()
    finally:
        stack.stop()


def test_a_first_user_that_does_not_wait_for_the_consoles_address_is_invited_without_it(tmp_path):
    # Given the user made to wait for the trigger's permission and log group, but not for the address parameter
    waits_for = ["ConsoleInvitePermission", "ConsoleInviteFunctionLogGroup"]
    stack = stack_where_the_user_depends_on(tmp_path, "invite-early", waits_for)

    # When it is deployed: CloudFormation may create the user as soon as the pool and those two exist
    try:
        stack.start()
        [invitation] = stack.invitations
    finally:
        stack.stop()

    # Then the one invitation the stack sends cannot say where the console is
    assert "Sign in to the stock console (ask your administrator for its address)" in invitation["message"]
