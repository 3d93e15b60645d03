"""The inference guard: a sidecar reverse proxy that puts every request and response through the runtime controls.

`config` is the contract with the deployment side (`ModelServing` renders the JSON this module loads). The rest:
- `app`: the Starlette app (`build_app`), request flow, admission (RC-11), timeouts (RC-10), health endpoints;
- `controls`: one function per control, in `config.CONTROL_TABLE` order, and the `Refusal` they raise;
- `guardrails`: Bedrock ApplyGuardrail and Model Armor behind one interface, failing closed;
- `identity`: JWT verification, and mTLS with the verified client certificate handed to the app;
- `streaming`: windowed release of server-sent events, each window checked before it leaves;
- `telemetry_out`: the one schema-valid telemetry line per request, with counted write failures;
- `cli`: `modelfort guard --config PATH` / `python -m modelfort.runtime.guard`.
"""

from modelfort.runtime.guard.config import CONTROL_TABLE as _CONTROL_TABLE

# What the guard implements, for the control matrix: every control's IDs, plus the request and upstream timeouts
# (RC-10), bounded admission with back-pressure (RC-11) and the one telemetry line per request with the verified
# release's model version and digest (OB-01, OB-04).
CONTROLS = tuple(sorted({cid for ids, _tier in _CONTROL_TABLE.values() for cid in ids} | {"RC-10", "RC-11", "OB-01", "OB-04"}))
