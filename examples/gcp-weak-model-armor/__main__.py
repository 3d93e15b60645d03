"""A Model Armor template that screens only hate speech, and only reports what it finds.

`modelfort gate examples/gcp-weak-model-armor --stack dev` exits 1: `gcp-model-armor-template` on `prompt-screen`.
"""

import pulumi_gcp as gcp

gcp.modelarmor.Template(
    "prompt-screen",
    template_id="prompt-screen",
    location="us-central1",
    filter_config={"rai_settings": {"rai_filters": [{"filter_type": "HATE_SPEECH", "confidence_level": "MEDIUM_AND_ABOVE"}]}},
    template_metadata={"enforcement_type": "INSPECT_ONLY"},
)
