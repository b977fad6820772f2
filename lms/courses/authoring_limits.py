"""Length limits of quiz questions: one table for the question form, the authoring service and
the course package import, so each says and enforces the same numbers.

Sized for real quizzes read on a phone: a prompt of a few sentences (a scenario included), short
choices, an explanation of a paragraph or two. The longest demo prompt is under 100 characters.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

QUESTION_LIMITS = {
    "prompt": 1000,
    "choice": 300,
    "answer": 200,  # each accepted answer of a fill-in-the-blank question
    "explanation": 2000,
}


def _texts(value) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def prompt_problem(prompt) -> object | None:
    count, limit = len(str(prompt or "").strip()), QUESTION_LIMITS["prompt"]
    if count <= limit:
        return None
    return _l(
        "The question is %(count)d characters long: shorten it to at most %(max)d.",
        count=count,
        max=limit,
    )


def explanation_problem(explanation) -> object | None:
    count, limit = len(str(explanation or "").strip()), QUESTION_LIMITS["explanation"]
    if count <= limit:
        return None
    return _l(
        "The explanation is %(count)d characters long: shorten it to at most %(max)d.",
        count=count,
        max=limit,
    )


def choice_problems(choices) -> list:
    limit = QUESTION_LIMITS["choice"]
    return [
        _l(
            "Choice %(n)d is %(count)d characters long: shorten it to at most %(max)d.",
            n=n,
            count=len(text.strip()),
            max=limit,
        )
        for n, text in enumerate(_texts(choices), start=1)
        if len(text.strip()) > limit
    ]


def answer_problems(qtype: str, answer) -> list:
    """Answer texts over their limit, as the question's type says (e.g. the accepted answers
    of a fill-in-the-blank question; where the answers are choices, or true/false, none)."""
    from lms.courses.question_types import QUESTION_TYPES  # the registry uses this table

    kind = QUESTION_TYPES.get(qtype) if isinstance(qtype, str) else None
    return kind.answer_length_problems(answer) if kind is not None else []


def question_length_problems(
    qtype: str, prompt, choices, answer, explanation=None
) -> dict[str, list]:
    """Translated length problems of a question by form field (prompt, choices, answer,
    explanation); {} when every text is within its limit."""
    found = {
        "prompt": [p] if (p := prompt_problem(prompt)) else [],
        "choices": choice_problems(choices),
        "answer": answer_problems(qtype, answer),
        "explanation": [p] if (p := explanation_problem(explanation)) else [],
    }
    return {field: messages for field, messages in found.items() if messages}


class WithinLimit:
    """A WTForms validator: the field's text within QUESTION_LIMITS[kind], with the same
    message the service gives."""

    def __init__(self, kind: str):
        self.check = {"prompt": prompt_problem, "explanation": explanation_problem}[kind]

    def __call__(self, form, field) -> None:
        if (problem := self.check(field.data)) is not None:
            raise ValidationError(str(problem))


def package_question_problems(question: dict) -> list[tuple[tuple, str]]:
    """(YAML path inside the question, problem in English) for each text of a package's quiz
    question over its limit; the package reader adds the file and line."""
    from lms.courses.question_types import QUESTION_TYPES  # the registry uses this table

    found: list[tuple[tuple, str]] = []

    def over(path: tuple, what: str, text: str, limit: int) -> None:
        count = len(text.strip())
        if count > limit:
            found.append((path, f"{what} is {count} characters long: at most {limit} allowed"))

    if isinstance(question.get("prompt"), str):
        over(("prompt",), "the prompt", question["prompt"], QUESTION_LIMITS["prompt"])
    if isinstance(question.get("choices"), list):
        for i, text in enumerate(question["choices"]):
            over(("choices", i), f"choice {i + 1}", str(text), QUESTION_LIMITS["choice"])
    qtype = question.get("type")
    kind = QUESTION_TYPES.get(qtype) if isinstance(qtype, str) else None
    if kind is not None:
        found += kind.package_answer_length_problems(question.get("answer"))
    if question.get("explanation") is not None:
        text = str(question["explanation"])
        over(("explanation",), "the explanation", text, QUESTION_LIMITS["explanation"])
    return found
