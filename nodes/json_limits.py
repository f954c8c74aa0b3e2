"""The one bound on JSON Scenery accepts from outside — webhook bodies, canvas saves, node params,
imports and gateway bodies: nesting depth, numbers JSON can carry, and text every database stores
as it is (PostgreSQL's jsonb holds no NUL nor lone surrogate). Sizes are bounded where the bytes are
read; this bounds what they may hold."""

from __future__ import annotations

import json
import math
from typing import Any

MAX_JSON_DEPTH = 64


class BadData(ValueError):
    """The data cannot be taken as it is; the message says why, for the user (a 400)."""


def check_data(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what cannot be stored and answered faithfully, naming `where` it was."""
    if depth > MAX_JSON_DEPTH:
        raise BadData(f"The JSON {where} is nested too deeply (more than {MAX_JSON_DEPTH} levels).")
    if isinstance(value, str):
        if "\x00" in value:
            raise BadData(f"The {where} contains a NUL character (\\u0000), which cannot be stored.")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise BadData(
                    f"The {where} contains an unpaired surrogate (\\u{ord(value[exc.start]):04x})."
                ) from exc
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise BadData(f"The {where} holds {value}, which is not a JSON number (numbers must be finite).")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_data(key, where, depth + 1)
            check_data(item, where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_data(item, where, depth + 1)


def _no_constant(name: str) -> Any:
    raise BadData(f"{name} is not a JSON number (numbers must be finite).")


def loads(text: str | bytes, where: str) -> Any:
    """JSON as strict as the standard: no NaN or Infinity, nothing `check_data` refuses; BadData
    says why, naming `where`."""
    value = parse(text, where)
    check_data(value, where)
    return value


def parse(text: str | bytes, where: str) -> Any:
    """Strict JSON (no NaN or Infinity), for a caller that checks the data itself."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise BadData(f"The JSON {where} is nested too deeply (more than {MAX_JSON_DEPTH} levels).") from None
    except UnicodeDecodeError:
        raise BadData(f"The {where} is not UTF-8 text.") from None
    except BadData:
        raise
    except json.JSONDecodeError as exc:
        raise BadData(
            f"The {where} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    return value
