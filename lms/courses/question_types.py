"""Quiz question types, a registry keyed by type name (CONVENTIONS rule 7).

Each type checks its definition (for the package validator and the quiz builder) and grades a
learner's response. Adding a type touches this file only.
"""

from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l


def normalize_text(value: str) -> str:
    """Full-width → half-width, case-folded, inner spaces collapsed, outer spaces dropped."""
    text = unicodedata.normalize("NFKC", str(value))
    return re.sub(r"\s+", " ", text).strip().casefold()


class QuestionType:
    name = ""
    label = _l("Question")
    has_choices = True

    def problems(self, choices: list, answer) -> list[str]:
        """What is wrong with a question definition (English, for package authors)."""
        raise NotImplementedError

    def grade(self, choices: list, answer, response) -> bool:
        raise NotImplementedError

    def _choice_problems(self, choices) -> list[str]:
        if not isinstance(choices, list) or len(choices) < 2:
            return ["needs a list of at least 2 choices"]
        texts = [str(c) for c in choices]
        if len(set(texts)) != len(texts):
            return ["choices must be different from each other"]
        return []


class SingleChoice(QuestionType):
    name = "single"
    label = _l("Single choice")

    def problems(self, choices, answer):
        errors = self._choice_problems(choices)
        if not errors and str(answer) not in [str(c) for c in choices]:
            errors.append(f"answer {answer!r} is not one of the choices")
        return errors

    def grade(self, choices, answer, response):
        return isinstance(response, str) and response == str(answer)


class MultipleChoice(QuestionType):
    name = "multiple"
    label = _l("Multiple choice")

    def problems(self, choices, answer):
        errors = self._choice_problems(choices)
        if not isinstance(answer, list) or not answer:
            return errors + ["answer must be a list of the correct choices"]
        texts = [str(c) for c in choices] if isinstance(choices, list) else []
        errors += [f"answer {a!r} is not one of the choices" for a in answer if str(a) not in texts]
        return errors

    def grade(self, choices, answer, response):
        if not isinstance(response, list):
            return False
        return sorted(map(str, response)) == sorted(map(str, answer))


class TrueFalse(QuestionType):
    name = "true_false"
    label = _l("True or false")
    has_choices = False

    def problems(self, choices, answer):
        errors = ["true_false questions have no choices"] if choices else []
        if not isinstance(answer, bool):
            errors.append("answer must be true or false")
        return errors

    def grade(self, choices, answer, response):
        return response in ("true", "false") and (response == "true") == bool(answer)


class FillBlank(QuestionType):
    name = "fill_blank"
    label = _l("Fill in the blank")
    has_choices = False

    def problems(self, choices, answer):
        errors = ["fill_blank questions have no choices"] if choices else []
        accepted = answer if isinstance(answer, list) else [answer]
        if (
            not accepted
            or any(not str(a).strip() for a in accepted if a is not None)
            or None in accepted
        ):
            errors.append("answer must be a text or a list of accepted texts")
        return errors

    def grade(self, choices, answer, response):
        accepted = answer if isinstance(answer, list) else [answer]
        return isinstance(response, str) and normalize_text(response) in {
            normalize_text(a) for a in accepted
        }


QUESTION_TYPES: dict[str, QuestionType] = {
    t.name: t for t in (SingleChoice(), MultipleChoice(), TrueFalse(), FillBlank())
}
