"""Evidence excerpts are bounded, redacted and safe to print."""

from __future__ import annotations

import pytest

from modelfort.runtime.detectors.redact import excerpt, redact, visible


@pytest.mark.control("GR-08")
@pytest.mark.parametrize(("secret", "mask"), [
    ("AKIAIOSFODNN7EXAMPLE", "[AWS_KEY_ID]"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXZhbHVl", "[JWT]"),
    ("sk-proj-abcdefghijklmnopqrstuv123456", "[API_KEY]"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[API_KEY]"),
    ("jane.doe@example.com", "[EMAIL]"),
    ("4111 1111 1111 1111", "[CARD]"),
    ("123-45-6789", "[SSN]"),
    ("+44 20 7946 0958", "[PHONE]"),
    ("10.0.12.7", "[IP]"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "[PRIVATE_KEY]"),
    ("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg==", "[OPAQUE:"),
    ("deadbeefcafebabe0123456789abcdef", "[HEX:"),
])
def test_secrets_and_personal_data_are_masked(secret: str, mask: str) -> None:
    masked = redact(f"before {secret} after")
    assert mask in masked
    assert secret not in masked


@pytest.mark.parametrize("text", ["password=hunter2", "api_key: abc123xyz", "token is s3cr3tvalue",
                                  "Authorization: Bearer abcdefghijklmnop"])
def test_key_value_secrets_keep_the_key_and_lose_the_value(text: str) -> None:
    masked = redact(text)
    assert "[SECRET]" in masked
    assert text.split()[-1].split("=")[-1] not in masked


def test_urls_keep_only_scheme_and_host() -> None:
    assert redact("see https://evil.example/exfil?d=SECRETDATA#x") == "see https://evil.example/…"


def test_invoice_numbers_and_words_are_not_masked() -> None:
    text = "Invoice 12345 for Datenschutzgrundverordnung training, 3 days."
    assert redact(text) == text


def test_invisible_and_control_characters_are_shown_escaped() -> None:
    shown = visible("a\u200bb\u202ec\x1b[31m")
    assert shown == "a\\u200bb\\u202ec\\u001b[31m"


def test_a_canary_is_masked_in_any_case() -> None:
    assert redact("leaked MF-CANARY-abc here", ["mf-canary-ABC"]) == "leaked [CANARY] here"


def test_excerpts_are_bounded_centred_and_never_cut_a_secret_in_half() -> None:
    text = "x" * 500 + " token=abcdefghijklmnop MATCH here " + "y" * 500
    start = text.index("MATCH")
    cut = excerpt(text, start, start + 5, 60)
    assert len(cut) <= 60
    assert "MATCH" in cut and cut.startswith("…") and cut.endswith("…")
    assert "abcdefghijklmnop" not in cut and "abcdefgh" not in cut
    assert excerpt("short", 0, 5, 60) == "short"
