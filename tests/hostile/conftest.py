"""Fixtures of the hostile-input tests: the engine tests' small node types (test.echo, test.sleep,
test.secret, ...) and the switch that keeps a live server's executor off executions a test runs itself."""

from __future__ import annotations

from tests.engine.conftest import no_background_executor, test_nodes

__all__ = ["no_background_executor", "test_nodes"]
