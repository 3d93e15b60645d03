"""The Lambda that watches inference telemetry: runs the detectors on every batch a CloudWatch Logs subscription
delivers, keeps the findings as evidence, alerts on-call, and publishes metrics. See handler.py."""

CONTROLS = ("WP-04", "WP-07", "OB-05", "OB-06", "OB-07", "OB-08", "RC-06")
