"""Shared fixtures. No test reaches AWS: fake credentials, moto in-process or the local stack on 127.0.0.1."""

import copy
import json
import os
import random
import zlib
from pathlib import Path
from urllib.parse import quote_plus

import pytest

for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

EVENTS = Path(__file__).parents[1] / "events"
E2E_SHARES = 2  # the end-to-end tests of one Region's stack, in this many groups


# moto's in-process mock (`mock_aws`) empties every backend of the process when it starts and stops: these run
# first on their worker, before that worker holds a stack it will come back to.
MOTO_RESETS = ("tests/integration/test_preflight.py", "tests/unit/test_moto_patches.py")
# Modules that take minutes on their own (`--durations`): each its own group, handed out next.
SLOWEST_FIRST = ("tests/e2e/test_reevaluation_e2e.py", "tests/e2e/test_chaos.py", "tests/e2e/test_stock_updates_e2e.py")


def pytest_configure(config):
    """pytest collects garbage five times over when a session ends, to report exceptions raised in finalizers; a
    worker's heap then holds the moto state of every stack it ran, and those five passes took about ten seconds at
    the end of each worker. One pass finds them as well (objects left after it are unreachable cycles a second
    pass would find only if the first pass's finalizers made new ones)."""
    from _pytest import unraisableexception

    config.stash[unraisableexception.gc_collect_iterations_key] = 1
    _order_seed()  # chosen here, before pytest-xdist starts its workers, which inherit it


ORDER_SEED = "TEST_ORDER_SEED"  # a number repeats a run's order; "file" keeps the order of the files


def _order_seed() -> int | None:
    """Set once, in the process that starts pytest: pytest-xdist's workers inherit it (each must collect the same
    order)."""
    value = os.environ.setdefault(ORDER_SEED, str(random.SystemRandom().randrange(1_000_000)))
    return None if value == "file" else int(value)


def _shuffled_within_modules(items, seed):
    """Each test sets up what it asserts on: shuffled within its module, a test that leans on another's leftovers
    (or is broken by them) fails within a few runs instead of hiding behind the file's order."""
    modules = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    for module, group in modules.items():  # each module by its own seed: the same order whatever else is selected
        random.Random(f"{seed}:{module}").shuffle(group)
    return [item for group in modules.values() for item in group]


def pytest_terminal_summary(terminalreporter):
    seed = os.environ.get(ORDER_SEED)
    how = "in the order of their files" if seed == "file" else f"shuffled within each module, seed {seed}"
    terminalreporter.write_line(f"tests ran {how}: {ORDER_SEED}={seed} repeats the order")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups off the items
def pytest_collection_modifyitems(config, items):
    """`make test` runs on every core (pytest-xdist, --dist loadgroup, groups handed out in this order with
    --no-loadscope-reorder): what shares state stays on one worker, in order. A test module with its own stack
    (the integration modules, the end-to-end modules that start one) is a group; the end-to-end tests of a
    Region's shared stack are split into E2E_SHARES groups by module, so that each worker starts that stack once
    per share it runs; the tests of moto's in-process mock go first, then the slowest modules, each a group of its
    own, so that the rest fills the other core meanwhile. Unit tests go wherever a core is free."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        if module in MOTO_RESETS:
            item.add_marker(pytest.mark.xdist_group("moto-resets"))
            continue
        if module.startswith("tests/unit/"):
            continue
        region = getattr(getattr(item, "callspec", None), "params", {}).get("local_stack")
        share = zlib.crc32(module.encode()) % E2E_SHARES
        group = f"e2e-{region}-{share}" if region and module not in SLOWEST_FIRST else module
        item.add_marker(pytest.mark.xdist_group(f"{group}-{region}" if module in SLOWEST_FIRST and region else group))
    seed = _order_seed()
    if seed is not None:
        items[:] = _shuffled_within_modules(items, seed)
    rank = {module: n for n, module in enumerate(MOTO_RESETS + SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: the rest keeps its order


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def sqs_event_for(objects: list[tuple[str, str, str]], *, event_time: str | None = None) -> dict:
    """The sample SQS event of events/, one message per (bucket, key, etag), keys URL-encoded as S3 sends them."""
    template = load_event("sqs_s3_object_created.json")["Records"][0]
    records = []
    for n, (bucket, key, etag) in enumerate(objects):
        record = copy.deepcopy(template)
        body = json.loads(record["body"])
        s3 = body["Records"][0]["s3"]
        s3["bucket"]["name"], s3["bucket"]["arn"] = bucket, f"arn:aws:s3:::{bucket}"
        s3["object"]["key"], s3["object"]["eTag"] = quote_plus(key), etag
        if event_time:
            body["Records"][0]["eventTime"] = event_time
        record["body"] = json.dumps(body)
        record["messageId"] = f"message-{n}"
        records.append(record)
    return {"Records": records}


def totp(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows for a base32 key now (RFC 6238: HMAC-SHA1, 30 s, 6 digits)."""
    import base64
    import hashlib
    import hmac
    import struct
    import time

    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int((time.time() if at is None else at) // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"
