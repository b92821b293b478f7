"""Cognito custom message trigger: the console's invitation e-mail, with the console's address in it.

The user pool cannot name the console's URL in its invitation template: the URL is the HTTP API's, and the API's
JWT authorizer names the pool (a circular reference). The stack writes the URL to an SSM parameter; this function
reads it when Cognito asks for an AdminCreateUser message (a new user, or a resent invitation). It must never fail:
a trigger error fails the user's creation, so without the parameter the e-mail says to ask for the address.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters.aws import client_config, new_session
from stock_pipeline.adapters.ssm import Parameters
from stock_pipeline.domain.console import invitation
from stock_pipeline.observability import logger

INVITATIONS = {"CustomMessage_AdminCreateUser"}
TEMPORARY_PASSWORD_DAYS = 7  # the pool's TemporaryPasswordValidityDays


@cache
def _parameters() -> Parameters:
    return Parameters(new_session().client("ssm", config=client_config()))


def handle(event: dict[str, Any], parameters: Parameters, environment: dict[str, str]) -> dict[str, Any]:
    if event.get("triggerSource") not in INVITATIONS:
        return event  # every other message (forgotten password, ...) stays Cognito's
    request = event.get("request") or {}
    url = parameters.value(environment.get("CONSOLE_URL_PARAMETER", ""))
    if url is None:
        logger.warning("console URL parameter unreadable: invitation without the address")
    subject, message = invitation(
        url,
        username=request.get("usernameParameter") or "{username}",
        code=request.get("codeParameter") or "{####}",
        mfa=environment.get("CONSOLE_MFA", "OFF"),
        days=TEMPORARY_PASSWORD_DAYS,
    )
    event.setdefault("response", {}).update({"emailSubject": subject, "emailMessage": message})
    return event


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, _parameters(), dict(os.environ))
