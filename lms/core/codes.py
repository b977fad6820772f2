"""Identifier checks: unified social credit code (GB 32100-2015) and mainland mobile numbers."""

import re

from flask_babel import lazy_gettext as _l

# GB 32100-2015 character set: digits and upper-case letters without I, O, S, V, Z.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Weight of position i is 3**i mod 31.
USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


class CodeError(ValueError):
    """A user-facing, translated explanation of what is wrong with a code."""


def uscc_check_char(first17: str) -> str:
    """The check character (position 18) for the first 17 characters of a credit code."""
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def normalize_uscc(raw: str) -> str:
    """Return the credit code upper-cased and trimmed, or raise CodeError naming the problem."""
    code = (raw or "").strip().upper()
    if len(code) != 18:
        raise CodeError(
            _l("A unified social credit code has 18 characters; this one has %(n)d.", n=len(code))
        )
    for pos, ch in enumerate(code, start=1):
        if ch not in USCC_CHARSET:
            raise CodeError(
                _l(
                    "Character %(pos)d (“%(ch)s”) is not allowed; codes use digits and "
                    "capital letters except I, O, S, V and Z.",
                    pos=pos,
                    ch=ch,
                )
            )
    if not code[2:8].isdigit():
        raise CodeError(_l("Characters 3–8 must be the six-digit administrative division code."))
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise CodeError(
            _l(
                "The check character (the 18th) should be %(expected)s, not %(got)s; "
                "please check the code for a typing error.",
                expected=expected,
                got=code[17],
            )
        )
    return code


def normalize_mobile(raw: str) -> str:
    """Return an 11-digit mainland mobile number, or raise CodeError."""
    digits = re.sub(r"[\s-]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not MOBILE_RE.match(digits):
        raise CodeError(_l("A mainland mobile number has 11 digits and starts with 13–19."))
    return digits


def mask_mobile(mobile: str | None) -> str:
    """138****5678: enough to recognise a number, not enough to call it."""
    if not mobile:
        return ""
    if len(mobile) != 11:
        return "*" * len(mobile)
    return f"{mobile[:3]}****{mobile[7:]}"


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return email or ""
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"
