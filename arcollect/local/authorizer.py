"""The local gateway's custom authorizer step, as API Gateway runs a TOKEN authorizer: the `Authorization` header
goes to the same authorizer function CDK deploys; a missing header or the authorizer's "Unauthorized" is a 401
(in the envelope of the deployed gateway response), a policy that does not allow the call a 403, and an allowing
policy's context reaches the API function as `requestContext.authorizer`."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

UNAUTHORIZED_MESSAGE = "Sign in again: the session token is missing, expired or not valid."
FORBIDDEN_MESSAGE = "This session may not call this route."


def envelope(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps({"error": {"code": code, "message": message, "details": []}}, separators=(",", ":"))
    return Response(body, status=status, content_type="application/json", headers=dict(headers or {}))


def unauthorized() -> Response:
    return envelope(401, "unauthorized", UNAUTHORIZED_MESSAGE, {"WWW-Authenticate": 'Bearer realm="arcollect-portal"'})


@dataclass(frozen=True)
class Decision:
    context: dict[str, Any] | None  # what reaches requestContext.authorizer; None: refused
    refusal: Response | None = None


def method_arn(region: str, account_id: str, stage: str, method: str, path: str) -> str:
    return f"arn:aws:execute-api:{region}:{account_id}:local/{stage}/{method}/{path.lstrip('/')}"


def _allows(policy: Mapping[str, Any], arn: str) -> bool:
    """IAM evaluation as API Gateway applies an authorizer's policy: an explicit Deny wins, else an Allow."""
    allowed = False
    for statement in (policy.get("policyDocument") or {}).get("Statement") or []:
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        resources = statement.get("Resource")
        resources = [resources] if isinstance(resources, str) else resources or []
        if any(fnmatch.fnmatchcase(arn, r) for r in resources):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def authorize(handler: Handler, context: Any, authorization: str | None, arn: str) -> Decision:
    if not authorization:
        return Decision(None, unauthorized())
    try:
        result = handler({"type": "TOKEN", "authorizationToken": authorization, "methodArn": arn}, context)
    except Exception as exc:
        if str(exc) == "Unauthorized":
            return Decision(None, unauthorized())
        return Decision(None, envelope(500, "internal_error", "The authorizer failed; it has been logged."))
    if not _allows(result, arn):
        return Decision(None, envelope(403, "forbidden", FORBIDDEN_MESSAGE))
    return Decision({"principalId": result.get("principalId"), **(result.get("context") or {})})
