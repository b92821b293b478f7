"""Cognito sign-in for the web console: the user's name and password for the pool's tokens (USER_PASSWORD_AUTH).

The console function asks on the user's behalf, so the browser talks to its own API only (a strict
Content-Security-Policy) and the app client needs no secret. InitiateAuth and RespondToAuthChallenge with a public
client are not IAM-authorised calls: the function's role holds no Cognito permission.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from stock_pipeline.domain.errors import PipelineError


class SignInError(PipelineError):
    """Why a sign-in did not succeed, in words for the person signing in."""


class ConsoleAuth:
    def __init__(self, cognito_client: Any, client_id: str) -> None:
        self._idp = cognito_client
        self.client_id = client_id

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        """Tokens, or the NEW_PASSWORD_REQUIRED challenge of a user signing in with a temporary password."""
        try:
            response = self._idp.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as exc:
            raise _sign_in_error(exc) from exc
        return _answer(response)

    def new_password(self, username: str, password: str, session: str) -> dict[str, Any]:
        try:
            response = self._idp.respond_to_auth_challenge(
                ClientId=self.client_id,
                ChallengeName="NEW_PASSWORD_REQUIRED",
                Session=session,
                ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": password},
            )
        except ClientError as exc:
            raise _sign_in_error(exc) from exc
        return _answer(response)


def _answer(response: dict[str, Any]) -> dict[str, Any]:
    if response.get("ChallengeName"):
        if response["ChallengeName"] != "NEW_PASSWORD_REQUIRED":
            raise SignInError(f"this console cannot answer Cognito's {response['ChallengeName']} challenge")
        return {"challenge": "NEW_PASSWORD_REQUIRED", "session": response.get("Session")}
    result = response["AuthenticationResult"]
    return {"accessToken": result["AccessToken"], "expiresIn": int(result.get("ExpiresIn", 3600))}


def _sign_in_error(exc: ClientError) -> SignInError:
    code = exc.response.get("Error", {}).get("Code", "")
    if code in {"NotAuthorizedException", "UserNotFoundException"}:
        return SignInError("wrong user name or password")
    if code == "InvalidPasswordException":
        return SignInError(exc.response.get("Error", {}).get("Message", "the new password is not accepted"))
    if code == "PasswordResetRequiredException":
        return SignInError("an administrator reset this password: ask for a new temporary one")
    if code == "TooManyRequestsException":
        return SignInError("too many attempts: wait a minute")
    raise exc
