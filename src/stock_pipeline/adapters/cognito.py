"""Cognito sign-in for the web console: the user's name and password for the pool's tokens (USER_PASSWORD_AUTH).

The console function asks on the user's behalf, so the browser talks to its own API only (a strict
Content-Security-Policy) and the app client needs no secret. InitiateAuth, RespondToAuthChallenge and the
authenticator-app calls (AssociateSoftwareToken, VerifySoftwareToken, SetUserMFAPreference, authorised by the
user's session or access token) are not IAM-authorised calls: the function's role holds no Cognito permission.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from stock_pipeline.domain.console import otpauth_uri
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
        except (ClientError, ParamValidationError) as exc:
            raise _sign_in_error(exc) from exc
        return self._answer(response, username)

    def mfa_code(self, username: str, code: str, session: str) -> dict[str, Any]:
        """The code of the user's authenticator app, when Cognito asked for it (SOFTWARE_TOKEN_MFA)."""
        return self._respond("SOFTWARE_TOKEN_MFA", session, username, {"SOFTWARE_TOKEN_MFA_CODE": code})

    def _respond(self, challenge: str, session: str, username: str, answers: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._idp.respond_to_auth_challenge(
                ClientId=self.client_id,
                ChallengeName=challenge,
                Session=session,
                ChallengeResponses={"USERNAME": username, **answers},
            )
        except (ClientError, ParamValidationError) as exc:
            raise _sign_in_error(exc) from exc
        return self._answer(response, username)

    def mfa_setup(self, username: str, code: str, session: str) -> dict[str, Any]:
        """The first code of a newly added authenticator app, when two-factor sign-in is required (MFA_SETUP):
        the app is verified, then the challenge answered with the session the verification returns."""
        try:
            verified = self._idp.verify_software_token(Session=session, UserCode=code, FriendlyDeviceName="console")
        except (ClientError, ParamValidationError) as exc:
            raise _sign_in_error(exc) from exc
        return self._respond("MFA_SETUP", verified["Session"], username, {})

    def start_totp(self, access_token: str, username: str) -> dict[str, str]:
        """A signed-in user turns two-factor sign-in on (the pool's MFA is OPTIONAL): the key for the app."""
        try:
            secret = self._idp.associate_software_token(AccessToken=access_token)["SecretCode"]
        except (ClientError, ParamValidationError) as exc:
            raise _sign_in_error(exc) from exc
        return {"secret": secret, "otpauth": otpauth_uri(secret, username)}

    def enable_totp(self, access_token: str, code: str) -> None:
        """... and confirms it with the app's first code: from the next sign-in on, Cognito asks for a code."""
        try:
            self._idp.verify_software_token(AccessToken=access_token, UserCode=code, FriendlyDeviceName="console")
            self._idp.set_user_mfa_preference(
                AccessToken=access_token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
            )
        except (ClientError, ParamValidationError) as exc:
            raise _sign_in_error(exc) from exc

    def _answer(self, response: dict[str, Any], username: str) -> dict[str, Any]:
        if response.get("ChallengeName") == "MFA_SETUP":  # required and not set up yet: the key for the app
            try:
                associated = self._idp.associate_software_token(Session=response["Session"])
            except (ClientError, ParamValidationError) as exc:
                raise _sign_in_error(exc) from exc
            secret = associated["SecretCode"]
            return {
                "challenge": "MFA_SETUP",
                "session": associated.get("Session") or response["Session"],
                "secret": secret,
                "otpauth": otpauth_uri(secret, username),
            }
        return _answer(response)

    def new_password(self, username: str, password: str, session: str) -> dict[str, Any]:
        return self._respond("NEW_PASSWORD_REQUIRED", session, username, {"NEW_PASSWORD": password})


ANSWERED = ("NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA")  # and MFA_SETUP, which needs the key first


def _answer(response: dict[str, Any]) -> dict[str, Any]:
    if response.get("ChallengeName"):
        if response["ChallengeName"] not in ANSWERED:
            raise SignInError(f"this console cannot answer Cognito's {response['ChallengeName']} challenge")
        return {"challenge": response["ChallengeName"], "session": response.get("Session")}
    result = response["AuthenticationResult"]
    return {"accessToken": result["AccessToken"], "expiresIn": int(result.get("ExpiresIn", 3600))}


def _sign_in_error(exc: ClientError | ParamValidationError) -> SignInError:
    if isinstance(exc, ParamValidationError):  # botocore refuses before sending: a session or code no page sends
        return SignInError("the sign-in step is not one Cognito takes (a session or code out of shape): start again")
    code = exc.response.get("Error", {}).get("Code", "")
    if code in {"NotAuthorizedException", "UserNotFoundException"}:
        return SignInError("wrong user name or password")
    if code == "InvalidPasswordException":
        return SignInError(exc.response.get("Error", {}).get("Message", "the new password is not accepted"))
    if code == "PasswordResetRequiredException":
        return SignInError("an administrator reset this password: ask for a new temporary one")
    if code == "TooManyRequestsException":
        return SignInError("too many attempts: wait a minute")
    if code in {"CodeMismatchException", "EnableSoftwareTokenMFAException"}:
        return SignInError("that code is not the one your authenticator app shows now: try the next one")
    if code in {"ExpiredCodeException", "ResourceNotFoundException"}:
        return SignInError("the sign-in took too long: start again with your password")
    if code == "InvalidParameterException":
        return SignInError(exc.response.get("Error", {}).get("Message", "Cognito refused the request as sent"))
    raise exc
