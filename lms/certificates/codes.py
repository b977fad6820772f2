"""Verification codes: the random half of a certificate's public identity.

A serial (``TS-2026-000123K``) counts up, so anyone can list every serial there is: it names a
certificate but never opens one. The verification code printed next to it does. It is 12
characters of Crockford's base32 — 0–9 and A–Z without I, L, O and U, so nothing reads as
something else — drawn with `secrets` (60 random bits), stored at issue and unique. It is printed
in groups of four (``7K3M-Q9XD-2RTB``) and read back in any case, with or without hyphens or
spaces, with O typed for 0 and I or L for 1.

Guessing: one address gets 30 public look-ups a minute (views.PUBLIC_LIMIT); with a million
certificates issued, one guess in 2⁴⁰ opens any of them, and one in 2⁶⁰ a chosen one.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
GROUP = 4
CODE_RE = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")
_TYPED = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def new_code() -> str:
    """A fresh random code (canonical form: 12 characters, no hyphens)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_code(text: str | None) -> str:
    """What someone typed or scanned, in canonical form (it may still be no code at all)."""
    return (text or "").strip().upper().translate(_TYPED)


def is_code(text: str | None) -> bool:
    """Canonical and well formed (says nothing about whether it was issued)."""
    return CODE_RE.fullmatch(text or "") is not None


def format_code(code: str) -> str:
    """7K3MQ9XD2RTB → 7K3M-Q9XD-2RTB, as printed."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def new_salt() -> str:
    """The salt of a certificate's hashed Open Badges recipient (128 random bits)."""
    return secrets.token_hex(16)
