"""When two names are the same name. People pick a name from a list by how it looks, so names that look
alike must not coexist: "Café" typed as one character or as "e" + accent, "Straße" and "STRASSE",
"Key" and "Key" with a zero-width space inside, full-width letters. Names are stored and shown as typed;
only this comparison form is compared, the same way on every database (SQLite's own case folding
stops at ASCII)."""

from __future__ import annotations

import hashlib
import unicodedata

# Characters that render as nothing yet are not format characters (category Cf, dropped as well):
# the rest of Unicode's Default_Ignorable_Code_Point (variation selectors, Hangul fillers, ...).
_IGNORABLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164, 0xFFA0]
    + list(range(0xFE00, 0xFE10))
    + list(range(0xE0100, 0xE01F0))
)


def _visible(ch: str) -> bool:
    return unicodedata.category(ch) != "Cf" and ord(ch) not in _IGNORABLE


def comparison_form(name: str) -> str:
    """NFKC, without invisible characters, with runs of spaces as one (as a page shows them), casefolded."""
    text = "".join(ch for ch in unicodedata.normalize("NFKC", name) if _visible(ch))
    return unicodedata.normalize("NFKC", " ".join(text.split()).casefold())


def name_key(name: str) -> str:
    """A fixed-size key of the comparison form, for a unique index: NFKC can make a name many times
    longer (one character of U+FDFA is 18), too long for an index entry."""
    return hashlib.sha256(comparison_form(name).encode()).hexdigest()
