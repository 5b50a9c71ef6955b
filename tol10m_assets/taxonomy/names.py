"""Name cleaning (spec section 3): ``strip_html`` and ``clean_name``."""

from __future__ import annotations

import functools

import re

_PAIRED_TAG = re.compile(r"<([A-Za-z][A-Za-z0-9]*)\b[^<>]*>(.*?)</\1\s*>", re.DOTALL)

# Applied in this order, each to what the previous ones left; the string is cut at the first match.
_CUTS = [
    re.compile(r"\("),  # an opening parenthesis
    re.compile(r"\bssp\."),
    re.compile(r"\bsubsp\."),
    re.compile(r"\bvar\."),
    re.compile(r"\b\w+,\s*\w+\s*&\s*\w+"),  # word, word & word
    re.compile(r"\b\w+\s*&\s*\w+"),  # word & word
    re.compile(r"\b\w+\s+\d{4}"),  # word YYYY
    re.compile(r"\b\w+,\s*\d{4}"),  # word, YYYY
    re.compile(r"\d{4}"),  # a four-digit year
    re.compile(r"\s\w\."),  # a space, one letter and a dot (an initial)
    re.compile(r"<br\s*>"),
]
_SPACES = re.compile(r"\s+")


def lower(text: str) -> str:
    """Lower-case without changing the length (``"İ".lower()`` is two characters; it stays one)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def strip_html(text: str) -> str:
    """Remove paired tags, keeping their text, until nothing changes (nested tags too)."""
    if "<" not in text:
        return text
    while True:
        stripped = _PAIRED_TAG.sub(r"\2", text)
        if stripped == text:
            return stripped
        text = stripped


@functools.lru_cache(maxsize=1 << 18)  # ranks repeat across rows of every name source
def clean_name(text: str) -> str:
    """Lower-case, strip HTML, trim, then cut authorities, years, ranks markers and initials.

    >>> clean_name("Lagocheirus araneiformis subsp. parvulus Casey 1913")
    'lagocheirus araneiformis'
    """
    text = strip_html(lower(text)).strip()
    for pattern in _CUTS:
        m = pattern.search(text)
        if m:
            text = text[: m.start()]
    return _SPACES.sub(" ", text).strip()
