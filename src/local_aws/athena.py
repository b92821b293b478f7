"""Athena on the local stack: a query runs in DuckDB over the lake's files in moto's S3, through the tables of
moto's Glue catalog, as Athena runs it over the same files through the same catalog. moto records a query and
answers nothing (its results are canned), so without this a function that reads its answer from Athena would be
tested against nothing.

What is Athena's, and kept here (https://docs.aws.amazon.com/athena/latest/ug/):
- the dialect: Athena's SQL (Trino) is transpiled to DuckDB's by sqlglot; `?` execution parameters are bound;
- the catalog decides what a table is: its location, its columns (Hive types, nested structs and arrays), its
  partitions (registered ones with their own locations, or Hive-style folders read as columns) and its SerDe
  (Parquet, or the OpenX JSON SerDe, which matches JSON keys case-insensitively);
- partition projection's injected type: "the WHERE clause must contain only static equality conditions, and at
  least one such condition must be present" (partition-projection-dynamic-id-partitioning.html), else the query
  FAILS with CONSTRAINT_VIOLATION, as in Athena;
- Athena reads S3 and the catalog with the caller's permissions: each object read needs s3:GetObject, each
  location s3:ListBucket, each table glue:GetTable (and glue:GetPartitions for registered partitions), and an
  INSERT INTO s3:PutObject where it writes, refused by the local IAM enforcer as AWS refuses them
  (https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html);
- INSERT INTO writes Parquet into the target table's location, one folder per partition value;
- a SELECT's answer: a header row, then every value as text, a NULL as no value (GetQueryResults).
Not emulated: bytes scanned (0), the results' CSV in the output location, DDL (moto's own handling stays).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PARQUET = "parquet"
JSON = "json"


class QueryFailed(Exception):
    pass


def install() -> None:
    """Patch moto's Athena backend (idempotent)."""
    from moto.athena import models, responses

    if getattr(models.AthenaBackend, "_local_duckdb", False):
        return
    original = models.AthenaBackend.start_query_execution

    def start_query_execution(
        self: Any, query: str, context: Any, config: Any, workgroup: str, execution_parameters: Any = None
    ) -> str:
        if re.match(r"^\s*(ALTER|CREATE|DESCRIBE|DROP|MSCK|SHOW)\b", query, re.IGNORECASE):
            return original(self, query, context, config, workgroup, execution_parameters)
        execution = models.Execution(
            query=query,
            context=context,
            config=config,
            workgroup=self.work_groups.get(workgroup),
            execution_parameters=execution_parameters,
        )
        self.executions[execution.id] = execution
        database = (context or {}).get("Database") or "default"
        try:
            columns, rows = run(self.account_id, self.region_name, database, query, execution_parameters or [])
        except QueryFailed as exc:
            execution.status = "FAILED"
            execution.local_reason = str(exc)
            return execution.id
        execution.status = "SUCCEEDED"
        header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
        data = [{"Data": [{} if v is None else {"VarCharValue": _text(v)} for v in row]} for row in rows]
        self.query_results[execution.id] = models.QueryResults(
            rows=[header, *data] if columns else [],
            column_info=[{"Name": name, "Label": name, "Type": kind, "Nullable": "UNKNOWN"} for name, kind in columns],
        )
        return execution.id

    original_get = responses.AthenaResponse.get_query_execution

    def get_query_execution(self: Any) -> str:
        answer = json.loads(original_get(self))
        execution = self.athena_backend.executions.get(self._get_param("QueryExecutionId"))
        reason = getattr(execution, "local_reason", None)
        if reason:
            answer["QueryExecution"]["Status"]["StateChangeReason"] = reason
            answer["QueryExecution"]["Status"]["AthenaError"] = {"ErrorCategory": 2, "ErrorMessage": reason}
        return json.dumps(answer)

    original_start = responses.AthenaResponse.start_query_execution

    def start_with_token(self: Any) -> Any:
        """ClientRequestToken: "the same response is returned and another query is not created" for a request sent
        again with the token (https://docs.aws.amazon.com/athena/latest/APIReference/API_StartQueryExecution.html)."""
        token = self._get_param("ClientRequestToken")
        tokens = self.athena_backend.__dict__.setdefault("_local_tokens", {})
        if token and token in tokens:
            return json.dumps({"QueryExecutionId": tokens[token]})
        answer = original_start(self)
        if token and isinstance(answer, str):
            tokens[token] = json.loads(answer)["QueryExecutionId"]
        return answer

    models.AthenaBackend.start_query_execution = start_query_execution  # type: ignore[method-assign]
    responses.AthenaResponse.start_query_execution = start_with_token  # type: ignore[method-assign]
    responses.AthenaResponse.get_query_execution = get_query_execution  # type: ignore[method-assign]
    models.AthenaBackend._local_duckdb = True  # type: ignore[attr-defined]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ------------------------------------------------------------------------------------------------ the query


def run(account: str, region: str, database: str, query: str, parameters: list[str]) -> tuple[list, list]:
    """(columns as (name, Athena type), rows) of a SELECT; ([], []) after an UNLOAD."""
    import duckdb

    unload = UNLOAD.match(query)
    if unload:
        _unload(account, region, database, unload, parameters)
        return [], []
    workdir = Path(tempfile.mkdtemp(prefix="local-athena-"))
    try:
        con, sql = _prepared(account, region, database, query, workdir)
        try:
            cursor = con.execute(sql, [_parameter(p) for p in parameters])
        except duckdb.Error as exc:
            raise QueryFailed(f"{type(exc).__name__}: {exc}") from exc
        columns = [(d[0], _athena_type(str(d[1]))) for d in cursor.description or []]
        return columns, cursor.fetchall()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _prepared(account: str, region: str, database: str, query: str, workdir: Path | None = None) -> tuple[Any, str]:
    """A DuckDB connection with a view per table the query reads, and the query in DuckDB's dialect."""
    import duckdb
    import sqlglot
    from sqlglot import exp

    try:
        statement = sqlglot.parse_one(query, read="athena")
    except sqlglot.errors.ParseError as exc:
        raise QueryFailed(f"SYNTAX_ERROR: {exc}") from exc
    if not isinstance(statement, exp.Query):
        raise QueryFailed("NOT_SUPPORTED: the local Athena runs SELECT and UNLOAD (DDL is moto's)")
    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    names = sorted({t.name.lower() for t in statement.find_all(exp.Table) if t.name and t.name.lower() not in ctes})
    workdir = workdir or Path(tempfile.mkdtemp(prefix="local-athena-"))
    con = duckdb.connect()
    for name in names:
        table = _glue_table(account, region, database, name)
        _view(con, workdir, account, region, table, _static_values(statement, table), name)
    return con, sqlglot.transpile(statement.sql(dialect="athena"), read="athena", write="duckdb")[0]


def _parameter(value: str) -> Any:
    """Athena's execution parameters are SQL literals: '...' a string, a number as it is."""
    text = str(value).strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _athena_type(duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    for prefix, kind in (("BIGINT", "bigint"), ("INTEGER", "integer"), ("DOUBLE", "double"), ("BOOLEAN", "boolean")):
        if upper.startswith(prefix):
            return kind
    if upper.startswith("TIMESTAMP"):
        return "timestamp"
    if upper.startswith("DECIMAL") or upper.startswith("HUGEINT"):
        return "decimal"
    return "varchar"


# ------------------------------------------------------------------------------------------------ the catalog


def _glue_table(account: str, region: str, database: str, name: str) -> dict[str, Any]:
    from moto.glue.models import glue_backends

    glue = f"arn:aws:glue:{region}:{account}"
    _require(region, [("glue:GetTable", a) for a in (f"{glue}:catalog", f"{glue}:database/{database}")])
    _require(region, [("glue:GetTable", f"{glue}:table/{database}/{name}")])
    try:
        table = glue_backends[account][region].get_table(database, name)
    except Exception as exc:  # moto's EntityNotFoundException
        raise QueryFailed(f"TABLE_NOT_FOUND: line 1: Table awsdatacatalog.{database}.{name} does not exist") from exc
    found = table.as_dict()
    found["_partitions"] = [p.as_dict() for p in table.partitions.values()]
    found["_database"] = database
    return found


def _static_values(body: Any, table: dict[str, Any]) -> dict[str, list[str]]:
    """Each injected projected column's static values in the query; a column without any fails the query."""
    from sqlglot import exp

    parameters = table.get("Parameters") or {}
    if str(parameters.get("projection.enabled", "")).lower() != "true":
        return {}
    found: dict[str, list[str]] = {}
    for key in (k for k in table.get("PartitionKeys") or []):
        column = key["Name"].lower()
        if str(parameters.get(f"projection.{column}.type", "")).lower() != "injected":
            continue
        values: list[str] = []
        for node in body.find_all(exp.EQ, exp.In):
            this = node.this
            if not isinstance(this, exp.Column) or this.name.lower() != column:
                continue
            literals = [node.expression] if isinstance(node, exp.EQ) else list(node.expressions)
            if literals and all(isinstance(v, exp.Literal | exp.Placeholder) for v in literals):
                # a bound parameter is static too, but its value is not known here: every folder is read
                values += [v.this if isinstance(v, exp.Literal) else "?" for v in literals]
        if not values:
            raise QueryFailed(
                f"CONSTRAINT_VIOLATION: For the injected projected partition column {column}, the WHERE clause must "
                "contain only static equality conditions, and at least one such condition must be present."
            )
        if "?" not in values:
            found[column] = values
    return found


def _view(con: Any, workdir: Path, account: str, region: str, table: dict[str, Any], static: dict, name: str) -> None:
    descriptor = table.get("StorageDescriptor") or {}
    serde = str((descriptor.get("SerdeInfo") or {}).get("SerializationLibrary") or "").lower()
    kind = JSON if "json" in serde else PARQUET
    keys = [k["Name"].lower() for k in table.get("PartitionKeys") or []]
    columns = [(c["Name"].lower(), c["Type"]) for c in descriptor.get("Columns") or []]
    folder = workdir / name
    folder.mkdir()
    registered = table["_partitions"]
    if registered:
        _require(region, [("glue:GetPartitions", f"arn:aws:glue:{region}:{account}:table/{table['_database']}/{name}")])
        locations = []
        for partition in registered:
            values = [str(v) for v in partition.get("Values") or []]
            if any(static.get(k) and v not in static[k] for k, v in zip(keys, values, strict=False)):
                continue
            where = (partition.get("StorageDescriptor") or {}).get("Location") or ""
            locations.append((where, "/".join(f"{k}={v}" for k, v in zip(keys, values, strict=False))))
    else:
        root = descriptor.get("Location") or ""
        if static and keys and keys[0] in static:  # the projection's folders for the values given
            locations = [(root.rstrip("/") + f"/{keys[0]}={v}/", f"{keys[0]}={v}") for v in static[keys[0]]]
        else:
            locations = [(root, "")]
    files = 0
    for location, partition_path in locations:
        files += _materialize(account, region, location, folder / partition_path if partition_path else folder, kind)
    hive = "true" if keys else "false"
    if kind == PARQUET:
        if not files:
            _empty_view(con, name, columns + [(k, "string") for k in keys])
            return
        source = (
            f"read_parquet('{folder}/**/*', hive_partitioning={hive}, hive_types_autocast=false, union_by_name=true)"
        )
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM {source}")  # noqa: S608 (a catalog name, a local folder)
        return
    types = ", ".join(f"{column}: '{_duckdb_type(kind_)}'" for column, kind_ in columns)
    if not files:
        _empty_view(con, name, columns + [(k, "string") for k in keys])
        return
    source = (
        f"read_json('{folder}/**/*', format='newline_delimited', columns={{{types}}}, hive_partitioning={hive}, "
        "hive_types_autocast=false)"
    )
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM {source}")  # noqa: S608 (a catalog name, a local folder)


def _empty_view(con: Any, name: str, columns: list[tuple[str, str]]) -> None:
    """A table whose location holds no file: its columns, no row (as Athena answers it)."""
    selected = ", ".join(f"CAST(NULL AS {_duckdb_type(kind)}) AS {column}" for column, kind in columns)
    con.execute(f"CREATE VIEW {name} AS SELECT {selected} LIMIT 0")


def _materialize(account: str, region: str, location: str, folder: Path, kind: str) -> int:
    """The objects under `location` into `folder` (JSON keys lower-cased, as the OpenX SerDe reads them)."""
    from moto.s3.models import s3_backends

    match = re.match(r"^s3://([^/]+)/?(.*)$", location)
    if not match:
        raise QueryFailed(f"HIVE_METASTORE_ERROR: the table's location {location!r} is not in S3")
    bucket, prefix = match.group(1), match.group(2)
    _require(region, [("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix})])
    backend = s3_backends[account]["aws"]
    try:
        objects = [k for k in backend.get_bucket(bucket).keys.values() if k.name.startswith(prefix)]
    except Exception as exc:
        raise QueryFailed(f"HIVE_CANNOT_OPEN_SPLIT: {exc}") from exc
    written = 0
    for obj in objects:
        relative = obj.name[len(prefix) :].lstrip("/")
        base = relative.rsplit("/", 1)[-1]
        if not base or base.startswith(("_", ".")) or base.endswith("$folder$"):  # Athena skips these
            continue
        _require(region, [("s3:GetObject", f"arn:aws:s3:::{bucket}/{obj.name}")])
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        data = obj.value
        if kind == JSON:
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            lines = [json.dumps(_lower(json.loads(line))) for line in data.decode().splitlines() if line.strip()]
            if not lines:
                continue
            target = target.with_name(target.name.removesuffix(".gz") + ".json")
            target.write_text("\n".join(lines) + "\n")
        else:
            target.write_bytes(data)
        written += 1
    return written


def _lower(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value


def _duckdb_type(hive: str) -> str:
    """A Hive type of the catalog (struct<a:string>, array<bigint>, ...) as DuckDB's."""
    text = hive.strip()
    lower = text.lower()
    if lower.startswith("struct<") and lower.endswith(">"):
        fields = [f.split(":", 1) for f in _split(text[7:-1])]
        return "STRUCT(" + ", ".join(f'"{n.strip().lower()}" {_duckdb_type(t)}' for n, t in fields) + ")"
    if lower.startswith("array<") and lower.endswith(">"):
        return _duckdb_type(text[6:-1]) + "[]"
    simple = {
        "string": "VARCHAR",
        "bigint": "BIGINT",
        "int": "INTEGER",
        "integer": "INTEGER",
        "double": "DOUBLE",
        "float": "FLOAT",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
    }
    if lower.startswith("varchar") or lower.startswith("char"):
        return "VARCHAR"
    if lower.startswith("decimal"):
        return lower.upper()
    return simple.get(lower, "VARCHAR")


def _split(fields: str) -> list[str]:
    """Top-level comma-separated parts of a struct's fields."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(fields):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(fields[start:i])
            start = i + 1
    parts.append(fields[start:])
    return [p for p in parts if p.strip()]


# ------------------------------------------------------------------------------------------------ UNLOAD

UNLOAD = re.compile(
    r"^\s*UNLOAD\s*\((?P<query>.*)\)\s*TO\s*'(?P<to>[^']+)'\s*WITH\s*\((?P<options>.*)\)\s*;?\s*$", re.I | re.S
)


def _unload(account: str, region: str, database: str, match: re.Match, parameters: list[str]) -> None:
    """UNLOAD (query) TO 's3://...' WITH (format = 'PARQUET'): the rows as Parquet files in an empty folder
    (https://docs.aws.amazon.com/athena/latest/ug/unload.html: the destination must hold no object)."""
    from moto.s3.models import s3_backends

    options = match.group("options").lower().replace(" ", "")
    if "format='parquet'" not in options:
        raise QueryFailed("NOT_SUPPORTED: the local Athena unloads Parquet only")
    location = re.match(r"^s3://([^/]+)/(.*)$", match.group("to"))
    if not location:
        raise QueryFailed(f"INVALID_SESSION_PROPERTY: {match.group('to')!r} is not an S3 location")
    bucket, prefix = location.group(1), location.group(2).rstrip("/") + "/"
    backend = s3_backends[account]["aws"]
    if any(k.startswith(prefix) for k in backend.get_bucket(bucket).keys):
        raise QueryFailed(
            f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{prefix}' already exists: s3://{bucket}/{prefix}. "
            "You may need to manually clean the data at location before retrying"
        )
    workdir = Path(tempfile.mkdtemp(prefix="local-athena-unload-"))
    try:
        con, sql = _prepared(account, region, database, match.group("query"))
        out = workdir / "out.parquet"
        con.execute(
            f"COPY ({sql}) TO '{out}' (FORMAT PARQUET, COMPRESSION SNAPPY)", [_parameter(p) for p in parameters]
        )
        key = f"{prefix}{uuid.uuid4()}"
        _require(region, [("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")])
        backend.put_object(bucket, key, out.read_bytes())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ permissions


def _require(region: str, needs: list[tuple]) -> None:
    """The caller's permission for what Athena does on its behalf (none checked when no caller is known)."""
    from local_aws.iam.enforcer import CALLER, ENFORCEMENT, AccessDeniedError
    from local_aws.iam.model import Need

    principal = getattr(CALLER, "principal", None)
    if principal is None or not ENFORCEMENT.enabled or principal.kind == "admin":
        return
    try:
        ENFORCEMENT.require(principal, [Need(n[0], n[1], n[2] if len(n) > 2 else {}) for n in needs], region)
    except AccessDeniedError as exc:
        what = needs[0][1]
        raise QueryFailed(f"Permission denied on {what}: {exc}") from exc
