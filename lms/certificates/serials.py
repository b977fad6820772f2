"""Certificate serial numbers: consortium prefix, year, sequence and a check character.

Format: ``<PREFIX>-<YYYY>-<NNNNNN><C>``, e.g. ``TS-2026-000123K``. The prefix is the consortium's
code (letters and digits), the sequence counts the consortium's certificates of that year from 1,
and C is the ISO/IEC 7064 MOD 37-2 check character over everything before it with the hyphens
removed. MOD 37-2 works on the 36 characters 0–9 A–Z and catches every single-character error
and every swap of two adjacent characters; its check character is one of 0–9 A–Z or "*":

    p = 0
    for each character c (value 0–35):
        p = ((p + value(c)) · 2) mod 37
    check value = (38 − p) mod 37        (36 is written "*")

A serial is valid when its check character equals the one computed over its body.
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CHECK_ALPHABET = ALPHABET + "*"
SERIAL_RE = re.compile(r"^([A-Z0-9]{1,12})-(\d{4})-(\d{6,})([0-9A-Z*])$")


def check_character(body: str) -> str:
    """The MOD 37-2 check character of `body` (hyphens ignored, case-insensitive)."""
    p = 0
    for char in body.replace("-", "").upper():
        p = ((p + ALPHABET.index(char)) * 2) % 37  # ValueError: not 0-9/A-Z
    return CHECK_ALPHABET[(38 - p) % 37]


def make_serial(prefix: str, year: int, sequence: int) -> str:
    body = f"{prefix.upper()}-{year:04d}-{sequence:06d}"
    return body + check_character(body)


def normalize(serial: str) -> str:
    return (serial or "").strip().upper()


def is_valid(serial: str) -> bool:
    """Well-formed and its check character matches (says nothing about whether it was issued)."""
    serial = normalize(serial)
    if not SERIAL_RE.match(serial):
        return False
    return check_character(serial[:-1]) == serial[-1]


def is_serial(text: str) -> bool:
    """Shaped like a serial, whatever its check character (an address that names a
    certificate without opening it)."""
    return SERIAL_RE.match(normalize(text)) is not None
