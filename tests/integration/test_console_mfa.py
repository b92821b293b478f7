"""Two-factor sign-in to the console when the stack requires it (ConsoleMfa=ON): the first sign-in shows the key for
an authenticator app and takes its first code; every later one asks for the app's code. Codes are checked."""

import json

from tests.conftest import totp
from tests.integration.test_console import call

STACK_PARAMETERS = {"ConsoleMfa": "ON"}


def sign_in(console, body):
    status, _, answer = call(f"{console}/api/session", "POST", body)
    return status, json.loads(answer)


def test_required_two_factor_sign_in_is_set_up_at_the_first_sign_in_and_asked_for_after(stack):
    console = stack.outputs["ConsoleUrl"]
    user = stack.console_credentials
    assert (
        stack.client("cognito-idp").describe_user_pool(UserPoolId=stack.outputs["ConsoleUserPoolId"])["UserPool"][
            "MfaConfiguration"
        ]
        == "ON"
    )

    def answer(asked, code):
        body = {
            "username": user["username"],
            "challenge": asked["challenge"],
            "session": asked["session"],
            "code": code,
        }
        return sign_in(console, body)

    status, setup = sign_in(console, user)
    assert status == 200 and setup["challenge"] == "MFA_SETUP" and "accessToken" not in setup
    assert setup["otpauth"].startswith("otpauth://totp/Stock%20console:console-user?secret=")
    wrong = str((int(totp(setup["secret"])) + 1) % 1_000_000).zfill(6)
    status, refused = answer(setup, wrong)
    assert status == 401 and "not the one your authenticator app shows" in refused["detail"]
    status, tokens = answer(setup, totp(setup["secret"]))
    assert status == 200 and tokens["accessToken"]

    status, asked = sign_in(console, user)
    assert status == 200 and asked["challenge"] == "SOFTWARE_TOKEN_MFA" and "secret" not in asked
    assert answer(asked, "12ab56")[0] == 400
    status, tokens = answer(asked, totp(setup["secret"]))
    assert status == 200
    assert call(f"{console}/api/files", token=tokens["accessToken"])[0] == 200
    # turning it on per user is for OPTIONAL: here it is on for everyone already
    assert call(f"{console}/api/mfa", "POST", {"action": "start"}, token=tokens["accessToken"])[0] == 400
