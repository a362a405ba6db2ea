"""OpenTelemetry spans for runtime calls, following the GenAI semantic conventions, when OpenTelemetry is there.

`pip install 'promptops-git[otel]'` (the `opentelemetry-api` package) turns it on: every call becomes a span named
`chat <model>` on the tracer `promptops`, carrying the same facts as its audit record (already redacted: no
input or output text is put on a span). Without the package, or without a tracer provider configured by the
application, this costs nothing. The application configures exporters as it does for the rest of its traces.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

_tracer: Any = None
_checked = False


def tracer() -> Any:
    """The `promptops` tracer, or None when opentelemetry-api is not installed."""
    global _tracer, _checked
    if not _checked:
        _checked = True
        if importlib.util.find_spec("opentelemetry") is not None:
            from opentelemetry import trace

            _tracer = trace.get_tracer("promptops")
    return _tracer


def emit(record: Mapping[str, Any], *, record_id: str | None, started_ns: int, ended_ns: int) -> None:
    """One span for one call, from its (redacted) audit record."""
    current = tracer()
    if current is None:
        return
    model = record.get("model")
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "gen_ai.usage.input_tokens": record.get("prompt_tokens"),
        "gen_ai.usage.output_tokens": record.get("completion_tokens"),
        "promptops.prompt": record.get("prompt"),
        "promptops.environment": record.get("environment"),
        "promptops.release": record.get("release"),
        "promptops.digest": record.get("digest"),
        "promptops.answered_by": record.get("answered_by"),
        "promptops.cost_usd": record.get("cost"),
        "promptops.audit_record": record_id,
    }
    if record.get("error"):
        attributes["error.type"] = "promptops.call_failed"
    span = current.start_span(
        f"chat {model}" if model else f"promptops {record.get('answered_by')}",
        start_time=started_ns,
        attributes={k: v for k, v in attributes.items() if v is not None},
    )
    if record.get("error"):
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR, str(record["error"])))
    span.end(end_time=ended_ns)
