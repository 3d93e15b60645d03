"""Partitioned detection (issue 17): a stateless fan-out at any concurrency, then per-caller consumers with
durable state.

    CloudWatch Logs subscription ──> fanout (any concurrency)        ──> Kinesis (partition key = caller)
                                     jailbreak, rag_poisoning            │  event source mapping,
                                     findings → evidence, alerts          │  parallelization factor N per shard
                                                                          v
                                     consumer (one batch per shard slot at a time, a caller's events in order)
                                     extraction, tool_use with state in DynamoDB (conditional writes, TTL)
                                     findings → evidence (one object per event id), alerts

Why two stages: only the per-caller detectors need all of one caller's events, in order, in one place; the pattern
detectors are most of the CPU and need nothing. Kinesis keeps a partition key's records in order within a shard,
and an event source mapping with a parallelization factor processes up to N batches per shard at once while
keeping each partition key on one of them, so per-caller order survives any concurrency.

Exactly once per event id (the telemetry `request_id`): the consumer keeps, with each caller's state, the ids of
the caller's last `PROCESSED_IDS` events, and commits state and ids in one conditional write on the item's
version. A retried batch (Lambda retries, bisection, a fan-out retry that put a record twice) skips every id it
finds, so no event moves a window or a baseline twice; a finding's evidence object is named by its event id, so a
re-written finding replaces itself. Alerts are at least once (an alert sent before a crash may be sent again).
"""

PROCESSED_IDS = 256
"""Event ids remembered per caller. A retry replays at most one batch (BatchSize <= this, enforced by the
component), and the fan-out's duplicates arrive within seconds, so 256 covers both with room to spare. Defined here,
not in `consumer`, so the component that bounds the batch size reads it without importing the detectors."""
