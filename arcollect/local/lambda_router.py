"""Send moto's Lambda invocations to our real handlers, in this process.

State machines' Task states, `lambda.invoke` and SQS event sources all reach moto's Lambda backend, which
(with `use_docker: False`) would answer every call with a canned "happy path" payload. `install()` swaps
that one method for a router that imports the handler registered for the function and calls it with the
decoded event and a Lambda-like context. A handler's exception becomes Lambda's unhandled-error reply
(`X-Amz-Function-Error: Unhandled` and an `errorType`/`errorMessage` payload) so ASL Retry/Catch fire.

PIN-SENSITIVE: `moto.awslambda_simple.models.LambdaSimpleBackend.invoke` and its signature are private
moto API (checked against moto 5.2.5). It is touched here and nowhere else; keep moto's minor pinned and
re-run tests/integration/test_local_emulator.py when it moves.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import threading
import traceback
import zipfile
from collections.abc import Callable
from typing import Any

from arcollect.local.lambda_context import LocalLambdaContext

logger = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]

# Logical function name → the handler CDK deploys for it ("<module>.<attribute>").
FUNCTION_HANDLERS: dict[str, str] = {
    "api": "functions.api.handler.handler",
    "portal_authorizer": "functions.portal_authorizer.handler.handler",
    "portal_link_requests": "functions.portal_link_requests.handler.handler",
    "ledger_ingest": "functions.ledger_ingest.handler.handler",
    "dunning_plan": "functions.dunning_plan.handler.handler",
    "dunning_dispatch": "functions.dunning_dispatch.handler.handler",
    "dunning_finish": "functions.dunning_finish.handler.handler",
    "dunning_send_retry": "functions.dunning_send_retry.handler.handler",
    "email_feedback": "functions.email_feedback.handler.handler",
    "onboarding_step": "functions.onboarding_step.handler.handler",
    "onboarding_sweep": "functions.onboarding_sweep.handler.handler",
}

_LAMBDA_ROLE_NAME = "lambda-execution"
_ASSUME_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _placeholder_zip() -> bytes:
    """moto wants code to create a function; what runs is the registered handler, never this."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# arcollect local: invocations are routed in-process\n")
    return buffer.getvalue()


def import_handler(dotted_path: str) -> Handler:
    module_name, _, attribute = dotted_path.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


def unhandled_error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The body the Python Lambda runtime returns when a handler raises; like the runtime's, the stack
    trace starts in the handler, not in the code that called it."""
    trace = exc.__traceback__
    if trace is not None and trace.tb_frame.f_code is LambdaRouter.invoke.__code__:
        trace = trace.tb_next
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(trace),
    }


class LambdaRouter:
    """Registry of deployed function name → handler, and the invoker the patched backend calls."""

    def __init__(self, function_prefix: str, handlers: dict[str, str | Handler] | None = None):
        self.function_prefix = function_prefix
        self._targets: dict[str, str | Handler] = {}
        self._resolved: dict[str, Handler] = {}
        self._lock = threading.Lock()
        for name, target in (FUNCTION_HANDLERS if handlers is None else handlers).items():
            self.register(name, target)

    def function_name(self, name: str) -> str:
        return f"{self.function_prefix}{name}"

    @property
    def function_names(self) -> list[str]:
        return list(self._targets)

    def register(self, name: str, target: str | Handler) -> str:
        """Route the function `name` (deployed as `<prefix><name>`) to a dotted path or a callable."""
        function_name = self.function_name(name)
        with self._lock:
            self._targets[function_name] = target
            self._resolved.pop(function_name, None)
        return function_name

    def _handler(self, function_name: str) -> Handler:
        with self._lock:
            if function_name not in self._resolved:
                target = self._targets.get(function_name)
                if target is None:
                    raise LookupError(f"no handler is registered for Lambda function {function_name!r}")
                # Imported on first call, so startup does not pay for functions nobody invokes.
                self._resolved[function_name] = import_handler(target) if isinstance(target, str) else target
            return self._resolved[function_name]

    def provision(self, iam: Any, lambda_client: Any, runtime: str = "python3.12") -> dict[str, str]:
        """Create every registered function in moto so ARNs in state machine definitions resolve.
        Returns function name → ARN."""
        role_arn = iam.create_role(
            RoleName=f"{self.function_prefix}{_LAMBDA_ROLE_NAME}",
            AssumeRolePolicyDocument=json.dumps(_ASSUME_ROLE_POLICY),
        )["Role"]["Arn"]
        code = _placeholder_zip()
        arns = {}
        for function_name, target in list(self._targets.items()):
            created = lambda_client.create_function(
                FunctionName=function_name,
                Runtime=runtime,
                Role=role_arn,
                Handler=target if isinstance(target, str) else "routed.in_process",
                Code={"ZipFile": code},
                Timeout=300,
                MemorySize=512,
            )
            arns[function_name] = created["FunctionArn"]
        return arns

    def invoke(
        self, function_name: str, function_arn: str, payload: bytes, timeout_seconds: int, memory_mb: int
    ) -> tuple[bytes, bool]:
        """Run the handler; returns (response payload, whether it is an unhandled error)."""
        context = LocalLambdaContext(
            function_name=function_name,
            invoked_function_arn=function_arn,
            memory_limit_in_mb=memory_mb,
            timeout_seconds=timeout_seconds,
        )
        try:
            event = json.loads(payload) if payload.strip() else {}
            result = self._handler(function_name)(event, context)
            return json.dumps(result).encode(), False
        except Exception as exc:
            logger.warning("Lambda %s raised %s: %s", function_name, type(exc).__name__, exc)
            return json.dumps(unhandled_error_payload(exc, context.aws_request_id)).encode(), True


_active_router: LambdaRouter | None = None
_original_invoke: Any = None


def _routed_invoke(
    backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    """Replacement for LambdaSimpleBackend.invoke (same signature, same return contract)."""
    router = _active_router
    if router is None:  # uninstalled while this request was in flight: the class has moto's method back
        return bytes(type(backend).invoke(backend, function_name, qualifier, body, headers, response_headers))
    # Resolves names, ARNs and qualifiers as Lambda does; unknown functions raise moto's 404 error.
    function = backend.get_function(function_name, qualifier)
    payload = body.encode() if isinstance(body, str) else bytes(body or b"")
    invocation_type = (headers or {}).get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""

    def run() -> tuple[bytes, bool]:
        return router.invoke(
            function.function_name, function.function_arn, payload, int(function.timeout), function.memory_size
        )

    if invocation_type == "Event":
        threading.Thread(target=run, name=f"lambda-{function.function_name}", daemon=True).start()
        return b""
    result, failed = run()
    if failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    return result


def install(router: LambdaRouter) -> None:
    """Route every Lambda invocation in this process through `router` (replaces any earlier router)."""
    global _active_router, _original_invoke
    from moto.awslambda_simple.models import LambdaSimpleBackend

    if _original_invoke is None:
        _original_invoke = LambdaSimpleBackend.invoke
    _active_router = router
    LambdaSimpleBackend.invoke = _routed_invoke  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    global _active_router, _original_invoke
    from moto.awslambda_simple.models import LambdaSimpleBackend

    if _original_invoke is not None:
        LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]
    _active_router = None
    _original_invoke = None
