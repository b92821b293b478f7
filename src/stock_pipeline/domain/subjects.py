"""E-mail subjects as SNS takes them: ASCII text that begins with a letter, number or punctuation mark, without line
breaks or control characters, fewer than 100 characters (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
SNS refuses anything else with InvalidParameter, and an alert that cannot be published is an alert nobody gets.
(SNS was seen to take exactly 100, getmoto/moto#1503; the documented limit is the one kept.)"""

from __future__ import annotations

import unicodedata

SUBJECT_LIMIT = 99


def subject_line(text: str) -> str:
    """`text` folded to ASCII ("München" -> "Munchen"), on one line, cut with "..." to fit."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    line = " ".join("".join(c if c.isprintable() else " " for c in ascii_text).split()) or "(no subject)"
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 3].rstrip() + "..."
