"""Absolute snapshots bound for the table, column by column: what a newer-wins writer needs, as pure data.

Column lists instead of one dict per item: building 90,000 item dicts cost nine times the parse itself
(`make bench`), while a column is one vectorised Arrow call and one list.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SnapshotColumns:
    """Items keyed by (pk, sk); `version` names the column whose larger value wins (fixed-width text, type S).

    `columns` map an attribute to its DynamoDB scalar type ("S" or "N") and one value per item, numbers as decimal
    text (what DynamoDB's wire format wants, so the writer converts nothing); `constants` give
    every item the same value. `lines` say where each item came from, so a refused item can be reported.
    """

    pk: list[str]
    sk: list[str]
    version: str
    columns: dict[str, tuple[str, list[str]]]
    constants: dict[str, tuple[str, str]] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pk)

    def versions(self) -> list[str]:
        return self.columns[self.version][1]
