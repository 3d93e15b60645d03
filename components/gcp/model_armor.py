"""ModelGuardrails: Model Armor screens prompts and responses for the unsafe domains, and blocks what it finds.

- A template the model-serving layer calls (`sanitizeUserPrompt` / `sanitizeModelResponse`) with every filter on and
  INSPECT_AND_BLOCK enforcement:
  responsible-AI filters for sexually explicit content, hate speech, harassment and dangerous content (GR-01 violence,
  GR-02 harassment, GR-03 self-harm, GR-04 extremism, GR-05 child safety, GR-07 cyber misuse, as Model Armor groups
  them; its child-sexual-abuse filter is always on), prompt-injection and jailbreak detection (RC-08), malicious URIs,
  and Sensitive Data Protection for PII in prompts and responses (GR-08, RC-01).
- A project floor setting: the same minimums for every template in the project and for Vertex AI, so a second, weaker
  template cannot quietly replace this one.
- Verdicts are logged (they reach the zone's locked evidence bucket through its sink).

Medical and legal guidance (GR-06) is not a Model Armor category; that stays with the serving layer's own topic policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp.common import check_zone_and_project, child_options, zone_labels

RAI_FILTERS = ("SEXUALLY_EXPLICIT", "HATE_SPEECH", "HARASSMENT", "DANGEROUS")
CONFIDENCE_LEVELS = ("LOW_AND_ABOVE", "MEDIUM_AND_ABOVE", "HIGH")
"""Strictest first: LOW_AND_ABOVE blocks the most. HIGH only catches what Model Armor is sure of."""
INSPECT_AND_BLOCK = "INSPECT_AND_BLOCK"


def filter_config(confidence_level: str) -> dict:
    return {
        "rai_settings": {"rai_filters": [{"filter_type": t, "confidence_level": confidence_level} for t in RAI_FILTERS]},
        "pi_and_jailbreak_filter_settings": {"filter_enforcement": "ENABLED", "confidence_level": confidence_level},
        "malicious_uri_filter_settings": {"filter_enforcement": "ENABLED"},
        "sdp_settings": {"basic_config": {"filter_enforcement": "ENABLED"}},
    }


@dataclass(frozen=True, kw_only=True)
class ModelGuardrailsArgs:
    zone: str
    project: str
    region: str
    """Where the template lives (a region Model Armor serves)."""
    confidence_level: str = "MEDIUM_AND_ABOVE"
    """How sure Model Armor must be before a filter fires. Defaults to MEDIUM_AND_ABOVE; HIGH (fire only when sure)
    weakens every filter and is blocked by a policy."""
    inspect_only: bool = False
    """Escape hatch (weakens GR-*, RC-01..03, RC-08): report unsafe prompts and responses but let them through.
    Defaults to False; a policy blocks it unless waived."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("ModelGuardrailsArgs", self.zone, self.project)
        if self.confidence_level not in CONFIDENCE_LEVELS:
            raise ValueError(f"ModelGuardrailsArgs.confidence_level: {self.confidence_level!r} is not allowed (one of: {', '.join(CONFIDENCE_LEVELS)})")


class ModelGuardrails(pulumi.ComponentResource):
    CONTROLS = ("GR-01", "GR-02", "GR-03", "GR-04", "GR-05", "GR-07", "GR-08", "GR-09", "RC-01", "RC-02", "RC-03", "RC-08")
    template_name: pulumi.Output[str]
    """`projects/<p>/locations/<region>/templates/<id>`: what the serving layer passes to Model Armor."""

    def __init__(self, name: str, args: ModelGuardrailsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:ModelGuardrails", name, None, opts)
        child = child_options(self, opts)
        filters = filter_config(args.confidence_level)
        template = gcp.modelarmor.Template(
            f"{name}-template",
            template_id=f"modelfort-{args.zone}",
            location=args.region,
            filter_config=filters,
            template_metadata={
                "enforcement_type": "INSPECT_ONLY" if args.inspect_only else INSPECT_AND_BLOCK,
                "log_template_operations": True,
                "log_sanitize_operations": True,
                # Jailbreaks are often written in a language the filters were not tuned on.
                "multi_language_detection": {"enable_multi_language_detection": True},
            },
            labels=zone_labels(args.zone, args.labels),
            opts=child,
        )
        gcp.modelarmor.Floorsetting(
            f"{name}-floor",
            parent=f"projects/{args.project}",
            location="global",
            filter_config=filters,
            enable_floor_setting_enforcement=True,
            integrated_services=["AI_PLATFORM"],
            ai_platform_floor_setting={
                "inspect_and_block": not args.inspect_only,
                "inspect_only": args.inspect_only,
                "enable_cloud_logging": True,
            },
            floor_setting_metadata={"multi_language_detection": {"enable_multi_language_detection": True}},
            opts=child,
        )
        self.template_name = template.name
        self.template_id = f"modelfort-{args.zone}"
        """The template's id, known when the program runs: what each model's guard names in its config."""
        self._project, self._child = args.project, child
        self.register_outputs({"template_name": self.template_name})

    def grant_use(self, grant_name: str, member: pulumi.Input[str]) -> gcp.projects.IAMMember:
        """Let one model's guard (its Workload Identity principal) call sanitizeUserPrompt / sanitizeModelResponse.
        `roles/modelarmor.user` is granted on the project: Model Armor has no per-template IAM, and the role reads
        and uses templates without changing them."""
        return gcp.projects.IAMMember(f"{grant_name}-model-armor-user", project=self._project,
                                      role="roles/modelarmor.user", member=member, opts=self._child)
