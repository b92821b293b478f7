"""Small corrections to moto for the local stack, each with its reason.

- The moto server lists its own package folder (120 stat calls) on every request to route it by host name;
  the folder does not change while the server runs, so the list is computed once. (20-50 ms per request.)
- The server's request handler leaves Nagle's algorithm on: TCP_NODELAY makes a request from another process
  over loopback cheaper. (It also answers every request with `Connection: close`, whatever the protocol version
  set below, so keep-alive is not to be had; the stack's own process skips the socket instead: transport.py.)
- Query: moto sorts every item of the table, then compares each with the key condition, on every Query: a
  GSI look-up per item over a table of 20,000 items takes seconds. The sorted items, and per index the items
  by hash key, are kept until the next write to that table (put, update, delete), so reads between writes are
  answered from the same order moto computes.
- TransactWriteItems: moto deep-copies the whole table (items and stream records) once per *action* to be able
  to roll back, i.e. up to 100 copies per transaction; a 100-action transaction on a table of a few thousand
  items then takes seconds, and even one copy per transaction was an eighth of the suite's time. A transaction
  only writes the items its actions name: copies of those (or their absence) and the length of each table's
  stream are kept, and put back if moto cancels it, which is the same rollback.
- BatchExecuteStatement: INSERT and UPDATE get DynamoDB's documented semantics (DuplicateItem; an UPDATE of a
  missing item refused; the stored item with ALL_OLD) at the cost of one PutItem/UpdateItem each, instead of a
  generic PartiQL engine that serialises the whole table for every statement (local_aws/partiql.py).
- TransactWriteItems' ClientRequestToken, which moto ignores, is honoured as DynamoDB documents it
  (local_aws/dynamodb_tokens.py).
- Item size: moto re-adds the size of every attribute of an item each time one attribute is set (quadratic per
  item, a fifth of its time per written item). The running size is kept instead; the 400 KB check is the same.
- Browser uploads (S3 POST with a policy): moto stores whatever is posted. S3 checks the signed policy: a SigV4
  signature by known credentials for the bucket's Region, s3:PutObject on the key for the signer (local_aws.iam),
  not expired, every form field the conditions name equal (or starting with) the signed value, the file's size
  within `content-length-range`; without a policy a private bucket refuses. Those checks are made here, so the
  console's presigned POSTs are tested the way S3 treats them.
- DynamoDB reads see whole writes: moto applies an update clause by clause to the stored item, in place, while
  the server's other threads read it, so a Query could return an item with half its attributes (AWS applies a
  write atomically: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
  The backend's item operations take one lock (moto is bound by the GIL anyway).
- Bucket policies: moto evaluates them itself on object reads and writes, and reads any statement whose condition
  it cannot evaluate as a deny (the template's deny-unless-TLS statement would refuse every request). local_aws.iam
  evaluates them (with aws:SecureTransport and every other key), so moto's own verdict is left out.
- SNS subjects: moto takes up to 100 characters of anything; SNS documents ASCII text that begins with a letter,
  number or punctuation mark, without line breaks or control characters, fewer than 100 characters
  (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html), and answers InvalidParameter otherwise.
- Cognito TOTP: moto accepts any authenticator code unless told to check them; they are checked here, against the
  secret moto hands out, with one 30-second step of drift either way (RFC 6238, section 5.2). And where the pool
  requires MFA, a user who has none set up gets the MFA_SETUP challenge from a password sign-in, as Cognito
  answers (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_InitiateAuth.html);
  moto signs such a user straight in.
"""

from __future__ import annotations

import copy
import threading
import types
import weakref
from typing import Any

from local_aws import moto_reads

_installed = False
_lock = threading.Lock()


def install() -> None:
    global _installed
    if _installed:
        return
    from moto import backends
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    _cache_table_reads(models, Table)
    moto_reads.install()
    _s3_events_name_the_caller()
    from local_aws import sqs_move

    sqs_move.install()  # SQS's message move task (`stockctl redrive --queue ingest`)
    from local_aws import athena, dynamodb_export

    athena.install()  # queries run in DuckDB over moto's S3 through moto's Glue catalog
    dynamodb_export.install()  # exports to S3 in DynamoDB's layout
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.protocol_version = "HTTP/1.1"
    WSGIRequestHandler.disable_nagle_algorithm = True

    original = models.DynamoDBBackend.transact_write_items

    def backup(obj: Any, memo: Any = None) -> Any:
        # moto's "backup" of a table is the table itself (`_TransactionBackup` keeps what it needs); the item copies
        # update_item takes for the stream's old image stay copies
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    unchanged = types.SimpleNamespace(deepcopy=backup)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            before = _TransactionBackup(self, transact_items)
            models.copy = unchanged  # type: ignore[attr-defined]
            try:
                return original(self, transact_items)
            except Exception:
                before.restore()  # moto put its "backup" back (the same tables): the items and streams go back here
                raise
            finally:
                models.copy = copy  # type: ignore[attr-defined]
                # a transaction changes items without put_item or update_item (and a cancelled one puts them
                # back): the cached reads of every table are stale either way
                for table in self.tables.values():
                    _changed(table)

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

    _running_item_size()
    _enforce_post_policy()
    _bucket_policies_evaluated_once()
    _sns_subjects_as_documented()
    _cognito_checks_totp_codes()
    from local_aws import dynamodb_tokens

    dynamodb_tokens.install()  # TransactWriteItems' ClientRequestToken, as DynamoDB documents it
    from local_aws import partiql

    original_batch = models.DynamoDBBackend.batch_execute_statement
    models.DynamoDBBackend.batch_execute_statement = (  # type: ignore[method-assign]
        lambda self, statements: partiql.batch_execute_statement(self, statements, original_batch)
    )
    _whole_writes(models.DynamoDBBackend)
    _update_expressions_checked_once()
    _installed = True


class _TransactionBackup:
    """What a TransactWriteItems can change, as it was before: the item at each key its actions name (a copy, or
    None where there was none; moto updates items in place) and each table's stream length."""

    def __init__(self, backend: Any, transact_items: list[dict[str, Any]]) -> None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        self._items: dict[tuple[int, Any, Any], tuple[Any, Any, Any, Any]] = {}
        self._streams: dict[int, tuple[Any, int]] = {}
        for action in transact_items:
            op = next(iter(action.values()), None)
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            key = (op.get("Item") if "Item" in op else op.get("Key")) if table is not None else None
            if not isinstance(key, dict) or table.hash_key_attr not in key:
                continue  # moto refuses the action itself
            if table.range_key_attr is not None and table.range_key_attr not in key:
                continue
            values = [key[table.hash_key_attr], key[table.range_key_attr] if table.range_key_attr else None]
            if not all(isinstance(v, dict) and len(v) == 1 for v in values if v is not None):
                continue  # a malformed key value: moto answers it
            hash_key, range_key = (None if v is None else DynamoType(v) for v in values)
            slot = (id(table), hash_key, range_key)
            if slot not in self._items:
                partition = table.items.get(hash_key)
                stored = partition if range_key is None else (partition or {}).get(range_key)
                self._items[slot] = (table, hash_key, range_key, copy.deepcopy(stored))
            if table.stream_shard is not None and id(table) not in self._streams:
                self._streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))

    def restore(self) -> None:
        for table, hash_key, range_key, stored in self._items.values():
            if range_key is None:
                if stored is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = stored
                continue
            partition = table.items.get(hash_key)
            if stored is not None:
                table.items[hash_key][range_key] = stored
            elif partition is not None:
                partition.pop(range_key, None)
                if not partition:
                    del table.items[hash_key]
        for shard, length in self._streams.values():
            del shard.items[length:]


def _update_expressions_checked_once() -> None:
    """moto parses an UpdateExpression twice per call, then walks a copy of its tree once per check, and its
    clause-count check counts the clauses again at every nested node of the tree (quadratic in the actions): about
    8 ms an UpdateItem, most of the 10,000-threshold test's time. The same checks, cheaper: the parsed tree cached
    per expression text (moto's callers only read it; its validator works on a copy), the clause counts taken at
    the root only (the root's count includes every nested one, so the same expressions are refused), and each
    traverser's node types computed once per class."""
    from functools import lru_cache

    from moto.dynamodb.parsing import ast_nodes, expressions, validators

    parse = expressions.UpdateExpressionParser.make.__func__
    cached = lru_cache(maxsize=256)(lambda cls, text: parse(cls, text))
    expressions.UpdateExpressionParser.make = classmethod(lambda cls, text: cached(cls, text))  # type: ignore

    count = validators.ActionCountValidator.verify_action_counts

    def at_the_root(self: Any, node: Any) -> Any:
        return count(self, node) if node.parent is None else node

    validators.ActionCountValidator.verify_action_counts = at_the_root  # type: ignore[method-assign]
    types: dict[type, tuple[type, ...]] = {}

    def node_types(self: Any) -> tuple[type, ...]:
        kind = type(self)
        if kind not in types:
            types[kind] = tuple(self._processing_map().keys())
        return types[kind]

    ast_nodes.DepthFirstTraverser.nodes_to_be_processed = node_types  # type: ignore[method-assign]


_reads: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _changed(table: Any) -> None:
    _reads.pop(table, None)


def _cache_table_reads(models: Any, table_class: Any) -> None:
    put_item, delete_item, all_items, query = (
        table_class.put_item,
        table_class.delete_item,
        table_class.all_items,
        table_class.query,
    )
    update_item = models.DynamoDBBackend.update_item

    def cached_put(self: Any, *args: Any, **kwargs: Any) -> Any:
        _changed(self)
        return put_item(self, *args, **kwargs)

    def cached_delete(self: Any, *args: Any, **kwargs: Any) -> Any:
        _changed(self)
        return delete_item(self, *args, **kwargs)

    def backend_update(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return update_item(self, table_name, *args, **kwargs)
        finally:
            _changed(self.get_table(table_name))

    def cached_all_items(self: Any) -> list[Any]:
        reads = _reads.setdefault(self, {})
        if "all" not in reads:
            reads["all"] = all_items(self)
        return reads["all"]

    def cached_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        conditions = kwargs.get("hash_key_conditions")
        index_name = kwargs.get("index_name", args[7] if len(args) > 7 else None)  # moto passes it by position
        if not index_name:
            # A Query of the table reads one partition: hand moto that partition instead of the whole table,
            # which it would sort on every call after a write (a nightly validation run reads the ledger
            # after each of its writes: 33 ms a call at 10,000 items, 0.1 ms this way).
            hash_key = args[0] if args else kwargs.get("hash_key")
            if hash_key is None or not self.range_key_attr:
                return query(self, *args, **kwargs)
            partition = self.items.get(hash_key, {})
            return _narrowed(self, sorted(partition.values(), key=lambda item: item.range_key), query, args, kwargs)
        if not conditions:
            return query(self, *args, **kwargs)
        names = tuple(name for name, _ in conditions)
        reads = _reads.setdefault(self, {})
        by_hash = reads.get(names)
        if by_hash is None:
            by_hash = {}
            for item in cached_all_items(self):
                values = [item.attrs.get(name) for name in names]
                if all(v is not None for v in values):
                    by_hash.setdefault(tuple(_raw(v) for v in values), []).append(item)
            reads[names] = by_hash
        partition = tuple(_raw(value) for _, value in conditions)
        subset = by_hash.get(partition, [])
        subset = moto_reads.page_window(self, reads, index_name, (names, partition), subset, args, kwargs)
        return _narrowed(self, subset, query, args, kwargs)

    def narrowed_all_items(self: Any) -> list[Any]:
        subset = getattr(_narrowing, "subsets", {}).get(id(self))
        return subset if subset is not None else cached_all_items(self)

    table_class.put_item = cached_put
    table_class.delete_item = cached_delete
    table_class.all_items = narrowed_all_items
    table_class.query = cached_query
    models.DynamoDBBackend.update_item = backend_update


_narrowing = threading.local()


def _narrowed(table: Any, subset: list[Any], query: Any, args: Any, kwargs: Any) -> Any:
    """Run moto's query with its one read of all items narrowed to `subset`, for this thread only (moto's server
    answers requests on threads; another thread's read of the same table sees all of it)."""
    subsets = _narrowing.__dict__.setdefault("subsets", {})
    subsets[id(table)] = subset
    try:
        return query(table, *args, **kwargs)
    finally:
        subsets.pop(id(table), None)


def _raw(value: Any) -> tuple[str, str]:
    return value.type, repr(value.value)


def _running_item_size() -> None:
    """LimitedSizeDict.__setitem__ with the sum it computes kept between calls (same check, same error)."""
    from moto.dynamodb.models import dynamo_type

    limited = dynamo_type.LimitedSizeDict
    original_setitem = limited.__setitem__

    def part(thing: Any) -> int:
        return thing.size() if type(thing) is dynamo_type.DynamoType else dynamo_type.bytesize(str(thing))

    def setitem(self: Any, key: str, value: Any) -> None:
        current = self.__dict__.get("_size")
        if current is None:  # first set since creation or another kind of change: count once, as moto does
            current = sum(part(k) + part(v) for k, v in self.items())
        new = part(key) + part(value)
        if current + new > 405000:  # moto's limit (between AWS's documented 400 KB and the measured 409 KB)
            original_setitem(self, key, value)  # raises ItemSizeTooLarge exactly as moto does
        old = part(key) + part(dict.__getitem__(self, key)) if key in self else 0
        dict.__setitem__(self, key, value)
        self.__dict__["_size"] = current + new - old

    def forget(method: Any) -> Any:
        def changed(self: Any, *args: Any, **kwargs: Any) -> Any:
            self.__dict__.pop("_size", None)
            return method(self, *args, **kwargs)

        return changed

    limited.__setitem__ = setitem  # type: ignore[method-assign]
    for name in ("__delitem__", "pop", "popitem", "clear", "update", "setdefault"):
        setattr(limited, name, forget(getattr(dict, name)))


def _s3_events_name_the_caller() -> None:
    """S3's event records carry userIdentity.principalId, the principal whose request caused the event
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html); moto's leave
    it out. The enforcer notes each request's principal in the serving thread, which also sends the event."""
    from moto.s3 import notifications

    original = notifications._get_s3_event

    def event(*args: Any, **kwargs: Any) -> Any:
        from local_aws.iam.enforcer import CALLER, principal_id

        made = original(*args, **kwargs)
        for record in made["Records"]:
            record["userIdentity"] = {"principalId": principal_id(getattr(CALLER, "principal", None))}
        return made

    notifications._get_s3_event = event


def _enforce_post_policy() -> None:
    import base64
    import datetime
    import json

    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_post

    def refuse(status: int, code: str, message: str) -> Any:
        body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
        return status, {"Content-Type": "application/xml"}, body

    def post(self: Any, request: Any, bucket_name: str) -> Any:
        if "delete" in self.querystring:  # DeleteObjects is a POST too
            return original(self, request, bucket_name)
        fields = {name.lower(): values[0] for name, values in self.querystring.items() if values}
        if "policy" not in fields:
            return refuse(403, "AccessDenied", "a browser upload needs a signed policy")
        from local_aws.iam.enforcer import ENFORCEMENT

        refused = ENFORCEMENT.check_post(bucket_name, fields)
        if refused is not None:
            return refuse(*refused)
        policy = json.loads(base64.b64decode(fields["policy"]))
        expires = datetime.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        if expires < datetime.datetime.now(datetime.UTC):
            return refuse(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        size = len(self.body or b"")
        for condition in policy.get("conditions", []):
            if isinstance(condition, dict):
                condition = ["eq", *next(iter(condition.items()))]
                condition[1] = "$" + condition[1]
            operator, *args = condition
            if operator == "content-length-range":
                low, high = int(args[0]), int(args[1])
                if size > high:
                    return refuse(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
                if size < low:
                    return refuse(
                        400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
                    )
                continue
            name, expected = args[0].lstrip("$").lower(), str(args[1])
            actual = bucket_name if name == "bucket" else fields.get(name, "")
            if (operator == "eq" and actual != expected) or (
                operator == "starts-with" and not actual.startswith(expected)
            ):
                return refuse(403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {condition}")
        return original(self, request, bucket_name)

    S3Response._bucket_response_post = post  # type: ignore[method-assign]


def _bucket_policies_evaluated_once() -> None:
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    FakeBucket.get_permission = lambda self, action, resource: PermissionResult.NEUTRAL  # type: ignore[method-assign]


def _sns_subjects_as_documented() -> None:
    import re

    from moto.sns.exceptions import InvalidParameterValue
    from moto.sns.models import SNSBackend

    original = SNSBackend.publish
    allowed = re.compile(r"^[A-Za-z0-9!-/:-@\[-`{-~][ -~]{0,98}$")

    def publish(self: Any, message: str, arn: str | None, *args: Any, **kwargs: Any) -> str:
        subject = kwargs.get("subject", args[1] if len(args) > 1 else None)
        if subject is not None and not allowed.match(subject):
            raise InvalidParameterValue("Invalid parameter: Subject")
        return original(self, message, arn, *args, **kwargs)

    SNSBackend.publish = publish  # type: ignore[method-assign]


def _cognito_checks_totp_codes() -> None:
    from moto.cognitoidp import models, utils

    check = utils.verify_totp
    models.get_cognito_idp_user_pool_enable_totp = lambda: True  # type: ignore[attr-defined]
    models.verify_totp = lambda totp, code, valid_window=1: check(totp, code, valid_window)  # type: ignore[attr-defined]

    original = models.CognitoIdpBackend.initiate_auth

    def initiate_auth(self: Any, client_id: str, auth_flow: str, auth_parameters: dict[str, str]) -> Any:
        answer = original(self, client_id, auth_flow, auth_parameters)
        if "AuthenticationResult" not in answer or str(auth_flow) != "USER_PASSWORD_AUTH":
            return answer
        pool = next(p for p in self.user_pools.values() if client_id in p.clients)
        user = pool._get_user(auth_parameters.get("USERNAME"))
        if pool.mfa_config == "ON" and pool.token_mfa_config == {"Enabled": True} and not user.token_verified:
            session = str(models.random.uuid4())
            self.sessions[session] = (user.username, pool)
            return {
                "ChallengeName": "MFA_SETUP",
                "ChallengeParameters": {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]'},
                "Session": session,
            }
        return answer

    models.CognitoIdpBackend.initiate_auth = initiate_auth  # type: ignore[method-assign]


_items = threading.RLock()


def _whole_writes(backend: Any) -> None:
    def locked(method: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _items:
                return method(self, *args, **kwargs)

        return call

    for name in (
        "put_item",
        "get_item",
        "query",
        "scan",
        "update_item",
        "delete_item",
        "transact_write_items",
        "execute_statement",
        "execute_transaction",
        "batch_execute_statement",
    ):
        setattr(backend, name, locked(getattr(backend, name)))
