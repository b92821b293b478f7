"""Supplier profiles: how to read each supplier's workbook, declared as data (JSON), never as code.

A profile names the sheet, the header row, the part-number and stock columns (by header name or by position) and
one value rule from a fixed set. The document is checked strictly, every problem reported at once, so a typo in
an override uploaded to S3 fails loudly instead of silently reading the wrong column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stock_pipeline.domain.errors import PipelineError

RULES = ("numeric", "yes_no", "labels")
YES_TEXTS = frozenset({"yes", "y", "true", "1", "ja", "oui"})
NO_TEXTS = frozenset({"no", "n", "false", "0", "nein", "non"})
_LETTERS = re.compile(r"^[A-Za-z]{1,3}$")


class ProfileError(PipelineError):
    """The profiles document is invalid, or a supplier has no profile: the file cannot be read as declared."""


@dataclass(frozen=True, slots=True)
class Column:
    """A column by header name (case and surrounding blanks ignored) or by 1-based position."""

    name: str | None = None
    position: int | None = None

    def describe(self) -> str:
        if self.name is not None:
            return f"column {self.name!r}"
        return f"column {column_letters(self.position or 1)} (position {self.position})"


@dataclass(frozen=True, slots=True)
class ValueRule:
    rule: str
    minimum: int | None = None
    maximum: int | None = None
    yes: int = 0
    no: int = 0
    labels: Mapping[str, int] = field(default_factory=dict)  # keys casefolded


@dataclass(frozen=True, slots=True)
class SupplierProfile:
    supplier: str
    sheet: str | int  # a name, or a 1-based index
    header_row: int  # 1-based, as Excel numbers rows
    part_number: Column
    stock: Column
    value: ValueRule
    zero_missing: bool = False  # eBay: a listing whose SKU the latest feed lacks shows 0 (default: last known)

    def describe_sheet(self) -> str:
        return f"sheet {self.sheet!r}" if isinstance(self.sheet, str) else f"sheet #{self.sheet}"


def column_letters(position: int) -> str:
    """1 -> A, 27 -> AA: how people name columns in the messages they read."""
    letters = ""
    while position > 0:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def supplier_name(text: str) -> str:
    """Suppliers are matched case-insensitively: the folder `ACME/` and the profile `acme` are one supplier."""
    return text.strip().lower()


def parse_profiles(document: bytes | str | Mapping[str, Any], *, source: str) -> dict[str, SupplierProfile]:
    """Profiles keyed by supplier; raises ProfileError naming every problem and the document it came from."""
    if isinstance(document, bytes | str):
        try:
            document = json.loads(document)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProfileError(f"supplier profiles {source}: not valid JSON: {exc}") from exc
    problems: list[str] = []
    if not isinstance(document, Mapping) or not isinstance(document.get("suppliers"), Mapping):
        raise ProfileError(f'supplier profiles {source}: expected {{"suppliers": {{"<supplier>": {{...}}}}}}')
    _unknown_keys(document, {"suppliers", "description"}, "document", problems)
    profiles: dict[str, SupplierProfile] = {}
    for raw_name, spec in document["suppliers"].items():
        name = supplier_name(str(raw_name))
        where = f"supplier {name!r}"
        if not name or "/" in name:
            problems.append(f"{where}: a supplier name must be a non-empty folder name")
            continue
        if not isinstance(spec, Mapping):
            problems.append(f"{where}: expected an object")
            continue
        profile = _profile(name, spec, where, problems)
        if profile is not None:
            profiles[name] = profile
    if problems:
        raise ProfileError(f"supplier profiles {source}: " + "; ".join(problems))
    return profiles


def _profile(name: str, spec: Mapping[str, Any], where: str, problems: list[str]) -> SupplierProfile | None:
    before = len(problems)
    _unknown_keys(
        spec,
        {"sheet", "header_row", "part_number", "stock", "value", "missing_in_feed", "description"},
        where,
        problems,
    )
    missing_in_feed = spec.get("missing_in_feed", "keep")
    if missing_in_feed not in ("keep", "zero"):
        problems.append(f'{where}: missing_in_feed must be "keep" (last known quantity) or "zero"')
    sheet = spec.get("sheet", 1)
    if isinstance(sheet, bool) or not (
        (isinstance(sheet, str) and sheet.strip()) or (isinstance(sheet, int) and sheet >= 1)
    ):
        problems.append(f"{where}: sheet must be a sheet name or a 1-based index")
    header_row = spec.get("header_row", 1)
    if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
        problems.append(f"{where}: header_row must be a positive integer (1 is the first row)")
    part_number = _column(spec.get("part_number"), f"{where}, part_number", problems)
    stock = _column(spec.get("stock"), f"{where}, stock", problems)
    value = _rule(spec.get("value"), f"{where}, value", problems)
    if len(problems) > before or part_number is None or stock is None or value is None:
        return None
    return SupplierProfile(name, sheet, header_row, part_number, stock, value, missing_in_feed == "zero")


def _column(spec: Any, where: str, problems: list[str]) -> Column | None:
    if not isinstance(spec, Mapping) or len(spec) != 1 or not ({"name", "position"} >= set(spec)):
        problems.append(f'{where}: expected {{"name": "<header>"}} or {{"position": <number or letters>}}')
        return None
    if "name" in spec:
        if not isinstance(spec["name"], str) or not spec["name"].strip():
            problems.append(f"{where}: name must be a non-empty header text")
            return None
        return Column(name=spec["name"].strip())
    position = spec["position"]
    if isinstance(position, str) and _LETTERS.match(position.strip()):
        number = 0
        for letter in position.strip().upper():
            number = number * 26 + ord(letter) - 64
        return Column(position=number)
    if isinstance(position, bool) or not isinstance(position, int) or position < 1:
        problems.append(f"{where}: position must be a 1-based number or column letters like 'C'")
        return None
    return Column(position=position)


def _rule(spec: Any, where: str, problems: list[str]) -> ValueRule | None:
    if not isinstance(spec, Mapping) or spec.get("rule") not in RULES:
        problems.append(f"{where}: rule must be one of {', '.join(RULES)}")
        return None
    rule = spec["rule"]
    if rule == "numeric":
        _unknown_keys(spec, {"rule", "min", "max"}, where, problems)
        low, high = spec.get("min"), spec.get("max")
        for label, bound in (("min", low), ("max", high)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                problems.append(f"{where}: {label} must be an integer")
                return None
        if low is not None and high is not None and low > high:
            problems.append(f"{where}: min {low} is above max {high}")
            return None
        return ValueRule(rule, minimum=low, maximum=high)
    if rule == "yes_no":
        _unknown_keys(spec, {"rule", "yes", "no"}, where, problems)
        yes, no = spec.get("yes"), spec.get("no", 0)
        if not _quantity(yes) or not _quantity(no):
            problems.append(f"{where}: yes and no must be non-negative integers (the stock each stands for)")
            return None
        return ValueRule(rule, yes=yes, no=no)
    _unknown_keys(spec, {"rule", "labels"}, where, problems)
    labels = spec.get("labels")
    if not isinstance(labels, Mapping) or not labels:
        problems.append(f'{where}: labels must map each text to a stock figure, e.g. {{"In Stock": 50}}')
        return None
    bad = [text for text, number in labels.items() if not _quantity(number)]
    if bad:
        problems.append(f"{where}: labels {', '.join(map(repr, bad))} must map to non-negative integers")
        return None
    return ValueRule(rule, labels={str(text).strip().casefold(): number for text, number in labels.items()})


def _quantity(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _unknown_keys(spec: Mapping[str, Any], allowed: set[str], where: str, problems: list[str]) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        listed = ", ".join(map(repr, unknown))
        problems.append(f"{where}: unknown field(s) {listed} (allowed: {', '.join(sorted(allowed))})")


def merge_profiles(
    bundled: Mapping[str, SupplierProfile], override: Mapping[str, SupplierProfile]
) -> dict[str, SupplierProfile]:
    """An override replaces a supplier's whole profile or adds a supplier; the others stay as bundled."""
    return {**bundled, **override}


def profile_for(profiles: Mapping[str, SupplierProfile], supplier: str) -> SupplierProfile:
    try:
        return profiles[supplier_name(supplier)]
    except KeyError:
        known = ", ".join(sorted(profiles)) or "none"
        raise ProfileError(f"no profile for supplier {supplier!r} (profiles exist for: {known})") from None
