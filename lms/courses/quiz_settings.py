"""Quiz settings shared by the package format, the quiz editor and the quiz player: the
question bank draw (`draw`: how many questions each attempt asks) and the review policy
(`review`: when a learner may see the correct answers and explanations).

Both live in a quiz lesson's `data`; each is stored only when it differs from the default
(`draw` absent = every question; `review` absent = after passing or after the last attempt), so
a package that spells out a default exports and imports back to the same course.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

DEFAULT_REVIEW = "after_pass_or_last"
# Key → label for authors (the quiz editor's choices).
REVIEW_POLICIES = {
    "after_pass_or_last": _l("After passing or after the last attempt"),
    "after_pass": _l("Only after passing"),
    "after_last": _l("Only after the last attempt"),
    "never": _l("Never show them"),
}
# A quiz bank bigger than this is not a quiz a worker takes between shifts.
MAX_DRAW = 500


def quiz_review(data: dict) -> str:
    """The quiz's review policy (one of REVIEW_POLICIES)."""
    review = (data or {}).get("review")
    return review if isinstance(review, str) and review in REVIEW_POLICIES else DEFAULT_REVIEW


def quiz_draw(data: dict, bank_size: int) -> int:
    """How many of the quiz's `bank_size` questions one attempt asks."""
    draw = (data or {}).get("draw")
    if isinstance(draw, int) and not isinstance(draw, bool) and draw >= 1:
        return min(draw, bank_size)
    return bank_size


def bank_data(*, draw: int | None, review: str | None) -> dict:
    """The `data` entries of the two settings: only those that differ from the defaults."""
    data: dict = {}
    if draw:
        data["draw"] = draw
    if review and review != DEFAULT_REVIEW:
        data["review"] = review
    return data
