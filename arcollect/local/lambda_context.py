"""A stand-in for the context object the Lambda runtime hands a handler.

Powertools reads `function_name`, `memory_limit_in_mb`, `invoked_function_arn` and `aws_request_id` when it
injects the context into log lines, so every field a real context has is present here.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class LocalLambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    timeout_seconds: int = 30
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[{self.function_version}]{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))
