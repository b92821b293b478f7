"""PartiQL INSERT and UPDATE for moto's BatchExecuteStatement, with DynamoDB's documented semantics.

moto hands every statement to a generic PartiQL engine that first serialises every item of every table (one
90,000-statement object would take hours), and that engine neither refuses an INSERT of an existing key nor an
UPDATE of a missing item. DynamoDB does both:

- `INSERT INTO t VALUE {...}`: "If the DynamoDB table already has an item with the same primary key ...
  DuplicateItemException is returned" (ql-reference.insert); in a batch, the statement's error code is
  `DuplicateItem`.
- `UPDATE t SET a=? ... WHERE <key> AND <condition>`: "If the WHERE clause of the UPDATE statement does not
  evaluate to true for any item in the DynamoDB table, ConditionalCheckFailedException is returned"
  (ql-reference.update): a missing item is refused too. With `ReturnValuesOnConditionCheckFailure: ALL_OLD` the
  error carries the stored item (BatchStatementError.Item).
- An item over 400 KB is refused with `ValidationError`; every statement succeeds or fails on its own.

The two shapes are translated into moto's own PutItem / UpdateItem with a condition expression (so conditions,
size limits and stream records are moto's), each statement atomic; any other statement goes to moto as before.
"""

from __future__ import annotations

import re
import threading
from typing import Any

_INSERT = re.compile(r'^\s*INSERT\s+INTO\s+"([^"]+)"\s+VALUE\s+\{(?P<tuple>.*)\}\s*$', re.IGNORECASE | re.DOTALL)
_INSERT_FIELD = re.compile(r"^\s*'([^']+)'\s*:\s*\?\s*$")
_UPDATE = re.compile(
    r'^\s*UPDATE\s+"([^"]+)"\s+(?P<sets>SET\s+.+?)\s+WHERE\s+(?P<where>.+?)\s*$', re.IGNORECASE | re.DOTALL
)
_SET = re.compile(r'^\s*"?([A-Za-z_][\w]*)"?\s*=\s*\?\s*$')
_TERM = re.compile(r'^\s*"?([A-Za-z_][\w]*)"?\s*(=|<>|<=|>=|<|>)\s*\?\s*$')
_lock = threading.RLock()


class Unsupported(Exception):
    """A statement of another shape: moto's own engine handles it."""


def batch_execute_statement(backend: Any, statements: list[dict[str, Any]], fallback: Any) -> list[dict[str, Any]]:
    responses = []
    for statement in statements:
        try:
            responses.append(_execute(backend, statement))
        except Unsupported:
            responses.extend(fallback(backend, [statement]))
    return responses


def _execute(backend: Any, statement: dict[str, Any]) -> dict[str, Any]:
    from moto.dynamodb.exceptions import ConditionalCheckFailed, MockValidationException

    text, parameters = statement["Statement"], list(statement.get("Parameters", []))
    insert, update = _INSERT.match(text), _UPDATE.match(text)
    if insert is None and update is None:
        raise Unsupported
    table_name = (insert or update).group(1)  # type: ignore[union-attr]
    if table_name not in backend.tables:
        return {"Error": {"Code": "ResourceNotFound", "Message": "Requested resource not found"}}
    table = backend.tables[table_name]
    keys = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    with _lock:
        try:
            if insert is not None:
                names = _insert_names(insert.group("tuple"))
                if len(names) != len(parameters):
                    return _validation("the number of parameters does not match the statement")
                item = dict(zip(names, parameters, strict=True))
                if any(key not in item for key in keys):
                    return _validation("One or more parameter values were invalid: missing the key")
                if table.get_item(*_key_values(table, item)) is not None:  # atomic under the lock
                    return {
                        "Error": {"Code": "DuplicateItem", "Message": "Duplicate primary key exists in table"},
                        "TableName": table_name,
                    }
                backend.put_item(table_name, item)
            else:
                assert update is not None
                sets, conditions = _update_parts(update.group("sets"), update.group("where"))
                if len(sets) + len(conditions) != len(parameters):
                    return _validation("the number of parameters does not match the statement")
                values = dict(zip([f":v{n}" for n in range(len(parameters))], parameters, strict=True))
                names: dict[str, str] = {}
                assignments = []
                for n, name in enumerate(sets):
                    names[f"#s{n}"] = name
                    assignments.append(f"#s{n} = :v{n}")
                key: dict[str, Any] = {}
                checks = ["attribute_exists(#k0)"]
                names["#k0"] = keys[0]
                for n, (name, operator) in enumerate(conditions, start=len(sets)):
                    if name in keys and operator == "=":
                        key[name] = values.pop(f":v{n}")
                    else:
                        names[f"#c{n}"] = name
                        checks.append(f"#c{n} {operator} :v{n}")
                if set(key) != set(keys):
                    return _validation("Where clause does not contain a mandatory equality on all key attributes")
                try:
                    backend.update_item(
                        table_name,
                        key,
                        "SET " + ", ".join(assignments),
                        names,
                        values,
                        condition_expression=" AND ".join(checks),
                    )
                except ConditionalCheckFailed:
                    error: dict[str, Any] = {
                        "Code": "ConditionalCheckFailed",
                        "Message": "The conditional request failed",
                    }
                    stored = table.get_item(*_key_values(table, key))
                    if stored is not None and statement.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                        error["Item"] = stored.to_json()["Attributes"]
                    return {"Error": error, "TableName": table_name}
        except MockValidationException as exc:
            return _validation(exc.message)
    return {"TableName": table_name}


def _insert_names(body: str) -> list[str]:
    names = []
    for field in body.split(","):
        match = _INSERT_FIELD.match(field)
        if match is None:
            raise Unsupported  # literals, nested documents: moto's engine
        names.append(match.group(1))
    return names


def _update_parts(sets: str, where: str) -> tuple[list[str], list[tuple[str, str]]]:
    assignments = []
    for clause in re.split(r"\bSET\b", sets, flags=re.IGNORECASE)[1:]:
        match = _SET.match(clause)
        if match is None:
            raise Unsupported
        assignments.append(match.group(1))
    conditions = []
    for term in re.split(r"\bAND\b", where, flags=re.IGNORECASE):
        match = _TERM.match(term)
        if match is None:
            raise Unsupported  # OR, functions, literals: moto's engine
        conditions.append((match.group(1), match.group(2)))
    return assignments, conditions


def _key_values(table: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _validation(message: str) -> dict[str, Any]:
    return {"Error": {"Code": "ValidationError", "Message": message}}
