"""Amazon Kinesis Data Generator (KDG) record templates, rendered without a browser.

A template is text with `{{helper(args)}}` placeholders, as KDG users write them. Each template is compiled
once into literal parts and helper calls; rendering is then a join. An unknown helper fails at compile time
with its position in the template.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

# DESIGN.md §1: the record template users already run in KDG.
STOCK_UPDATE_TEMPLATE = (
    '{"accountId": {{random.number(100)}}, "retailerId": "retailer-{{random.number(90)}}", '
    '"channelId": {{random.number(10)}}, "productId": "{{random.number(1000)}}", '
    '"articleId": {{random.number(1000)}}, "articleNumber": {{random.number(1000)}}, '
    '"lastUpdated": "{{date.utc(\'YYYY-MM-DDTHH:mm:ss.SSSZ\')}}", "quantity": {{random.number(100)}}}'
)


@dataclass(frozen=True)
class Profile:
    """A KDG load profile: the rate users run and the Firehose buffer they pair it with."""

    name: str
    records_per_second: int
    buffer_seconds: int

    @property
    def records_per_buffer(self) -> int:
        return self.records_per_second * self.buffer_seconds


PROFILES = {
    "test": Profile("test", records_per_second=1, buffer_seconds=60),
    "real": Profile("real", records_per_second=300, buffer_seconds=300),
}


# A few faker.js generators, from fixed word lists so a seeded run repeats exactly (no Faker dependency).
FAKER_WORDS: dict[str, tuple[str, ...]] = {
    "name.firstName": ("Anna", "Ben", "Clara", "David", "Elif", "Finn", "Greta", "Hamza", "Ida", "Jonas", "Lea", "Max"),
    "name.lastName": ("Schmidt", "Meyer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch", "Richter", "Klein", "Wolf"),
    "commerce.productName": (
        "Ergonomic Steel Chair",
        "Rustic Cotton Shirt",
        "Sleek Granite Mug",
        "Handmade Wooden Table",
        "Practical Rubber Gloves",
        "Refined Plastic Bottle",
        "Small Frozen Pizza",
        "Generic Soft Towels",
    ),
    "commerce.department": ("Books", "Clothing", "Garden", "Grocery", "Home", "Outdoors", "Sports", "Toys"),
    "commerce.color": ("red", "green", "blue", "black", "white", "orange", "purple", "grey"),
    "company.companyName": ("Acme GmbH", "Globex AG", "Initech KG", "Northwind SE", "Umbrella Ltd", "Hooli Inc"),
    "address.city": ("Berlin", "Hamburg", "München", "Köln", "Leipzig", "Dresden", "Bremen", "Borkum"),
    "address.countryCode": ("DE", "AT", "CH", "NL", "FR", "PL", "DK", "IT"),
    "lorem.word": ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"),
}


class TemplateError(ValueError):
    """A template that cannot be rendered; the message names the position."""


_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_CALL = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*\((.*)\)\s*$", re.DOTALL)


def _parse_args(text: str, position: int) -> list[object]:
    """Helper arguments are JavaScript literals; single-quoted strings are accepted like KDG does."""
    text = text.strip()
    if not text:
        return []
    normalised = re.sub(r"'((?:[^'\\]|\\.)*)'", lambda m: json.dumps(m.group(1)), text)
    normalised = re.sub(r"([{,]\s*)([A-Za-z_]\w*)\s*:", r'\1"\2":', normalised)  # {min: 1} -> {"min": 1}
    try:
        return json.loads(f"[{normalised}]")
    except json.JSONDecodeError as exc:
        raise TemplateError(f"cannot read the arguments {text!r} at position {position}: {exc.msg}") from exc


_MOMENT_TOKENS = [
    ("YYYY", lambda d: f"{d.year:04d}"),
    ("YY", lambda d: f"{d.year % 100:02d}"),
    ("MM", lambda d: f"{d.month:02d}"),
    ("M", lambda d: str(d.month)),
    ("DD", lambda d: f"{d.day:02d}"),
    ("D", lambda d: str(d.day)),
    ("HH", lambda d: f"{d.hour:02d}"),
    ("H", lambda d: str(d.hour)),
    ("hh", lambda d: f"{(d.hour % 12) or 12:02d}"),
    ("mm", lambda d: f"{d.minute:02d}"),
    ("ss", lambda d: f"{d.second:02d}"),
    ("SSS", lambda d: f"{d.microsecond // 1000:03d}"),
    ("SS", lambda d: f"{d.microsecond // 10000:02d}"),
    ("S", lambda d: str(d.microsecond // 100000)),
    ("ZZ", lambda d: d.strftime("%z") or "+0000"),
    ("Z", lambda d: (lambda z: f"{z[:3]}:{z[3:]}")(d.strftime("%z") or "+0000")),
    ("A", lambda d: "AM" if d.hour < 12 else "PM"),
    ("x", lambda d: str(int(d.timestamp() * 1000))),
    ("X", lambda d: str(int(d.timestamp()))),
]
_MOMENT_RE = re.compile(r"\[([^\]]*)\]|" + "|".join(re.escape(t) for t, _ in _MOMENT_TOKENS))
_MOMENT_FUNCS = dict(_MOMENT_TOKENS)


def format_moment(when: datetime, fmt: str) -> str:
    """moment.js formatting (the tokens KDG templates use); `[text]` is literal, as in moment."""
    return _MOMENT_RE.sub(lambda m: m.group(1) if m.group(1) is not None else _MOMENT_FUNCS[m.group(0)](when), fmt)


class Renderer:
    """Helpers available to templates. Seeded, so a run can be repeated exactly."""

    def __init__(self, seed: int | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.random = random.Random(seed)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.helpers: dict[str, Callable[..., object]] = {
            "random.number": self._number,
            "random.arrayElement": self._array_element,
            "random.arrayElements": self._array_elements,
            "random.uuid": lambda: str(uuid.UUID(int=self.random.getrandbits(128), version=4)),
            "random.boolean": lambda: "true" if self.random.random() < 0.5 else "false",
            "date.utc": lambda fmt="YYYY-MM-DDTHH:mm:ss.SSSZ": format_moment(self.clock().astimezone(UTC), fmt),
            "date.now": lambda fmt="YYYY-MM-DDTHH:mm:ss.SSSZ": format_moment(self.clock().astimezone(), fmt),
        }
        for name, words in FAKER_WORDS.items():
            pick = self._picker(words)
            self.helpers[f"faker.{name}"] = pick
            self.helpers[name] = pick  # KDG also accepts faker.js names without the prefix
        self.helpers["faker.internet.email"] = self.helpers["internet.email"] = self._email

    def _picker(self, words: Sequence[str]) -> Callable[[], str]:
        return lambda: self.random.choice(words)

    def _array_element(self, values: object = None) -> object:
        if not isinstance(values, list) or not values:
            raise TemplateError('random.arrayElement needs a non-empty array, e.g. random.arrayElement(["a", "b"])')
        return self.random.choice(values)

    def _array_elements(self, values: object = None, count: object = None) -> str:
        if not isinstance(values, list) or not values:
            raise TemplateError("random.arrayElements needs a non-empty array")
        n = self.random.randint(1, len(values)) if count is None else min(int(count), len(values))  # type: ignore[call-overload]
        return json.dumps(self.random.sample(values, n))

    def _email(self) -> str:
        first = self.random.choice(FAKER_WORDS["name.firstName"]).lower()
        last = self.random.choice(FAKER_WORDS["name.lastName"]).lower()
        return f"{first}.{last}@example.com"

    def _number(self, spec: object = 999) -> int:
        if isinstance(spec, dict):
            low, high = int(spec.get("min", 0)), int(spec.get("max", 999))
        else:
            low, high = 0, int(spec)  # type: ignore[call-overload]
        return self.random.randint(low, high)

    def compile(self, template: str) -> Callable[[], str]:
        parts: list[str | tuple[Callable[..., object], list[object]]] = []
        last = 0
        for match in _PLACEHOLDER.finditer(template):
            parts.append(template[last : match.start()])
            call = _CALL.match(match.group(1))
            name = call.group(1) if call else match.group(1).strip()
            helper = self.helpers.get(name)
            if helper is None:
                raise TemplateError(f"unknown helper {name!r} at position {match.start()} of the template")
            parts.append((helper, _parse_args(call.group(2), match.start()) if call else []))
            last = match.end()
        parts.append(template[last:])

        def render() -> str:
            return "".join(p if isinstance(p, str) else str(p[0](*p[1])) for p in parts)

        return render

    def records(self, template: str, count: int) -> list[str]:
        render = self.compile(template)
        return [render() for _ in range(count)]


def render_records(
    count: int, *, seed: int | None = None, templates: Sequence[str] = (STOCK_UPDATE_TEMPLATE,)
) -> list[str]:
    renderer = Renderer(seed)
    compiled = [renderer.compile(t) for t in templates]
    return [compiled[i % len(compiled)]() for i in range(count)]
