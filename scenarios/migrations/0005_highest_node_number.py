from __future__ import annotations

from typing import Any

from django.db import migrations, models
from django.db.models import Max


def remember_numbers_used(apps: Any, schema_editor: Any) -> None:
    """Start from the highest number a node has or had: the nodes, and the runs of deleted ones."""
    Scenario = apps.get_model("scenarios", "Scenario")
    Node = apps.get_model("scenarios", "Node")
    NodeRun = apps.get_model("scenarios", "NodeRun")
    nodes = dict(Node.objects.values("scenario").annotate(top=Max("number")).values_list("scenario", "top"))
    runs = dict(
        NodeRun.objects.values("execution__scenario")
        .annotate(top=Max("node_number"))
        .values_list("execution__scenario", "top")
    )
    for scenario_id in set(nodes) | set(runs):
        top = max(nodes.get(scenario_id) or 0, runs.get(scenario_id) or 0)
        Scenario.objects.filter(pk=scenario_id).update(highest_node_number=top)


class Migration(migrations.Migration):
    dependencies = [
        ("scenarios", "0004_execution_idempotency_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="scenario",
            name="highest_node_number",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="scenario",
            name="retired_nodes",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(remember_numbers_used, migrations.RunPython.noop, elidable=True),
    ]
