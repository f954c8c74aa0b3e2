"""OpenAI-style object ids (`asst_…`, `file-…`) and Unix-second timestamps."""

from __future__ import annotations

import secrets
import string
from datetime import datetime

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    return f"{prefix}{random_token()}"


def unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def new_assistant_id() -> str:
    return new_id("asst_")


def new_thread_id() -> str:
    return new_id("thread_")


def new_message_id() -> str:
    return new_id("msg_")


def new_run_id() -> str:
    return new_id("run_")


def new_step_id() -> str:
    return new_id("step_")


def new_call_id() -> str:
    return new_id("call_")


def new_file_id() -> str:
    return new_id("file-")


def new_vector_store_id() -> str:
    return new_id("vs_")


def new_file_batch_id() -> str:
    return new_id("vsfb_")
