"""Domain exceptions: adapters translate AWS errors into these, handlers decide retry or report."""


class PipelineError(Exception):
    """Base class of the pipeline's own errors."""


class UnreadableObjectError(PipelineError):
    """The object as a whole cannot be read (not gzip, not NDJSON, not Parquet): retrying will not help."""


class ObjectGoneError(PipelineError):
    """The announced object no longer exists (deleted or expired before it was processed)."""


class ConfigError(PipelineError):
    """The function's environment is incomplete or invalid: checked at cold start."""
