"""Typed settings from the environment the template gives each function, read and checked once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from stock_pipeline.domain.errors import ConfigError
from stock_pipeline.domain.pacing import PARTITION_WRITE_UNITS_PER_SECOND


@dataclass(frozen=True, slots=True)
class Settings:
    table_name: str
    bucket_name: str
    lake_prefix: str = "curated/"
    rejected_prefix: str = "rejected/"
    write_concurrency: int = 32
    default_restock_threshold: int = 10
    alert_freshness_hours: int = 24  # a crossing whose transaction is older is recorded, not e-mailed
    restock_topic_arn: str = ""
    state_machine_arn: str = ""
    feed_status_topic_arn: str = ""
    supplier_profiles_key: str = ""
    max_inflated_mb: int = 1024
    partition_write_units: int = PARTITION_WRITE_UNITS_PER_SECOND  # a second, per warehouse, for a file's levels
    max_receives: int = 5  # the ingest queue's maxReceiveCount
    parking_queue_url: str = ""  # the ingest dead-letter queue: messages no retry can help are parked there at once
    validation_topic_arn: str = ""
    validation_check_seconds: float = 10.0
    validation_budget_seconds: float = 840.0
    console_client_id: str = ""
    console_upload_limit_mb: int = 100
    console_mfa: str = "OFF"  # OFF | OPTIONAL | ON (the user pool's MfaConfiguration)
    alert_delivery: str = "immediate"  # immediate | digest | both (the AlertDelivery parameter)
    forecast_window_days: int = 28
    digest_when_empty: str = "skip"  # skip | line
    console_url: str = ""
    table_arn: str = ""  # the full reconciliation: the table it exports, the catalog and workgroup it queries
    lake_database: str = ""
    athena_workgroup: str = ""
    stack_name: str = ""

    @property
    def immediate_alerts(self) -> bool:
        return self.alert_delivery in ("immediate", "both")

    def require(self, *names: str) -> Settings:
        """A function that needs more than the common settings names them at cold start."""
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            raise ConfigError(
                "invalid function configuration: " + "; ".join(f"{n.upper()} is not set" for n in missing)
            )
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Fail at cold start with every missing or malformed variable named, not at the first record."""
        env = os.environ if env is None else env
        problems: list[str] = []

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is not set")
            return value

        def integer(name: str, default: int, minimum: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not an integer")
                return default
            if value < minimum:
                problems.append(f"{name}={value} is below {minimum}")
            return value

        def seconds(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not a number of seconds")
                return default
            if not value >= 0:
                problems.append(f"{name}={value} is below 0")
            return value

        def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
            value = env.get(name, "").strip() or default
            if value not in allowed:
                problems.append(f"{name}={value!r} is not one of {', '.join(allowed)}")
                return default
            return value

        settings = cls(
            table_name=required("STOCK_TABLE_NAME"),
            bucket_name=required("DATA_BUCKET_NAME"),
            lake_prefix=_prefix(env.get("LAKE_PREFIX", "curated/")),
            rejected_prefix=_prefix(env.get("REJECTED_PREFIX", "rejected/")),
            write_concurrency=integer("WRITE_CONCURRENCY", 32, 1),
            default_restock_threshold=integer("DEFAULT_RESTOCK_THRESHOLD", 10, 0),
            alert_freshness_hours=integer("ALERT_FRESHNESS_HOURS", 24, 1),
            restock_topic_arn=env.get("RESTOCK_TOPIC_ARN", "").strip(),
            state_machine_arn=env.get("REEVALUATE_STATE_MACHINE_ARN", "").strip(),
            feed_status_topic_arn=env.get("FEED_STATUS_TOPIC_ARN", "").strip(),
            supplier_profiles_key=env.get("SUPPLIER_PROFILES_KEY", "").strip().lstrip("/"),
            max_inflated_mb=integer("MAX_INFLATED_MB", 1024, 1),
            partition_write_units=integer("PARTITION_WRITE_UNITS", PARTITION_WRITE_UNITS_PER_SECOND, 1),
            max_receives=integer("MAX_RECEIVES", 5, 1),
            parking_queue_url=env.get("PARKING_QUEUE_URL", "").strip(),
            validation_topic_arn=env.get("VALIDATION_TOPIC_ARN", "").strip(),
            validation_check_seconds=seconds("VALIDATION_CHECK_SECONDS", 10.0),
            validation_budget_seconds=seconds("VALIDATION_BUDGET_SECONDS", 840.0),
            console_client_id=env.get("CONSOLE_USER_POOL_CLIENT_ID", "").strip(),
            console_upload_limit_mb=integer("CONSOLE_UPLOAD_LIMIT_MB", 100, 1),
            console_mfa=choice("CONSOLE_MFA", "OFF", ("OFF", "OPTIONAL", "ON")),
            alert_delivery=choice("ALERT_DELIVERY", "immediate", ("immediate", "digest", "both")),
            forecast_window_days=integer("FORECAST_WINDOW_DAYS", 28, 1),
            digest_when_empty=choice("DIGEST_WHEN_EMPTY", "skip", ("skip", "line")),
            console_url=env.get("CONSOLE_URL", "").strip(),
            table_arn=env.get("STOCK_TABLE_ARN", "").strip(),
            lake_database=env.get("LAKE_DATABASE", "").strip(),
            athena_workgroup=env.get("ATHENA_WORKGROUP", "").strip(),
            stack_name=env.get("STACK_NAME", "").strip(),
        )
        if problems:
            raise ConfigError("invalid function configuration: " + "; ".join(problems))
        return settings


def _prefix(value: str) -> str:
    value = value.strip().strip("/")
    return f"{value}/" if value else ""
