"""The hostile inputs and faults of ../shared/reference/reliability-security.md §4, each with the tests
that prove Scenery handles it. "xfail" marks a test of a real defect, kept red-but-expected until the
owner fixes it (the reason names the file and the fault); "instead" says what Scenery does where the
item asks for something this product does not have. The test at the end keeps this map honest: every
item is mapped, every test named exists, and every test in tests/hostile is named here.

Paths are relative to the repository; E = tests/engine, N = tests/nodes, T = tests/teams,
D = tests/durability, H = tests/hostile (written for this list).

Webhooks
 1. Upload-metadata-shaped JSON → data, no file read.
    E/test_webhooks.py::test_a_body_shaped_like_upload_metadata_is_only_data
    E/test_webhooks.py::test_bodies_are_read_as_json_form_fields_or_text_by_our_rules (multipart stays text)
 2. Chunked 50 MB, no/understated Content-Length → 413 at the limit, memory bounded.
    E/test_webhooks.py::test_a_body_over_the_limit_is_refused_with_413
    E/test_webhooks.py::test_a_chunked_body_without_content_length_is_cut_off_at_the_limit
    E/test_webhooks.py::test_a_raw_chunked_request_gets_413_before_it_ends
    H/test_webhook_inputs.py::test_bytes_beyond_an_understated_content_length_never_reach_a_scenario
 3. Nested 100 000 deep or 1 M keys → fast 400, no 500.
    E/test_webhooks.py::test_unreadable_bodies_get_a_clear_400_and_a_failed_execution_in_history
    H/test_webhook_inputs.py::test_a_json_body_with_a_million_keys_is_refused_at_the_body_limit_at_once
    H/test_webhook_inputs.py::test_a_json_body_with_as_many_keys_as_fit_under_the_limit_is_taken
    H/test_webhook_inputs.py::test_a_form_with_more_fields_than_allowed_gets_a_clear_400
    H/test_editor_inputs.py::test_an_import_nested_100_000_deep_is_a_clear_error
    H/test_editor_inputs.py::test_a_canvas_save_nested_100_000_deep_is_a_clear_400
    H/test_editor_inputs.py::test_a_run_sample_nested_100_000_deep_is_an_error_at_the_field
 4. Invalid UTF-8, BOM, lone surrogate, NUL → 400 or escaped, same on SQLite and PostgreSQL.
    E/test_webhooks.py::test_unreadable_bodies_get_a_clear_400_and_a_failed_execution_in_history
    E/test_webhooks.py::test_a_body_with_a_bom_is_read
    H/test_webhook_inputs.py::test_nul_and_lone_surrogates_anywhere_in_a_request_get_400_on_every_database
    H/test_webhook_inputs.py::test_emoji_combining_marks_and_escaped_pairs_are_stored_exactly
    H/test_ids_in_urls.py::test_a_webhook_token_with_a_nul_character_gets_the_same_404_as_an_unknown_one
    H/test_ids_in_urls.py::test_a_gateway_id_with_a_nul_character_is_a_404_like_an_unknown_one
      (both defects fixed by config/middleware.py: a path with NUL, which PostgreSQL text cannot hold,
      is answered as unknown in its area before any query)
    H/test_ids_in_urls.py::test_other_tokens_with_a_nul_character_are_plain_404s
    H/test_ids_in_urls.py::test_a_gateway_path_with_a_nul_character_is_an_unknown_url_with_or_without_a_key
    H/test_ids_in_urls.py::test_the_asgi_stack_answers_a_nul_in_a_path_the_same_way
    H/test_ids_in_urls.py::test_a_nul_in_a_gateway_query_or_body_is_a_clear_400_and_nothing_is_stored
    H/test_ids_in_urls.py::test_a_file_with_nul_bytes_is_not_indexed_and_says_why
      (found on the way: on PostgreSQL both were 500s; gateway/validation.py check_no_nul, gateway/search.py)
 5. Signatures, timestamps, delivery ids. Instead: each webhook is authenticated by a random secret
    token in its URL (192 bits), looked up by one indexed equality query; a wrong, disabled or deleted
    token gets one identical 404 and leaves no row; sessions and Authorization headers play no part.
    H/test_webhook_inputs.py::test_every_wrong_token_gets_the_same_404_and_leaves_no_row
    H/test_webhook_inputs.py::test_webhook_tokens_are_long_random_secrets
    T/test_access_matrix.py::test_webhooks_are_authenticated_by_their_token_not_by_a_session
 6. Same idempotency key twice → one execution: an `Idempotency-Key` header makes every later call
    with it (racing or not) get the first call's execution and answer, marked `Idempotent-Replayed`;
    nodes run once; an unusable key is a clear 400.
    H/test_webhook_inputs.py::test_calls_with_one_idempotency_key_are_one_execution_even_when_they_race
    H/test_webhook_inputs.py::test_calls_without_a_key_or_with_different_keys_are_each_their_own_execution
    H/test_webhook_inputs.py::test_a_replay_gets_the_first_calls_answer_and_nothing_runs_again
    H/test_webhook_inputs.py::test_an_unusable_idempotency_key_is_a_clear_400
 7. 1 000 req/s → 429 + Retry-After, other teams unaffected: a call that would only queue gets 429 +
    Retry-After while its team has WEBHOOK_MAX_QUEUED_PER_TEAM executions waiting, and leaves no row;
    other teams answer; calls an executor takes at once are never refused; the executor is fair.
    H/test_webhook_inputs.py::test_a_team_with_too_many_executions_waiting_gets_429_and_other_teams_do_not
    H/test_webhook_inputs.py::test_calls_the_executor_takes_at_once_are_never_refused_however_many
    H/test_webhook_inputs.py::test_a_burst_on_one_webhook_is_all_accepted_and_another_teams_webhook_still_answers
    H/test_webhook_inputs.py::test_one_teams_backlog_does_not_hold_up_another_teams_webhook (defect fixed in 2c2b2ba)
    E/test_durability.py::test_a_claim_prefers_the_team_with_the_fewest_running_executions
 8. Another team's / disabled scenario's webhook → the same 404 as an unknown one.
    E/test_webhooks.py::test_unknown_and_inactive_webhooks_are_the_same_404
    H/test_webhook_inputs.py::test_every_wrong_token_gets_the_same_404_and_leaves_no_row
 9. `{{ node.a.output }}`, `={{7*7}}`, `${7*7}` in payloads → literal.
    E/test_webhooks.py::test_expressions_arriving_in_a_webhook_body_stay_literal
    E/test_engine.py::test_data_arriving_in_the_trigger_is_never_evaluated_again
    tests/test_foundation.py::test_a_value_produced_by_an_expression_is_never_evaluated_again
    N/test_node_form.py::test_data_that_looks_like_an_expression_is_not_treated_as_one_at_run_time
10. Worker killed before the response node → 504/202 + id by the deadline; the run ends later.
    D/test_webhook_takeover.py::test_the_caller_of_a_killed_execution_gets_its_answer_from_the_worker_that_takes_over
    D/test_webhook_takeover.py::test_with_no_worker_left_the_caller_gets_504_with_the_execution_id_and_the_run_ends_later
    E/test_webhooks.py::test_the_caller_gets_504_with_the_execution_id_when_the_scenario_is_too_slow

Expressions and node forms
11. Template-engine escapes → rejected at save and at run.
    tests/test_foundation.py::test_anything_but_a_reference_is_refused
    E/test_engine.py::test_validation_refuses_two_triggers_unknown_types_and_code_in_braces
    H/test_expression_inputs.py::test_code_in_braces_is_refused_at_the_inspector_and_nothing_is_saved
    H/test_expression_inputs.py::test_code_in_braces_that_reached_the_database_stops_the_run_before_any_node
    H/test_expression_inputs.py::test_code_in_braces_slipped_into_a_snapshot_fails_its_node_naming_it
    H/test_expression_inputs.py::test_a_dunder_in_a_path_is_a_key_of_the_data_never_a_python_attribute
    H/test_expression_inputs.py::test_code_in_braces_pasted_on_the_canvas_is_refused
    H/test_expression_inputs.py::test_text_that_starts_and_ends_with_an_expression_is_resolved (defect fixed by the engine owner)
      (found on the way: valid text such as "{{$1.a}} and {{$1.b}}" failed at run time)
12. Reference to a missing / not-yet-run / other-branch node → error naming it.
    tests/test_foundation.py::test_save_time_check_names_unknown_and_non_upstream_nodes
    tests/test_foundation.py::test_a_missing_path_is_an_error_naming_it
    E/test_engine.py::test_validation_names_references_to_unknown_and_non_upstream_nodes
    E/test_engine.py::test_a_missing_path_fails_the_node_with_an_error_naming_it
    E/test_run_once_and_secrets.py::test_running_one_node_without_upstream_output_is_a_clear_error_naming_the_node
    N/test_every_node_form.py::test_a_reference_to_a_node_that_is_not_upstream_is_an_error_at_the_field
    N/test_every_node_form.py::test_a_reference_to_an_unknown_node_is_an_error_at_the_field
13. Expression producing 1 GB or looping → cap error, worker healthy. (No loops exist: references
    only, and cycles are refused when saved.)
    tests/test_foundation.py::test_a_cycle_is_refused_naming_its_nodes
    H/test_expression_inputs.py::test_text_over_the_cap_fails_its_node_clearly_and_the_engine_carries_on
    H/test_expression_inputs.py::test_text_over_the_cap_is_stopped_before_it_is_built (defect fixed by the engine owner)
14. `../`, `?`, `#`, CRLF, quotes into URL path / header / JSON body → encoded, refused, escaped.
    N/test_http_client.py::test_ids_that_would_change_the_path_are_refused
    N/test_http_client.py::test_ids_are_encoded_as_one_path_segment
    N/test_assistant_nodes.py::test_an_assistant_id_is_encoded_into_one_path_segment
    N/test_webhook_nodes.py::test_unsafe_headers_are_refused
    N/test_webhook_nodes.py::test_a_header_made_of_an_expression_is_checked_again_once_resolved
    H/test_webhook_inputs.py::test_a_hostile_id_from_a_webhook_stays_one_encoded_path_segment
    H/test_webhook_inputs.py::test_an_id_with_a_line_break_is_refused_before_any_request
    H/test_webhook_inputs.py::test_quotes_and_line_breaks_from_a_webhook_reach_the_provider_as_one_json_string
    H/test_webhook_inputs.py::test_a_line_break_from_a_webhook_never_splits_a_response_header
    H/test_webhook_inputs.py::test_a_control_character_from_a_webhook_never_reaches_a_response_header
    H/test_webhook_inputs.py::test_an_answer_never_carries_a_header_the_server_could_not_send
15. `{{ credentials.x }}` / request headers in context → not available.
    E/test_webhooks.py::test_cookies_and_authorization_headers_never_reach_the_scenario
    H/test_expression_inputs.py::test_credentials_settings_and_the_raw_request_are_not_in_the_expression_language
    H/test_expression_inputs.py::test_a_credentialed_nodes_output_holds_no_secret_for_later_nodes
    H/test_expression_inputs.py::test_an_authorization_header_sent_to_a_webhook_is_a_missing_path_not_an_empty_value
16. Names `$(reboot)`, `../../x`, 10 KB, U+202E → stored and shown escaped, never in paths or shells.
    N/test_node_form.py::test_templates_never_mark_user_data_safe
    N/test_node_form.py::test_a_credential_name_is_escaped
    H/test_names_and_fields.py::test_a_hostile_name_is_stored_exactly_and_shown_only_as_text
    H/test_names_and_fields.py::test_a_hostile_name_never_becomes_a_path_in_the_export_file_name
    H/test_names_and_fields.py::test_names_of_10_kb_are_refused_or_cut_at_their_limit_never_stored_whole

Credentials and outbound HTTP
17. After saving a key, no page / API / export / log / WS frame holds it.
    T/test_secrets_everywhere.py::test_no_page_or_fragment_shows_a_secret
    T/test_secrets_everywhere.py::test_no_gateway_answer_shows_a_secret
    T/test_secrets_everywhere.py::test_no_websocket_frame_shows_a_secret
    T/test_credentials.py::test_a_form_with_errors_does_not_echo_the_secret
    T/test_sharing.py::test_the_export_is_json_without_any_secret
    E/test_commands.py::test_an_export_names_credentials_and_carries_no_secret
    E/test_run_once_and_secrets.py::test_secrets_are_redacted_from_outputs_and_errors
    E/test_run_once_and_secrets.py::test_every_change_is_sent_to_the_scenario_group_without_secrets
    N/test_http_client.py::test_the_key_never_appears_in_errors_or_logs
    H/test_outbound_faults.py::test_a_node_failure_that_mentions_the_key_is_logged_without_it (defect fixed in 2c2b2ba)
    E/test_run_once_and_secrets.py::test_an_unexpected_exception_quoting_the_key_is_logged_without_it
18. Empty secret on save → unchanged; "clear" → removed.
    T/test_credentials.py::test_saving_with_an_empty_secret_keeps_the_old_one
    T/test_credentials.py::test_the_stored_secret_can_be_removed_explicitly
19. Team B credential id in team A's node or helper → 404 / validation error, no request made.
    N/test_node_form.py::test_another_teams_credential_is_not_a_valid_choice
    tests/editor/test_graph.py::test_a_pasted_credential_of_another_team_is_dropped
    E/test_run_once_and_secrets.py::test_a_credential_of_another_team_is_refused_with_a_clear_error
    T/test_credentials.py::test_inline_creation_for_another_teams_scenario_is_not_found
    T/test_gateway_keys.py::test_the_provider_is_one_of_the_teams_own_credentials
    T/test_sharing.py::test_a_copy_never_links_to_a_same_named_credential_of_the_other_team
    H/test_outbound_faults.py::test_another_teams_credential_posted_to_a_node_is_refused_and_never_called
20. Base URL moved to another host → refused without the key again; redirects not followed.
    T/test_credentials.py::test_moving_the_base_url_to_another_host_needs_the_secret_again
    T/test_credentials.py::test_a_port_change_is_a_host_change_but_a_path_change_is_not
    N/test_http_client.py::test_the_key_is_not_sent_to_another_host
    N/test_http_client.py::test_a_redirect_is_not_followed
21. Loopback ports, metadata, mapped/numeric spellings, `localhost.`, names → 10.x, rebinding,
    redirects, `file://` → blocked. Rebinding: the connection goes to the checked address.
    N/test_http_client.py::test_private_local_and_odd_destinations_are_refused
    N/test_http_client.py::test_a_name_resolving_to_a_private_address_is_refused
    N/test_http_client.py::test_one_private_address_among_public_ones_is_enough_to_refuse
    N/test_http_client.py::test_loopback_is_refused_when_not_in_the_allowed_networks
    N/test_http_client.py::test_the_connection_goes_to_the_checked_address_with_the_original_host_header
    N/test_http_client.py::test_a_redirect_is_not_followed
    H/test_outbound_faults.py::test_without_loopback_allowed_every_spelling_of_a_local_redis_is_refused
    H/test_outbound_faults.py::test_the_shipped_defaults_refuse_a_local_redis
22. Key rotation; re-encrypt command; missing key → start-up fails loudly.
    T/test_rotation.py::test_key_rotation_round_trip
    T/test_rotation.py::test_rotation_lists_credentials_that_need_reentry_and_fails
    T/test_credentials.py::test_an_undecryptable_credential_shows_needs_reentry_not_an_error
    H/test_outbound_faults.py::test_scenery_refuses_to_start_without_credential_keys
    H/test_outbound_faults.py::test_scenery_refuses_to_start_with_a_malformed_credential_key

WebSockets and team boundaries
23. Handshake from `Origin: https://evil.example` → refused.
    E/test_live_socket.py::test_a_socket_from_another_site_is_refused
24. Anonymous, or removed from the team mid-stream → refused / closed, no further frames.
    E/test_live_socket.py::test_a_stranger_and_an_anonymous_visitor_are_refused
    E/test_live_socket.py::test_a_member_removed_from_the_team_is_disconnected
    T/test_access_matrix.py::test_websocket_access
    H/test_socket_inputs.py::test_a_member_removed_mid_stream_gets_no_further_frame_with_the_default_recheck
      (defect fixed: a committed membership change wakes the user's sockets, which check access at once)
    H/test_socket_inputs.py::test_other_members_changes_a_new_role_or_leaving_another_team_keep_the_socket_open
    H/test_socket_inputs.py::test_deleting_the_team_closes_every_members_socket_at_once
    H/test_socket_inputs.py::test_a_lost_wake_up_neither_fails_the_removal_nor_keeps_the_socket_open
      (the periodic re-check, SCENARIO_SOCKET_RECHECK_SECONDS, is the backstop)
25. Subscribing to another team's execution → denied, nothing streamed. (The socket serves one
    scenario, chosen at connect; frames from the client cannot change it.)
    E/test_live_socket.py::test_an_unknown_scenario_is_refused_like_a_foreign_one
    H/test_socket_inputs.py::test_naming_another_teams_scenario_or_execution_on_ones_own_socket_streams_nothing_of_it
    H/test_socket_inputs.py::test_a_stranger_cannot_open_the_socket_of_another_teams_scenario_over_the_wire
26. 10 MB frame, 1 000 msgs/s, malformed JSON → connection closed, server fine.
    H/test_socket_inputs.py::test_a_malformed_frame_ends_that_connection_and_the_server_carries_on
    H/test_socket_inputs.py::test_a_malformed_frame_is_answered_with_a_proper_close_code (defect fixed in 2c2b2ba)
    H/test_socket_inputs.py::test_a_10_mb_frame_closes_the_connection (defect fixed in 2c2b2ba)
    H/test_socket_inputs.py::test_a_flood_of_frames_closes_the_connection (defect fixed in 2c2b2ba)
    E/test_live_socket.py::test_a_malformed_oversized_or_binary_frame_closes_the_socket
    E/test_live_socket.py::test_a_page_may_ask_for_the_state_again_but_not_flood
27. Every URL as another team's member → 404; posted `team`/`owner` ignored; viewers cannot run/edit.
    T/test_access_matrix.py::test_every_url_pattern_is_in_the_role_table
    T/test_access_matrix.py::test_access
    T/test_access_matrix.py::test_gateway_access
    T/test_teams.py::test_creating_a_team_ignores_posted_owner_and_team_fields
    T/test_credentials.py::test_the_team_is_never_taken_from_the_form
    T/test_gateway_keys.py::test_a_key_is_issued_for_the_current_team_whatever_is_posted
    T/test_invitations.py::test_an_invitation_is_for_the_team_in_the_url_whatever_is_posted
    tests/editor/test_runs.py::test_a_viewer_cannot_run_a_scenario
    tests/editor/test_inspector.py::test_a_viewer_cannot_save_or_run
    H/test_names_and_fields.py::test_posted_team_owner_and_token_fields_are_ignored_when_creating_and_renaming
    H/test_names_and_fields.py::test_an_import_lands_in_the_current_team_whatever_the_file_says

Worker crashes and infrastructure (real processes: the durability tests)
28. `kill -9` mid-node → lease taken over; completed nodes not re-run; attempts counted.
    D/test_workers.py::test_a_worker_killed_mid_step_is_replaced_and_completed_steps_are_not_run_again
    D/test_workers.py::test_a_job_that_kills_every_worker_fails_visibly_once_its_attempts_are_used
    E/test_durability.py::test_a_worker_that_takes_over_resumes_without_running_succeeded_nodes_again
    D/test_takeover_under_load.py::test_a_killed_worker_s_job_is_taken_over_while_wake_ups_keep_arriving
      (issue 16, item 9: a dead worker's job waited for a lull, as wake-ups naming new rows kept
      postponing the whole claim round; it now runs every poll interval, and takeovers are logged)
29. Zombie worker after takeover → no duplicate NodeRun; its writes fenced off.
    D/test_workers.py::test_a_zombie_worker_cannot_write_after_its_job_was_taken_over
    D/test_webhook_takeover.py::test_a_frozen_worker_that_wakes_after_the_takeover_changes_nothing
    D/test_webhook_takeover.py::test_a_frozen_worker_cannot_revive_an_execution_that_was_given_up
    E/test_durability.py::test_a_zombie_worker_whose_lease_was_taken_over_writes_nothing
    E/test_durability.py::test_an_execution_ends_once_even_when_every_node_finished_before_a_takeover
30. Redis down or dropping 50 % → executions complete by polling; the UI recovers on reconnect.
    D/test_redis_workers.py::test_a_channel_layer_dropping_half_its_messages_still_completes_every_job
    D/test_redis_workers.py::test_a_redis_restart_delays_jobs_but_loses_none
    D/test_workers.py::test_a_worker_that_never_hears_a_wake_up_still_runs_every_job_by_polling
    E/test_waiting.py::test_a_lost_wake_up_costs_one_polling_interval_not_the_answer
    E/test_live_socket.py::test_a_reconnecting_page_gets_the_latest_execution_and_its_nodes
    tests/browser/test_runs.py::test_the_socket_reconnects_by_itself_after_a_drop
31. PostgreSQL restart mid-run → reconnect and go on; nothing stuck `running`.
    D/test_workers.py::test_a_database_outage_mid_job_delays_it_but_leaves_nothing_stuck_running
32. SIGTERM during a deploy → no new claims; in-flight finished or released within the grace.
    D/test_workers.py::test_sigterm_releases_a_long_job_to_another_worker_at_once
    D/test_workers.py::test_sigterm_lets_a_short_job_finish_within_the_grace_period
33. SQLite with two worker processes → no double claim; "database is locked" retried.
    D/test_workers.py::test_two_workers_never_claim_the_same_job

Upstream APIs
34. 429 + `Retry-After: 20` → waits as told (capped), "retrying n/N" streamed, clear final error.
    N/test_http_client.py::test_a_429_with_retry_after_is_retried_after_the_wait_the_provider_asked_for
    N/test_http_client.py::test_retry_after_ms_wins_and_every_wait_is_capped
    N/test_http_client.py::test_a_429_that_never_ends_becomes_a_clear_error_after_the_retry_limit
    N/test_http_client.py::test_progress_is_reported_before_each_retry
    E/test_upstream_faults.py::test_429_is_retried_as_told_by_retry_after_then_fails_clearly
    E/test_upstream_faults.py::test_a_429_then_an_answer_succeeds_and_streams_the_retry
35. 5xx, reset, DNS/TLS failure → retried with jittered backoff; 400/401/404 not; 401 → "invalid".
    N/test_http_client.py::test_a_500_is_retried_with_growing_backoff
    N/test_http_client.py::test_other_4xx_are_not_retried_and_carry_the_openai_error_fields
    N/test_http_client.py::test_a_401_says_the_credential_is_invalid
    N/test_http_client.py::test_an_unreachable_provider_is_retried_then_reported
    E/test_upstream_faults.py::test_a_500_is_retried_then_fails_clearly
    H/test_outbound_faults.py::test_a_connection_reset_is_retried_with_backoff_then_reported
    H/test_outbound_faults.py::test_a_dns_failure_is_retried_then_reported
    H/test_outbound_faults.py::test_a_tls_failure_is_retried_then_reported_without_the_key
36. 1 byte / 10 s → total deadline, slot freed; user cancel stops it. A scenario execution has no
    cancel (gap, see the report); a gateway run does.
    N/test_http_client.py::test_the_total_deadline_bounds_the_whole_request
    N/test_http_client.py::test_a_read_timeout_is_retried_then_reported
    E/test_upstream_faults.py::test_a_timeout_fails_clearly
    tests/gateway/test_runs.py::test_cancelling_a_run_stops_its_model_call
    H/test_outbound_faults.py::test_a_trickling_provider_is_cut_off_at_the_total_deadline_and_its_connection_freed
37. 200 with HTML, invalid JSON, 200 MB, gzip bomb → bounded read, clean error.
    N/test_http_client.py::test_an_html_page_with_status_200_is_a_clear_error
    N/test_http_client.py::test_invalid_json_is_a_clear_error
    N/test_http_client.py::test_an_oversized_body_is_refused
    N/test_http_client.py::test_a_compression_bomb_stops_at_the_limit
    E/test_upstream_faults.py::test_invalid_json_fails_clearly
    H/test_outbound_faults.py::test_a_chunked_answer_without_length_is_read_only_up_to_the_limit
    H/test_outbound_faults.py::test_the_limits_are_bounded_by_default

Concurrency and content
38. Two tabs save the same version → the second gets 409.
    tests/editor/test_graph.py::test_a_stale_save_is_refused_with_409_and_changes_nothing
    tests/editor/test_inspector.py::test_a_stale_version_is_refused_with_409_keeping_the_input
    tests/editor/test_editor_page.py::test_an_outline_change_on_a_stale_version_is_409
    tests/browser/test_canvas.py::test_a_second_tab_gets_409_and_is_told_instead_of_overwriting
    H/test_editor_inputs.py::test_two_tabs_saving_the_same_version_at_the_same_moment_get_one_200_and_one_409
    H/test_editor_inputs.py::test_two_inspectors_saving_the_same_version_keep_exactly_one_of_the_two
39. Edit/delete nodes while an execution runs → it runs its snapshot.
    E/test_engine.py::test_an_execution_snapshots_the_graph_it_runs
    H/test_editor_inputs.py::test_editing_and_deleting_nodes_mid_run_leaves_the_running_execution_on_its_snapshot
40. Emoji, combining marks, zero-width, case variants → consistent NFC/casefold uniqueness, shown right.
    H/test_names_and_fields.py::test_emoji_and_combining_names_are_kept_and_shown_as_typed
    H/test_names_and_fields.py::test_a_name_differing_only_in_ascii_case_or_spaces_is_a_duplicate
    H/test_names_and_fields.py::test_usernames_that_differ_in_width_or_ascii_case_are_duplicates
    H/test_names_and_fields.py::test_a_name_that_looks_the_same_is_a_duplicate
    H/test_names_and_fields.py::test_credential_names_in_non_ascii_case_variants_are_duplicates_on_every_database
    H/test_names_and_fields.py::test_usernames_in_non_ascii_case_variants_are_duplicates_on_every_database
      (defects fixed: names are compared by one comparison form, teams/names.py: NFKC, invisible
      characters dropped, spaces as shown, casefolded; credentials hold it as a unique key per team)
    H/test_names_and_fields.py::test_look_alike_names_stay_possible_in_another_team_and_when_saving_the_same_credential
    H/test_names_and_fields.py::test_a_name_made_only_of_invisible_characters_is_refused
    H/test_names_and_fields.py::test_the_database_refuses_a_look_alike_credential_name_that_bypasses_the_form
    H/test_names_and_fields.py::test_the_admin_refuses_a_look_alike_username_when_adding_or_renaming_a_user
    T/test_credential_name_migration.py::test_look_alike_credentials_saved_before_the_key_get_numbered_names_the_oldest_keeps_its_own

Second round (issue 16: a black-box attack on a fresh `make run` and on PostgreSQL + Redis)
41. Editor JSON nested 250 deep, then export or copy → a debug page listing every decrypted key. Now:
    `make run` writes DEBUG=false; every JSON the editor takes is bounded like webhook bodies
    (nodes/json_limits.py); secrets are decrypted only to redact sound data, in a sensitive frame.
    H/test_secrets_and_json_bounds.py::test_the_env_make_run_writes_serves_without_debugging
    H/test_secrets_and_json_bounds.py::test_a_canvas_save_of_params_nested_too_deeply_is_a_clear_400_and_nothing_is_saved
    H/test_secrets_and_json_bounds.py::test_a_json_field_nested_too_deeply_is_an_error_at_the_field
    H/test_secrets_and_json_bounds.py::test_exporting_a_node_nested_too_deeply_is_a_clear_400_even_with_debugging_on
    H/test_secrets_and_json_bounds.py::test_a_viewers_copy_of_a_node_nested_too_deeply_is_a_clear_400_and_copies_nothing
    H/test_secrets_and_json_bounds.py::test_no_secret_is_decrypted_before_the_export_is_known_to_be_sound
    H/test_secrets_and_json_bounds.py::test_a_sound_export_still_redacts_every_secret_of_the_team
42. 40 wrong passwords in 20 s, then the right one → logged in. Now throttled per account and per
    address in Django's cache (teams/throttle.py, THROTTLE_* settings): sign-in, password reset and
    gateway key failures (429 in OpenAI's envelope).
    H/test_brute_force.py::test_after_too_many_wrong_passwords_even_the_right_one_is_refused_with_a_clear_message
    H/test_brute_force.py::test_the_account_stays_refused_from_another_address_and_under_another_spelling
    H/test_brute_force.py::test_other_accounts_still_sign_in_and_a_success_clears_the_accounts_count
    H/test_brute_force.py::test_one_address_trying_many_accounts_is_refused_for_all_of_them
    H/test_brute_force.py::test_password_reset_requests_are_refused_past_the_limit_and_send_nothing_more
    H/test_brute_force.py::test_wrong_gateway_keys_from_one_address_get_429_in_openais_envelope
43. A prompt list of 1 200 000 strings → 200 after 46 s and a 97 MB answer. Now bounded
    (gateway/bounds.py): body size, every list, prompts × n, requests in flight per key.
    H/test_gateway_inputs.py::test_a_prompt_list_longer_than_the_limit_is_refused_before_any_work
    H/test_gateway_inputs.py::test_other_lists_longer_than_the_limit_are_refused_naming_them
    H/test_gateway_inputs.py::test_prompts_times_n_over_the_cap_is_refused
    H/test_gateway_inputs.py::test_a_body_over_the_size_limit_gets_413_in_openais_envelope
    H/test_gateway_inputs.py::test_a_key_with_all_its_requests_in_flight_gets_429_and_other_keys_do_not
44. A credential's base URL moved from https to http with the key field empty → saved. Now the key is
    encrypted with the origin it was entered for (teams/models.py) and the form compares origins.
    H/test_credential_origin.py::test_an_http_downgrade_without_the_key_is_refused_saying_so
    H/test_credential_origin.py::test_a_new_port_or_host_without_the_key_is_refused
    H/test_credential_origin.py::test_the_same_origin_spelled_otherwise_keeps_the_key
    H/test_credential_origin.py::test_entering_the_key_again_allows_the_move
    H/test_credential_origin.py::test_a_port_that_is_not_a_number_is_a_clear_error
    H/test_credential_origin.py::test_a_base_url_changed_behind_the_forms_back_makes_the_key_unusable_not_sent
45. A Webhook response answering `Location`, `Refresh`, `Clear-Site-Data` on Scenery's origin. Now
    one rule (nodes/types/webhook.py, response_header_refused) refuses them in the form, at run time
    and in the answer; `Location` only with the node's "Redirect the caller" option.
    H/test_webhook_headers.py::test_headers_acting_on_the_session_with_scenerys_site_are_refused_by_name
    H/test_webhook_headers.py::test_location_needs_the_redirect_option_and_is_accepted_with_it
    H/test_webhook_headers.py::test_a_refused_header_whose_value_is_an_expression_is_refused_by_its_name_at_once
    H/test_webhook_headers.py::test_framing_and_broken_headers_keep_their_reasons
    H/test_webhook_headers.py::test_an_answer_from_stored_data_drops_every_refused_header
    H/test_webhook_headers.py::test_an_imported_node_answering_with_a_redirect_reload_and_logout_sends_none_of_them
    H/test_webhook_headers.py::test_a_node_with_the_redirect_option_redirects_the_caller
46. NaN, Infinity, 1e400, lone surrogates and huge integers → 500 (or NaN in a JSON answer).
    H/test_secrets_and_json_bounds.py::test_a_canvas_save_with_a_version_that_is_no_number_is_a_clear_400
    H/test_secrets_and_json_bounds.py::test_an_import_with_a_lone_surrogate_in_a_label_is_a_clear_400
    H/test_secrets_and_json_bounds.py::test_an_import_with_a_node_number_no_integer_column_holds_is_a_clear_400
    H/test_secrets_and_json_bounds.py::test_a_webhook_body_with_a_number_json_cannot_carry_is_a_clear_400
    H/test_gateway_inputs.py::test_a_nan_temperature_is_refused_and_no_assistant_is_stored
    H/test_gateway_inputs.py::test_a_temperature_of_1e400_is_refused_naming_it
    H/test_gateway_inputs.py::test_nan_in_function_parameters_is_refused_naming_it
    H/test_gateway_inputs.py::test_a_lone_surrogate_in_a_name_is_refused_naming_it
    H/test_gateway_inputs.py::test_an_integer_beyond_64_bits_is_refused_naming_it
47. Malformed gateway chat input → 500; chat bodies against the spec not validated. Now chat and
    completion bodies are validated against the official spec (gateway/spec/requests.json), a oneOf
    is explained by the member its discriminator names, and the spec's gaps are checked too.
    H/test_gateway_inputs.py::test_a_chat_body_the_spec_refuses_is_a_400_naming_the_parameter
    H/test_gateway_inputs.py::test_the_official_client_gets_a_bad_request_naming_the_parameter
    H/test_gateway_inputs.py::test_an_upload_with_a_file_name_of_thousands_of_characters_is_a_400_naming_the_file
48. 2 000 calls on team A's webhook raised team B's latency from 27 ms to 169 ms–1.2 s. Now at most
    WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK calls of one webhook are in flight per process; more wait in a
    short line for a slot, else get 429 + Retry-After at the door before their body is read, after a
    pause (scenarios/runtime/backlog.py); `make bench` prints team B's p99 during team A's flood.
    H/test_flood_fairness.py::test_with_one_webhook_at_its_limit_its_next_call_gets_429_and_another_teams_call_is_answered
    H/test_flood_fairness.py::test_a_call_over_the_limit_waits_in_line_and_is_answered_when_a_slot_frees
    H/test_flood_fairness.py::test_with_the_line_full_a_call_is_refused_at_once_while_the_line_still_waits
    H/test_flood_fairness.py::test_a_call_refused_at_the_door_is_answered_before_its_body_is_sent
    H/test_flood_fairness.py::test_a_refused_call_gets_its_429_only_after_the_refusal_pause
49. A worker killed and not replaced under steady load: its execution was taken over only after the
    load stopped (wake-ups kept postponing the claim round that takes over expired leases). Now the
    whole round runs whenever the last one is a poll interval old, and every takeover is logged.
    D/test_takeover_under_load.py::test_a_killed_worker_s_job_is_taken_over_while_wake_ups_keep_arriving
Third round (issues 12 and 13: code, HTTP, time, loops)
50. A Code node's hostile JavaScript: an infinite loop, a memory bomb, deep recursion, prototype tricks,
    the network, the file system, timers or the host. Each is a clear node error (QuickJS with no I/O
    and per-run CPU, memory and stack limits, nodes/javascript.py); the next run and other
    executions carry on.
    H/test_code_inputs.py::test_runaway_code_is_stopped_with_a_clear_error_and_the_next_run_works
    H/test_code_inputs.py::test_the_network_the_file_system_timers_and_the_host_are_not_there
    H/test_code_inputs.py::test_what_is_there_is_only_the_language
    H/test_code_inputs.py::test_prototype_tricks_change_nothing_outside_the_codes_own_value
    H/test_code_inputs.py::test_a_global_set_by_one_run_is_gone_in_the_next
    H/test_code_inputs.py::test_huge_output_and_floods_of_console_lines_are_bounded
    H/test_code_inputs.py::test_code_too_long_is_refused
    H/test_code_inputs.py::test_what_runaway_code_printed_before_it_was_stopped_is_kept
    H/test_code_inputs.py::test_nul_and_unpaired_surrogates_in_console_lines_and_errors_are_stored_written_out
    H/test_code_inputs.py::test_an_infinite_loop_fails_its_execution_while_another_execution_finishes
51. SSRF through a redirect: an allowed server answers 302 to a private address. Every hop is judged
    again by the guard (the node follows redirects itself), so the redirect is refused, naming the URL.
    N/test_http_request.py::test_a_redirect_to_a_private_address_is_refused_by_the_guard
52. A huge answer (50 MB of gzip bomb, or just large) → the read stops at PROVIDER_MAX_RESPONSE_BYTES
    with an error naming the Response, memory bounded.
    N/test_http_request.py::test_a_huge_compressed_answer_stops_at_the_limit
    N/test_http_request.py::test_an_answer_over_the_size_limit_is_a_clear_error
53. A credential carried to another host: a redirect elsewhere, a redirect loop, or a URL of another
    host → the credential (and the user's Authorization and Cookie headers) stay with its own scheme,
    host and port; a URL elsewhere is refused before anything is sent.
    N/test_http_request.py::test_a_redirect_to_another_host_goes_on_without_the_credential
    N/test_http_request.py::test_endless_redirects_stop_and_never_carry_the_credential_away
    N/test_http_request.py::test_a_credential_for_another_host_is_refused_before_anything_is_sent
54. An invalid or hostile cron expression (10 000 characters, NUL, never fires), a time zone that is a
    path, a wait of 1e308 days or until year 9999 → refused naming the node's field; nothing fires,
    no execution waits, no executor is held.
    H/test_time_inputs.py::test_a_hostile_cron_expression_is_refused_at_its_field_and_fires_nothing
    H/test_time_inputs.py::test_a_hostile_time_zone_is_refused_at_its_field
    H/test_time_inputs.py::test_a_huge_or_hostile_wait_fails_naming_its_field_and_holds_no_executor
    E/test_schedule.py::test_an_invalid_cron_expression_fires_nothing
    E/test_wait.py::test_a_bad_wait_fails_the_execution_naming_the_node_and_field
55. A Loop over items fed a non-list, a list over 1,000 items, or a loop nested in another's body →
    the Loop fails naming the node and its Items field before any item runs, or saving refuses it
    ("loops cannot be nested yet").
    E/test_loops.py::test_a_loop_over_something_not_a_list_fails_naming_the_node_and_field
    E/test_loops.py::test_a_list_over_the_limit_is_refused_before_any_item_runs
    E/test_loops.py::test_a_loop_inside_another_loop_is_refused_as_not_nested_yet
56. A sub-scenario calling itself (directly or through others), nested without end, or naming
    another team's scenario. The Run scenario node refuses a scenario already in its chain of
    callers and calls over 5 deep, naming the node and its Scenario field; names are looked up in
    the caller's team only; nothing else starts.
    E/test_subscenarios.py::test_a_scenario_calling_itself_fails_naming_the_node_and_field
    E/test_subscenarios.py::test_a_cycle_through_another_scenario_is_refused_before_it_runs_again
    E/test_subscenarios.py::test_calls_nest_at_most_five_deep
    E/test_subscenarios.py::test_an_unknown_or_other_teams_scenario_is_not_found
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = {
    "E/": "tests/engine/",
    "N/": "tests/nodes/",
    "T/": "tests/teams/",
    "D/": "tests/durability/",
    "H/": "tests/hostile/",
}
REFERENCE = re.compile(r"^\s*(xfail )?((?:[ENTDH]/|tests/)\S+\.py)::(\w+)", re.MULTILINE)
ITEM = re.compile(r"^\s?(\d{1,3})\. ", re.MULTILINE)


def _mapped() -> list[tuple[bool, str, str]]:
    assert __doc__ is not None
    found = []
    for xfail, path, name in REFERENCE.findall(__doc__):
        for short, full in PREFIXES.items():
            if path.startswith(short):
                path = full + path[len(short) :]
        found.append((bool(xfail), path, name))
    return found


def _tests_in(path: Path) -> dict[str, bool]:
    """Test functions of a file, each with whether it carries an xfail mark."""
    tree = ast.parse(path.read_text())
    tests = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
            marks = " ".join(ast.unparse(decorator) for decorator in node.decorator_list)
            tests[node.name] = "xfail" in marks
    return tests


def test_the_map_covers_every_item_of_the_list_in_order():
    assert __doc__ is not None
    numbers = [int(n) for n in ITEM.findall(__doc__)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 40


def test_every_test_the_map_names_exists_and_is_marked_as_the_map_says():
    for xfail, path, name in _mapped():
        tests = _tests_in(ROOT / path)
        assert name in tests, f"{path}::{name} does not exist"
        if path.startswith("tests/hostile/"):
            assert tests[name] == xfail, f"{path}::{name}: the map and the xfail mark disagree"


def test_every_hostile_test_is_in_the_map():
    mapped = {(path, name) for _, path, name in _mapped()}
    for path in sorted((ROOT / "tests/hostile").glob("test_*.py")):
        relative = str(path.relative_to(ROOT))
        if path.name == Path(__file__).name:
            continue
        for name in _tests_in(path):
            assert (relative, name) in mapped, f"{relative}::{name} is not in the map"
