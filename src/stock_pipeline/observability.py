"""The one Logger, Metrics and Tracer of the service (names come from POWERTOOLS_* variables in the template).

The namespace has a fallback so that a module imported before the environment is set (tests, the local stack)
still flushes metrics instead of failing on the hundredth one.

The Tracer is made when a module first asks for it: it loads the X-Ray SDK (120-160 ms of a cold start), which the
functions people wait on (the console, the reports, the invitation, the alerts) do not use. Lambda's active
tracing (the template's `Tracing: Active`) still records their invocations; the data functions, whose traces show
each S3 and DynamoDB call, pay for the SDK (docs/cost.md, "Cold starts").
"""

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "StockPipeline"))
_tracer: "Tracer | None" = None


def __getattr__(name: str) -> Any:
    """`from stock_pipeline.observability import tracer`: the Tracer, made at the first such import."""
    global _tracer
    if name != "tracer":
        raise AttributeError(name)
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer()
    return _tracer
