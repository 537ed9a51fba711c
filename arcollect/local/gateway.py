"""The local API Gateway: an HTTP server on 127.0.0.1 that hands each request to the API function as a
REST (v1) proxy event, plus a few `/_local/...` routes that only exist on one machine (the outbox)."""

from __future__ import annotations

import html
import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from arcollect.local import authorizer
from arcollect.local.lambda_context import LocalLambdaContext
from arcollect.local.outbox import read_outbox
from arcollect.local.proxy_event import internal_error_response, request_to_event, result_to_response
from shared.api.route_families import is_customer_path, is_staff_path

logger = logging.getLogger(__name__)

ApiHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
LocalRoute = Callable[[Request], Response]

OUTBOX_PATH = "/_local/outbox"

# One API invocation at a time in this process, as one Lambda instance serves one request at a time.
# Powertools keeps the request being resolved on class attributes (`BaseRouter.current_event`,
# `lambda_context`), shared by every resolver and thread, while werkzeug serves each request on its own
# thread: two requests at once would read each other's event. Module-level, not per gateway, because
# that state is per process. Local routes (pages, the outbox) do not take it.
_API_INVOCATION = threading.Lock()

_INDEX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>arcollect (local)</title></head>
<body>
<h1>arcollect, running locally</h1>
<ul>
<li><a href="/health">/health</a>: is the API up</li>
<li><a href="/docs">/docs</a>: the API reference</li>
<li><a href="{outbox}">{outbox}</a>: what was sent (emails and SMS)</li>
</ul>
</body></html>
"""


def _default_api_handler() -> ApiHandler:
    from functions.api.handler import handler

    return handler


def _default_authorizer() -> ApiHandler:
    from functions.portal_authorizer.handler import handler

    return handler


# Staff routes are IAM-authorised in AWS; locally nobody signs requests, so only this machine may call them.
LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})


def _check_port_free(host: str, port: int) -> None:
    """Raise OSError when the port is taken. werkzeug's make_server would print its own advice and call
    sys.exit instead, which the command line could not report (or put in --json)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As socketserver does for the real server, so a port in TIME_WAIT still counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


class LocalGateway:
    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        stage: str = "local",
        function_name: str = "arcollect-local-api",
        api_handler: ApiHandler | None = None,
        authorizer_handler: ApiHandler | None = None,
        authorizer_name: str = "arcollect-local-portal-authorizer",
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self._region = region
        self._account_id = account_id
        self._stage = stage
        self._function_name = function_name
        # Imported now rather than on the first request: the first request should be as quick as the rest.
        self._api_handler = api_handler or _default_api_handler()
        self._authorizer = authorizer_handler or _default_authorizer()
        self._authorizer_name = authorizer_name
        self._host = host
        self._requested_port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._local_routes: dict[tuple[str, str], LocalRoute] = {}
        # message id -> customer, invoices, steps, sent_at: labels the SMS, which carry no headers.
        self.outbox_labels: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None
        self.add_route("GET", "/", self._index)
        self.add_route("GET", OUTBOX_PATH, self._outbox)

    def add_route(self, method: str, path: str, route: LocalRoute) -> None:
        """Serve `path` here instead of through the API function (pages and stand-ins of local mode)."""
        self._local_routes[(method.upper(), path)] = route

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the gateway is not running")
        return f"http://{self._host}:{self._server.server_port}"

    def bind(self) -> None:
        """Claim the port (raises OSError if it is taken) without serving yet."""
        if self._server is None:
            _check_port_free(self._host, self._requested_port)
            self._server = make_server(self._host, self._requested_port, self._wsgi, threaded=True)

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # werkzeug logs every request at INFO
        self.bind()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:  # shutdown() waits for serve_forever, so only once it runs
                self._server.shutdown()
                self._thread.join(timeout=10)
            self._server.server_close()
        self._server = None
        self._thread = None

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        local_route = self._local_routes.get((request.method, request.path))
        response = local_route(request) if local_route else self._invoke_api(request)
        return response(environ, start_response)

    def _invoke_api(self, request: Request) -> Response:
        """The API function on this request, serialised with every other invocation (see `_API_INVOCATION`)."""
        if is_staff_path(request.path) and (request.remote_addr or "") not in LOOPBACK:
            return authorizer.envelope(403, "forbidden", "Staff routes answer only on this machine (IAM in AWS).")
        event = request_to_event(request, self._stage, self._account_id)
        if is_customer_path(request.path):
            decision = self._authorize(request)
            if decision.refusal is not None:
                return decision.refusal
            event["requestContext"]["authorizer"] = decision.context
        context = LocalLambdaContext(
            function_name=self._function_name,
            invoked_function_arn=f"arn:aws:lambda:{self._region}:{self._account_id}:function:{self._function_name}",
        )
        try:
            with _API_INVOCATION:
                result = self._api_handler(event, context)
            return result_to_response(result)
        except Exception:
            logger.exception("the API function raised on %s %s", request.method, request.path)
            return internal_error_response()

    def _authorize(self, request: Request) -> authorizer.Decision:
        arn = authorizer.method_arn(self._region, self._account_id, self._stage, request.method, request.path)
        context = LocalLambdaContext(
            function_name=self._authorizer_name,
            invoked_function_arn=f"arn:aws:lambda:{self._region}:{self._account_id}:function:{self._authorizer_name}",
        )
        with _API_INVOCATION:
            return authorizer.authorize(self._authorizer, context, request.headers.get("Authorization"), arn)

    def _index(self, request: Request) -> Response:
        return Response(_INDEX_PAGE.format(outbox=html.escape(OUTBOX_PATH)), content_type="text/html")

    def _outbox(self, request: Request) -> Response:
        labels = self.outbox_labels() if self.outbox_labels is not None else None
        messages = read_outbox(self._region, self._account_id, to=request.args.get("to"), labels=labels)
        return Response(json.dumps([m.to_json() for m in messages]), content_type="application/json")
