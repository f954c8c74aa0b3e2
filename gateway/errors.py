"""OpenAI's error body and the exceptions the gateway raises to produce it."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse


class GatewayError(Exception):
    """An error answered as `{"error": {"message", "type", "param", "code"}}` with `status`."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body(), status=self.status)
        for key, value in self.headers.items():
            response[key] = value
        return response


def invalid(message: str, param: str | None = None, code: str | None = None) -> GatewayError:
    return GatewayError(message, param=param, code=code)


# OpenAI's own wording for unknown ids, per kind of object.
NOT_FOUND_MESSAGES = {
    "assistant": "No assistant found with id '{id}'.",
    "thread": "No thread found with id '{id}'.",
    "message": "No message found with id '{id}'.",
    "run": "No run found with id '{id}'.",
    "step": "No run step found with id '{id}'.",
    "file": "No such File object: {id}",
    "vector_store": "No vector store found with id '{id}'.",
    "model": "The model `{id}` does not exist or you do not have access to it.",
}


def not_found(kind: str, object_id: str, param: str | None = None) -> GatewayError:
    return GatewayError(
        NOT_FOUND_MESSAGES[kind].format(id=object_id),
        status=404,
        param=param,
        code="model_not_found" if kind == "model" else None,
    )
