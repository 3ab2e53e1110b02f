"""Secrets and personal data in prompt text: what must not leave the machine.

Detection favours recall on things that are unambiguous when found (key formats with fixed prefixes,
PEM private keys, card numbers that pass the Luhn check) and keeps false positives down elsewhere
(a ``password = ...`` line needs a literal value, not ``os.environ[...]``; e-mail addresses at the
reserved example domains are not personal data). Only the *kinds* found are reported, never the values,
so a reason or a log line can never leak what it found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# kind -> patterns. Every pattern is bounded (no nested quantifiers) so a hostile prompt cannot make the
# router backtrack for long.
_TOKEN_PATTERNS: dict[str, tuple[str, ...]] = {
    "private-key": (r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----",),
    "api-key": (
        r"\bsk-(?:proj-|ant-(?:api|admin)\d{2}-)?[A-Za-z0-9_\-]{20,}",  # OpenAI, Anthropic
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key id
        r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",  # GitHub tokens
        r"\bgithub_pat_[A-Za-z0-9_]{40,}\b",
        r"\bglpat-[A-Za-z0-9_\-]{20,}\b",  # GitLab
        r"\bxox[abprs]-[A-Za-z0-9\-]{10,}\b",  # Slack
        r"\bAIza[0-9A-Za-z_\-]{35}\b",  # Google
        r"\b[rs]k_live_[A-Za-z0-9]{16,}\b",  # Stripe
        r"\bhf_[A-Za-z0-9]{30,}\b",  # Hugging Face
        r"\bnpm_[A-Za-z0-9]{36}\b",
        r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",  # JWT
        r"(?i:\bauthorization\s*:\s*(?:bearer|basic|token))\s+[A-Za-z0-9._~+/=\-]{16,}",
    ),
    "credentials-url": (r"\b[a-z][a-z0-9+.\-]{1,20}://[^\s:/@]{1,64}:[^\s:/@]{3,128}@[\w.\-]+",),
    "ssn": (r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b",),
}
# One alternation per kind: a single pass over the text instead of one per pattern.
_COMPILED = {kind: re.compile("|".join(f"(?:{p})" for p in pats)) for kind, pats in _TOKEN_PATTERNS.items()}
_PASSWORD_HINTS = ("pass", "pwd", "secret", "key", "token")
# Lower-case literals every match of a kind contains: ``in`` over them is far cheaper than the regex on long
# text, so the regex only runs when one is there.
_LITERALS: dict[str, tuple[str, ...]] = {
    "private-key": ("private key",),
    "api-key": ("sk-", "akia", "asia", "_", "glpat-", "xox", "aiza", "eyj", "authorization"),
    "credentials-url": ("://",),
    "ssn": ("-",),
}

# ``password = "hunter2"``, ``"api_key": "..."``, ``DB_PASSWORD=...``, ``secret: ...`` in YAML/TOML/.env/JSON.
_ASSIGNMENT = re.compile(
    r"""(?ix)
    (?:^|[\s{,;"'])
    [\w.\-]{0,30}?(?:pass(?:word|wd|phrase)?|pwd|secret|api[_\-]?key|access[_\-]?key|auth[_\-]?token
                   |access[_\-]?token|refresh[_\-]?token|client[_\-]?secret|private[_\-]?key)[\w\-]{0,20}
    ["']?\s*[:=]\s*
    (?P<value>"[^"\n]{4,200}"|'[^'\n]{4,200}'|[^\s"',;]{6,200})
    """
)
# Values that are references or placeholders, not secrets.
_PLACEHOLDER = re.compile(
    r"""(?ix)^["']?(?:
        \$\{?[\w.]+\}?|%\(?\w+\)?s?|\{\{.*\}\}|<[^>]*>|\*+|x{3,}|\.{3,}|changeme|change[_-]me|your[_\-\w]*
        |os\.environ.*|os\.getenv.*|process\.env.*|env\(.*|getenv\(.*|none|null|true|false|required
        |password|secret|example|redacted|placeholder|dummy|test|string|str|input\(.*
    )["']?$"""
)

_EMAIL = re.compile(
    r"\b(?P<local>[A-Za-z0-9._%+\-]{1,64})@(?P<domain>[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})+)\b"
)
_RESERVED_DOMAINS = ("example.com", "example.org", "example.net", "test", "invalid", "localhost", "example")
# Mailboxes no person reads (``noreply@``, GitHub's ``users.noreply.github.com``): tools put them in their
# own prompts (Continue's "Co-Authored-By: Continue <noreply@continue.dev>"), where they are no one's data.
_UNATTENDED = re.compile(r"^(?:no|do[._-]?not)[._-]?reply$")

_CARD_CANDIDATE = re.compile(r"(?<![\d.])(?:\d[ \-]?){12,18}\d(?![\d.])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")

ALL_KINDS = ("private-key", "api-key", "password", "credentials-url", "card-number", "iban", "ssn", "email")


def luhn_valid(digits: str) -> bool:
    """The card-number checksum (ISO/IEC 7812)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _has_card(text: str) -> bool:
    for match in _CARD_CANDIDATE.finditer(text):
        digits = re.sub(r"[ \-]", "", match.group())
        # Issuer prefixes of the big networks: Visa 4, Mastercard 2/5, Amex 34/37, Discover/UnionPay 6, JCB/Diners 3.
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and len(set(digits)) > 1 and luhn_valid(digits):
            return True
    return False


def _iban_valid(candidate: str) -> bool:
    s = candidate.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _has_email(text: str) -> bool:
    for match in _EMAIL.finditer(text):
        domain = match.group("domain").lower()
        if any(domain == d or domain.endswith("." + d) for d in _RESERVED_DOMAINS):
            continue
        if _UNATTENDED.match(match.group("local").lower()) or ".noreply." in f".{domain}.":
            continue
        return True
    return False


def _has_password(text: str) -> bool:
    lower = text.lower()
    if not any(h in lower for h in _PASSWORD_HINTS):  # cheap pre-check before the assignment pattern
        return False
    for match in _ASSIGNMENT.finditer(text):
        value = match.group("value").strip()
        if not _PLACEHOLDER.match(value):
            return True
    return False


def find_sensitive(text: str, kinds: Iterable[str] = ALL_KINDS) -> list[str]:
    """The kinds of secret or personal data present in ``text``, in :data:`ALL_KINDS` order."""
    wanted = set(kinds)
    lower = text.lower()
    found: list[str] = []
    for kind in ALL_KINDS:
        if kind not in wanted:
            continue
        if kind in _COMPILED:
            literals = _LITERALS.get(kind, ())
            prefilter = not literals or any(lit in lower for lit in literals)
            hit = prefilter and _COMPILED[kind].search(text) is not None
        elif kind == "password":
            hit = _has_password(text)
        elif kind == "card-number":
            hit = _has_card(text)
        elif kind == "iban":
            hit = any(_iban_valid(m.group()) for m in _IBAN.finditer(text))
        else:  # email
            hit = _has_email(text)
        if hit:
            found.append(kind)
    return found
