"""The scenarios app's URLs: the editor's pages and fragments, the run-time endpoints (webhooks), and
moving, copying, exporting and importing scenarios."""

from __future__ import annotations

from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, path
from django.views.generic import RedirectView

from scenarios.views import editor as views_editor
from scenarios.views import inspector as views_inspector
from scenarios.views import iterations as views_iterations
from scenarios.views import runs as views_runs
from scenarios.views import scenario_list as views_list
from scenarios.views import scenario_settings as views_settings
from scenarios.views import sharing

app_name = "scenarios"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", RedirectView.as_view(pattern_name="scenarios:list", permanent=False), name="home"),
    # Browsers ask for /favicon.ico whatever the page says.
    path(
        "favicon.ico", RedirectView.as_view(url=static("scenery/favicon.svg"), permanent=True), name="favicon"
    ),
    # list
    path("scenarios/", views_list.scenario_list, name="list"),
    path("scenarios/new/", views_list.scenario_create, name="create"),
    path("scenarios/from-template/", views_list.scenario_from_template, name="from_template"),
    path("scenarios/<uuid:scenario_id>/row/", views_list.scenario_row, name="row"),
    path("scenarios/<uuid:scenario_id>/rename/", views_list.scenario_rename, name="rename"),
    path("scenarios/<uuid:scenario_id>/duplicate/", views_list.scenario_duplicate, name="duplicate"),
    path("scenarios/<uuid:scenario_id>/active/", views_list.scenario_toggle_active, name="toggle_active"),
    path("scenarios/<uuid:scenario_id>/delete/", views_list.scenario_delete, name="delete"),
    path("scenarios/<uuid:scenario_id>/settings/", views_settings.scenario_settings, name="settings"),
    # editor
    path("scenarios/<uuid:scenario_id>/", views_editor.editor, name="editor"),
    path("scenarios/<uuid:scenario_id>/graph/", views_editor.graph, name="graph"),
    path("scenarios/<uuid:scenario_id>/outline/", views_editor.outline, name="outline"),
    path(
        "scenarios/<uuid:scenario_id>/outline/connect/", views_editor.outline_connect, name="outline_connect"
    ),
    path(
        "scenarios/<uuid:scenario_id>/outline/edges/<int:source>/<int:target>/delete/",
        views_editor.outline_disconnect,
        name="outline_disconnect",
    ),
    path(
        "scenarios/<uuid:scenario_id>/outline/nodes/<int:number>/delete/",
        views_editor.outline_delete_node,
        name="outline_delete_node",
    ),
    path("scenarios/<uuid:scenario_id>/outline/add/", views_editor.outline_add_node, name="outline_add_node"),
    # inspector
    path("scenarios/<uuid:scenario_id>/nodes/<uuid:node_id>/", views_inspector.inspector, name="inspector"),
    path("scenarios/<uuid:scenario_id>/nodes/<uuid:node_id>/run/", views_inspector.run_once, name="run_once"),
    path(
        "scenarios/<uuid:scenario_id>/nodes/<uuid:node_id>/test-call/",
        views_inspector.test_call,
        name="test_call",
    ),
    path(
        "scenarios/<uuid:scenario_id>/nodes/<uuid:node_id>/schedule/",
        views_inspector.schedule_times,
        name="schedule_times",
    ),
    path(
        "scenarios/<uuid:scenario_id>/nodes/<uuid:node_id>/models/",
        views_inspector.node_models,
        name="node_models",
    ),
    # runs
    path("scenarios/<uuid:scenario_id>/run/", views_runs.run_scenario, name="run"),
    path("scenarios/<uuid:scenario_id>/runs/", views_runs.runs, name="runs"),
    path("scenarios/<uuid:scenario_id>/runs/<uuid:execution_id>/", views_runs.run_detail, name="run_detail"),
    path("scenarios/<uuid:scenario_id>/runs/<uuid:execution_id>/rerun/", views_runs.rerun, name="rerun"),
    path(
        "scenarios/<uuid:scenario_id>/runs/<uuid:execution_id>/loops/<int:number>/",
        views_iterations.run_iterations,
        name="run_iterations",
    ),
    path(
        "scenarios/<uuid:scenario_id>/runs/<uuid:execution_id>/cancel/", views_runs.cancel, name="cancel_run"
    ),
    # copying and moving between teams, JSON export and import
    path("scenarios/import/", sharing.import_view, name="import"),
    path("scenarios/<uuid:scenario_id>/share/", sharing.share, name="share"),
    path("scenarios/<uuid:scenario_id>/copy/", sharing.copy_to_team, name="copy_to_team"),
    path("scenarios/<uuid:scenario_id>/move/", sharing.move_to_team, name="move_to_team"),
    path("scenarios/<uuid:scenario_id>/export/", sharing.export, name="export"),
]
