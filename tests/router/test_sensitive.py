"""Secret and personal-data detection: each kind found, placeholders and look-alikes not."""

from __future__ import annotations

import pytest

from edgeroute.router.sensitive import find_sensitive, luhn_valid

PEM_HEADER = "-----BEGIN " + "RSA PRIVATE KEY-----"  # split so scanners do not flag this file

POSITIVE = [
    ("private-key", f"{PEM_HEADER}\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----"),
    ("private-key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA"),
    ("api-key", "my key is sk-proj-" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"),
    ("api-key", "export ANTHROPIC_API_KEY=sk-ant-api03-" + "x" * 40),
    ("api-key", "aws_access_key_id = AKIA" + "ABCDEFGHIJKLMNOP"),
    ("api-key", "token ghp_" + "A" * 36),
    ("api-key", "curl -H 'Authorization: Bearer " + "abcdefghij0123456789xyz" + "'"),
    ("api-key", "key=AIza" + "SyA-1234567890abcdefghijklmnopqrstu"),
    ("password", 'db:\n  user: admin\n  password: "S3cr3t!pass"\n'),
    ("password", "DB_PASSWORD=hunter22xyz\nDB_HOST=localhost"),
    ("password", '{"client_secret": "9f8e7d6c5b4a"}'),
    ("credentials-url", "DATABASE_URL=postgres://app:s3cretpw@db.internal:5432/app"),
    ("card-number", "charge my card 4111 1111 1111 1111 exp 12/29"),
    ("card-number", "5555-5555-5555-4444"),
    ("iban", "wire it to GB82 WEST 1234 5698 7654 32 please"),
    ("ssn", "my SSN is 123-45-6789"),
    ("email", "write to jane.doe@gmail.com about the meeting"),
    ("email", "noreply@continue.dev wrote, cc reply.to.me@gmail.com"),
]


@pytest.mark.parametrize(("kind", "text"), POSITIVE)
def test_each_kind_is_found(kind: str, text: str) -> None:
    assert kind in find_sensitive(text)


NEGATIVE = [
    "password = os.environ['DB_PASSWORD']",
    'api_key: "${OPENAI_API_KEY}"',
    "password: <your password here>",
    "Set password = changeme in the sample config.",
    "Write a function that checks whether a password is strong.",
    "contact support@example.com for help",
    "Co-Authored-By: Continue <noreply@continue.dev>",  # in every Continue CLI system prompt
    "Co-Authored-By: Claude <noreply@anthropic.com>",
    "mail from no-reply@accounts.google.com and do-not-reply@bank.example.org",
    "commit by 1234567+octocat@users.noreply.github.com",
    "the order number is 1234 5678 9012 3456",  # fails the Luhn check
    "Compute 3.14159265358979 times 2",
    "What is the capital of France?",
    "sk-short",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_ordinary_text_is_not_flagged(text: str) -> None:
    assert find_sensitive(text) == []


def test_only_requested_kinds_run() -> None:
    text = "mail jane.doe@gmail.com, card 4111111111111111"
    assert find_sensitive(text, ["email"]) == ["email"]
    assert find_sensitive(text, ["card-number"]) == ["card-number"]


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_long_hostile_input_is_fast() -> None:
    import time

    text = ("password" + "=" * 50 + "a" * 50 + " ") * 2000 + "@" * 5000 + "1 " * 5000
    start = time.perf_counter()
    find_sensitive(text)
    assert time.perf_counter() - start < 2.0
