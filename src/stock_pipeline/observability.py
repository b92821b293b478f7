"""The one Logger, Metrics and Tracer of the service (names come from POWERTOOLS_* variables in the template)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()
