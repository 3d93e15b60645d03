"""Partitioned detection on Google Cloud (issue 17, the GCP twin of `modelfort.runtime.detection_stream`).

    Cloud Logging sink (guard telemetry) ──> Pub/Sub `telemetry` ──push (OIDC)──> stage one (any concurrency)
                                                                                 jailbreak, rag_poisoning
                                                                                 findings → structured log lines
                                                                                 │ publish, orderingKey = caller
                                                                                 v
                                             Pub/Sub `caller-events` (message ordering) ──push (OIDC)──> stage two
                                                                                 extraction, tool_use, with state
                                                                                 in Cloud Storage (one object per
                                                                                 caller, ifGenerationMatch writes)

Order. A push subscription with message ordering delivers one caller's messages one at a time, in publish order,
and holds the next until the previous is acknowledged; a nacked message is redelivered before anything after it.
That is the whole of the out-of-order protection: stage two trusts the order it is given and does not reorder.
Stage one runs at any concurrency and judges one log entry per push request, so a caller's events are published in
the order stage one handled them, which for two requests a few milliseconds apart may differ from log order (as
with two concurrent fan-out invocations on AWS). The detector windows run on event time, so such a swap shifts a
window edge by milliseconds; it never loses or doubles an event.

Exactly once per event id (the telemetry `request_id`). Stage two keeps, in each caller's state object, the ids of
the caller's last `PROCESSED_IDS` events and commits state and ids together with `ifGenerationMatch` on the
generation it read. A redelivered message skips every id already committed, so no event moves a window twice and
no finding is produced twice by a committed event. A commit that loses a race (HTTP 412) answers 409, Pub/Sub
redelivers, and the retry reads the other writer's ids. Findings are logged before the commit (a crash loses
none); if a commit is then lost, the redelivery logs the same finding again with the same `finding_id`, Cloud
Logging `insertId` and entry time, which Cloud Logging treats as a duplicate of the first (removed from query
results), and evidence readers count findings by `finding_id`. Alerts are at least once, as on AWS.

Evidence and alerts are structured JSON lines on stdout (see `logs.py`): Cloud Run captures them as `jsonPayload`
with the given severity; the TelemetryWatch component routes the finding lines to the zone's evidence log bucket
and alerts on-call through a log-based metric on the `alert` lines.
"""

CONTROLS = ("OB-05", "OB-06", "OB-07", "OB-08", "WP-04", "WP-07")
