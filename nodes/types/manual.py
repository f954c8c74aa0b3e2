"""Manual trigger: a scenario started by hand, from the editor's "Run scenario" or
`manage.py scenario run`, with a sample input for when the run brings none.

Both starts give the trigger a request-shaped input ({method, headers, query, body}); the editor's
default and the command's `--input` default have an empty body. The trigger outputs the same shape as
the Trigger on Webhook, so `{{$1.body.question}}` reads the same whichever trigger starts the
scenario; an empty body ({} or nothing) is replaced by the sample.
"""

from __future__ import annotations

from typing import Any

from nodes.base import Field, NodeContext
from nodes.params import define
from nodes.types import webhook

SAMPLE = Field(
    "sample",
    "Sample input",
    kind="json",
    expressions=False,
    placeholder='{"question": "Hello"}',
    help="JSON used as the body when a run gives none (Run scenario with an empty body, "
    "`manage.py scenario run` without --input). Read it as {{$1.body…}}.",
)


async def start(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    output = await webhook.trigger(ctx, params)
    if output["body"] in (None, "", {}) and "sample" in params:
        output["body"] = params["sample"]
    return output


MANUAL_TRIGGER = define(
    key="manual.trigger",
    app="Manual",
    title="Manual trigger",
    description="Starts the scenario by hand: Run scenario in the editor or manage.py scenario run.",
    kind="trigger",
    fields=(SAMPLE,),
    run=start,
    color="#4b5563",
    icon="manual",
)

TYPES = (MANUAL_TRIGGER,)
