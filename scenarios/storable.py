"""Values made storable and showable: JSON only, secrets redacted, no NUL characters or lone
surrogates. Used wherever a run's data or an export is written down."""

from __future__ import annotations

import math
from typing import Any

REDACTED = "••••"
# Shorter secrets cannot be redacted without mangling ordinary text (and protect nothing anyway).
MIN_REDACTED_LENGTH = 4


class Unstorable(TypeError):
    pass


def safe(value: Any, secrets: list[str], depth: int = 0) -> Any:
    """`value` as storable JSON: secrets replaced by ••••, NUL and lone surrogates replaced by U+FFFD."""
    if depth > 200:
        raise Unstorable("the data is nested too deeply")
    if isinstance(value, str):
        return safe_text(value, secrets)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unstorable(f"{value} is not a JSON number")
        return value
    if isinstance(value, dict):
        return {safe_text(str(k), secrets): safe(v, secrets, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe(item, secrets, depth + 1) for item in value]
    raise Unstorable(f"a {type(value).__name__} is not JSON data")


def safe_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text
