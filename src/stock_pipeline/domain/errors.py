"""Domain exceptions: adapters translate AWS errors into these, handlers decide retry or report."""


class PipelineError(Exception):
    """Base class of the pipeline's own errors."""


class UnreadableObjectError(PipelineError):
    """The object as a whole cannot be read (not gzip, not NDJSON, not Parquet): retrying will not help."""


class ObjectTooLargeError(UnreadableObjectError):
    """The object is larger than its kind may be: refused before it is read (reading it could exhaust the
    function's memory, and Lambda would end the invocation before any notice is written)."""


class ObjectGoneError(PipelineError):
    """The announced object no longer exists (deleted or expired before it was processed)."""


class ConfigError(PipelineError):
    """The function's environment is incomplete or invalid: checked at cold start."""
