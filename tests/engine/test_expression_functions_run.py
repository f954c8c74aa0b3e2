"""A function given the wrong type at run time fails its node, naming the node, the function and
the argument; the other branches carry on."""

from __future__ import annotations

import pytest

from scenarios.models import Execution, NodeRun
from tests.engine.conftest import build, runs_of, start_and_run


@pytest.mark.usefixtures("test_nodes")
def test_a_function_given_the_wrong_type_fails_its_node_naming_the_node_and_the_function(cast):
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.echo", {"text": "Hi {{ upper($1.count) }}"}),
            3: ("test.echo", {"text": "{{ upper($1.name) }}"}),
        },
        [(1, 2), (1, 3)],
    )
    execution = start_and_run(scenario, {"count": 3, "name": "ada"})
    runs = runs_of(execution)
    assert runs[2].status == NodeRun.Status.FAILED
    assert "upper: the first argument must be text, got a number" in runs[2].error["message"]
    assert runs[3].status == NodeRun.Status.SUCCEEDED and runs[3].output["params"] == {"text": "ADA"}
    assert execution.status == Execution.Status.FAILED
