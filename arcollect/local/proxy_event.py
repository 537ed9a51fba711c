"""HTTP request ↔ API Gateway REST API (v1) Lambda proxy event and result, as API Gateway builds them."""

from __future__ import annotations

import base64
import re
import time
import uuid
from typing import Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

# Bodies API Gateway hands a proxy integration as text; anything else arrives base64-encoded, which is
# what the deployed API does with binaryMediaTypes "*/*" for uploads such as CSV files sent as bytes.
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|x-www-form-urlencoded|javascript|yaml|x-yaml))$"
)

_SIGV4_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def _is_text(content_type: str, body: bytes) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and not _TEXT_TYPES.match(media_type):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _identity(request: Request, account_id: str) -> dict[str, Any]:
    """The caller as API Gateway reports it. A SigV4-signed request stands in for an IAM-authorised staff
    call (the deployed staff routes use AWS_IAM auth); the emulator trusts the signature as moto does."""
    identity: dict[str, Any] = {
        "sourceIp": request.remote_addr or "127.0.0.1",
        "userAgent": request.headers.get("User-Agent"),
        "accessKey": None,
        "accountId": None,
        "caller": None,
        "user": None,
        "userArn": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
    }
    authorization = request.headers.get("Authorization", "")
    signed = _SIGV4_CREDENTIAL.search(authorization) if authorization.startswith("AWS4-HMAC-SHA256") else None
    if signed:
        access_key = signed.group(1)
        identity.update(
            accessKey=access_key,
            accountId=account_id,
            caller=access_key,
            user=access_key,
            userArn=f"arn:aws:iam::{account_id}:user/local-staff",
        )
    return identity


def raw_path(request: Request) -> str:
    """The path as the client sent it, still percent-encoded, as API Gateway's REST proxy hands it over (werkzeug
    decodes `request.path`: an id with `/`, `#` or `?` would then route elsewhere or nowhere)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return str(raw).split("?", 1)[0] or "/"
    return quote(request.path, safe="/-._~!$&'()*+,;=:@")


def request_to_event(request: Request, stage: str, account_id: str) -> dict[str, Any]:
    raw_body = request.get_data(cache=False)
    is_text = _is_text(request.headers.get("Content-Type", ""), raw_body)
    body: str | None
    if not raw_body:
        body = None
    elif is_text:
        body = raw_body.decode("utf-8")
    else:
        body = base64.b64encode(raw_body).decode("ascii")

    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        multi_headers.setdefault(name, []).append(value)
    multi_query = {name: request.args.getlist(name) for name in request.args}
    path = raw_path(request)
    now = time.time()
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": request.method,
        # API Gateway's single-value maps keep the last value of a repeated header or parameter.
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")} if path != "/" else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": account_id,
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": "/{proxy+}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "httpMethod": request.method,
            # Served at the root, as behind a custom domain: no stage prefix, so the base path Powertools
            # derives from it (the OpenAPI document's server URL) is the one the local gateway answers on.
            "path": path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "domainName": request.host,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "identity": _identity(request, account_id),
        },
        "body": body,
        "isBase64Encoded": bool(raw_body) and not is_text,
    }


def result_to_response(result: dict[str, Any]) -> Response:
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    response = Response(payload, status=int(result.get("statusCode", 200)))
    response.headers.pop("Content-Type", None)  # only what the function set, as API Gateway does
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    for name, value in headers.items():
        if name not in multi:
            response.headers[name] = str(value)
    for name, values in multi.items():
        for value in values:
            response.headers.add(name, str(value))
    return response


def internal_error_response() -> Response:
    """What API Gateway answers when the integration itself fails (the function raised)."""
    return Response('{"message": "Internal server error"}', status=502, content_type="application/json")
