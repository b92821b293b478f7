"""The one Logger, Metrics and Tracer of the service (names come from POWERTOOLS_* variables in the template).

The namespace has a fallback so that a module imported before the environment is set (tests, the local stack)
still flushes metrics instead of failing on the hundredth one.
"""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "StockPipeline"))
tracer = Tracer()
