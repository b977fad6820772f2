"""Quiz question types, a registry keyed by type name (CONVENTIONS rule 7).

Each type owns everything in which question types differ, so that code outside asks
`QUESTION_TYPES[q.type]` instead of comparing type names:

- its definition: what `choices` and `answer` hold and what is wrong with them (`check`: in
  English for the package reader, translated and by form field for the question form), how a
  package's YAML becomes the stored question and back (`from_package`, `to_package`), and the
  length limits of its answer texts;
- its authoring form: the answer fields it adds to the question form (`form_fields`), how a
  stored question fills them (`form_data`) and how they give back choices and answer
  (`from_form`); templates/authoring/questions/<name>.html renders those fields and the
  read-only preview of a question;
- taking it: the order its choices are shown in for one attempt (`presented`), how the
  learner's answer is read from the submitted form (`parse_response`), whether it is left
  unanswered, and its grade (`credit`: the share of the question earned, 0–1; `grade`: fully
  right); templates/learning/questions/<name>.html renders the answer input and the review;
- its label and its answers as one line of text (`answer_text`, `response_text`) for reports;
- optionally a script of its own that enhances its answer input (`script`, under static/).

Adding a type touches this file and those two templates only (and its script, if it has one).
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from wtforms import FieldList, RadioField, StringField, TextAreaField

from lms.core.forms import choices as select_choices
from lms.courses.authoring_limits import QUESTION_LIMITS, question_length_problems
from lms.tenancy.forms import MultiCheckboxField

MAX_CHOICES = 6  # rows the question form offers for the choices of a choice question


def normalize_text(value: str) -> str:
    """Full-width → half-width, case-folded, inner spaces collapsed, outer spaces dropped."""
    text = unicodedata.normalize("NFKC", str(value))
    return re.sub(r"\s+", " ", text).strip().casefold()


def is_blank(response) -> bool:
    """No answer given: nothing, empty or blank text, or a list of those."""
    if response is None:
        return True
    if isinstance(response, list):
        return all(is_blank(r) for r in response)
    return not str(response).strip()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a question definition."""

    field: str  # "choices" | "answer": the part of the definition (and of the question form)
    text: str  # English, for package authors: "file:line: question n: <text>"
    message: object  # translated, for the question form


def _too_long(n: int, text: str, limit: int, message) -> list:
    count = len(text.strip())
    return [message(n=n, count=count, max=limit)] if count > limit else []


class QuestionType:
    name = ""
    label = _l("Question")
    has_choices = True  # the learner picks from stored choices (the form keeps them)
    # Form fields that show the problems of the definition's parts ("choices", "answer").
    form_errors_at = {"choices": "choices", "answer": "answer"}
    script: str | None = None  # a static file that enhances its answer input

    # --- the definition -------------------------------------------------------------------

    def check(self, choices: list, answer) -> list[Problem]:
        """What is wrong with a question definition (nothing: [])."""
        raise NotImplementedError

    def problems(self, choices: list, answer) -> list[str]:
        """What is wrong with a question definition, in English (for package authors)."""
        return [p.text for p in self.check(choices, answer)]

    def from_package(self, choices: list, answer) -> tuple[list[str], object]:
        """The stored (choices, answer) of a valid question of a package's quiz YAML."""
        texts = [str(a) for a in answer] if isinstance(answer, list) else str(answer)
        return [str(c) for c in choices], texts

    def to_package(self, question) -> dict:
        """The `choices` and `answer` of a stored question in a package's quiz YAML."""
        return {
            **({"choices": question.choices} if question.choices else {}),
            "answer": question.answer,
        }

    def answer_length_problems(self, answer) -> list:
        """Translated problems of answer texts over their length limit (choices, prompt and
        explanation are limited for every type: lms.courses.authoring_limits)."""
        return []

    def package_answer_length_problems(self, answer) -> list[tuple[tuple, str]]:
        """(YAML path inside the question, problem in English) per answer text too long."""
        return []

    def _choice_check(self, choices) -> list[Problem]:
        if not isinstance(choices, list) or len(choices) < 2:
            return [
                Problem(
                    "choices",
                    "needs a list of at least 2 choices",
                    _l("Give at least two choices."),
                )
            ]
        texts = [str(c) for c in choices]
        if len(set(texts)) != len(texts):
            return [
                Problem(
                    "choices",
                    "choices must be different from each other",
                    _l("Two choices have the same text."),
                )
            ]
        return []

    def _no_choices(self, choices) -> list[Problem]:
        if not choices:
            return []
        return [
            Problem(
                "choices",
                f"{self.name} questions have no choices",
                _l("This question type has no choices."),
            )
        ]

    # --- the question form ----------------------------------------------------------------

    def form_fields(self) -> dict:
        """The answer fields this type adds to the question form (unbound WTForms fields)."""
        return {}

    def prepare_form(self, form) -> None:
        """Complete a fresh question form of this type (e.g. offer empty choice rows)."""

    def form_data(self, question) -> dict:
        """Form data of a stored question's answer fields."""
        return {}

    def from_form(self, form) -> tuple[list, object, dict]:
        """(choices, answer, form errors) from the question form's answer fields."""
        raise NotImplementedError

    # --- taking it ------------------------------------------------------------------------

    def presented(self, question, rng: random.Random, *, shuffle: bool) -> list[str] | None:
        """The order the question's choices are shown in for one attempt (None: no choices)."""
        order = [str(c) for c in question.choices or []]
        if not order:
            return None
        if shuffle:
            rng.shuffle(order)
        return order

    def parse_response(self, form, name: str, question):
        """The learner's answer from a submitted form (a MultiDict); `name`: its field."""
        return form.get(name)

    def is_unanswered(self, response) -> bool:
        """The learner left the question without an answer (to confirm before grading)."""
        return is_blank(response)

    def grade(self, choices: list, answer, response) -> bool:
        """The response is fully right."""
        raise NotImplementedError

    def credit(self, choices: list, answer, response) -> float:
        """The share of the question the response earns, 0–1 (all or nothing by default)."""
        return 1.0 if self.grade(choices, answer, response) else 0.0

    def correct_response(self, question):
        """A response that is fully right (what a learner who knows it submits)."""
        return question.answer

    # --- as text ----------------------------------------------------------------------------

    def answer_text(self, question) -> str:
        """The correct answer as one line of text."""
        answer = question.answer
        if isinstance(answer, list):
            return " | ".join(str(a) for a in answer)
        return "" if answer is None else str(answer)

    def response_text(self, response) -> str:
        """A learner's response as one line of text ("" for none)."""
        if is_blank(response):
            return ""
        if isinstance(response, list):
            return "、".join(str(r) for r in response if not is_blank(r))
        return str(response)


class _ChoiceQuestion(QuestionType):
    """Single and multiple choice: choice rows in the form, each markable as correct."""

    marks_field = ""

    def form_fields(self) -> dict:
        return {"choices": FieldList(StringField(_l("Choice")), label=_l("Choices"))}

    def prepare_form(self, form) -> None:
        while len(form.choices.entries) < MAX_CHOICES:
            form.choices.append_entry()
        marks = getattr(form, self.marks_field)
        marks.choices = select_choices(
            (str(i), str(i + 1)) for i in range(len(form.choices.entries))
        )

    def _marked(self, form) -> list[str]:
        raise NotImplementedError

    def _choices_and_marked(self, form) -> tuple[list[str], list[str], dict]:
        # Marks name a row by its position: the page always posts every row (empty ones too),
        # and FieldList numbers the rows it receives 0..n-1.
        errors: dict[str, list] = {}
        rows = [(str(i), (e.data or "").strip()) for i, e in enumerate(form.choices)]
        by_index = dict(rows)
        marked = self._marked(form)
        if any(not by_index.get(i) for i in marked):
            errors["answer"] = [_l("A choice marked correct is empty.")]
        texts = [text for _i, text in rows if text]
        return texts, [by_index[i] for i in marked if by_index.get(i)], errors


class SingleChoice(_ChoiceQuestion):
    name = "single"
    label = _l("Single choice")
    form_errors_at = {"choices": "choices", "answer": "correct_one"}
    marks_field = "correct_one"

    def check(self, choices, answer):
        problems = self._choice_check(choices)
        if not problems and str(answer) not in [str(c) for c in choices]:
            problems.append(
                Problem(
                    "answer",
                    f"answer {answer!r} is not one of the choices",
                    _l("Mark the correct choice."),
                )
            )
        return problems

    def grade(self, choices, answer, response):
        return isinstance(response, str) and response == str(answer)

    def form_fields(self) -> dict:
        return {
            **super().form_fields(),
            "correct_one": RadioField(_l("Correct choice"), validate_choice=False),
        }

    def form_data(self, question) -> dict:
        texts = [str(c) for c in question.choices or []]
        answer = str(question.answer)
        return {
            "choices": texts,
            "correct_one": str(texts.index(answer)) if answer in texts else None,
        }

    def _marked(self, form) -> list[str]:
        return [form.correct_one.data] if form.correct_one.data else []

    def from_form(self, form):
        texts, answers, errors = self._choices_and_marked(form)
        return texts, (answers[0] if answers else None), errors


class MultipleChoice(_ChoiceQuestion):
    name = "multiple"
    label = _l("Multiple choice")
    form_errors_at = {"choices": "choices", "answer": "correct_many"}
    marks_field = "correct_many"

    def check(self, choices, answer):
        problems = self._choice_check(choices)
        if not isinstance(answer, list) or not answer:
            return problems + [
                Problem(
                    "answer",
                    "answer must be a list of the correct choices",
                    _l("Mark at least one correct choice."),
                )
            ]
        texts = [str(c) for c in choices] if isinstance(choices, list) else []
        problems += [
            Problem(
                "answer", f"answer {a!r} is not one of the choices", _l("Mark the correct choice.")
            )
            for a in answer
            if str(a) not in texts
        ]
        return problems

    def grade(self, choices, answer, response):
        if not isinstance(response, list):
            return False
        return sorted(map(str, response)) == sorted(map(str, answer))

    def parse_response(self, form, name, question):
        return form.getlist(name)

    def form_fields(self) -> dict:
        return {
            **super().form_fields(),
            "correct_many": MultiCheckboxField(_l("Correct choices"), validate_choice=False),
        }

    def form_data(self, question) -> dict:
        texts = [str(c) for c in question.choices or []]
        answer = question.answer if isinstance(question.answer, list) else []
        return {
            "choices": texts,
            "correct_many": [str(texts.index(str(a))) for a in answer if str(a) in texts],
        }

    def _marked(self, form) -> list[str]:
        return list(form.correct_many.data or [])

    def from_form(self, form):
        return self._choices_and_marked(form)


class TrueFalse(QuestionType):
    name = "true_false"
    label = _l("True or false")
    has_choices = False
    form_errors_at = {"choices": "truth", "answer": "truth"}

    def check(self, choices, answer):
        problems = self._no_choices(choices)
        if not isinstance(answer, bool):
            problems.append(
                Problem(
                    "answer",
                    "answer must be true or false",
                    _l("Choose whether the statement is true or false."),
                )
            )
        return problems

    def from_package(self, choices, answer):
        return [], answer

    def grade(self, choices, answer, response):
        return response in ("true", "false") and (response == "true") == bool(answer)

    def correct_response(self, question):
        return "true" if question.answer else "false"

    def form_fields(self) -> dict:
        return {
            "truth": RadioField(
                _l("The statement is"),
                choices=select_choices((("true", _l("True")), ("false", _l("False")))),
                validate_choice=False,
            )
        }

    def form_data(self, question) -> dict:
        return {"truth": "true" if question.answer is True else "false"}

    def from_form(self, form):
        return [], {"true": True, "false": False}.get(form.truth.data), {}

    def answer_text(self, question) -> str:
        return str(_l("True")) if question.answer else str(_l("False"))

    def response_text(self, response) -> str:
        if response == "true":
            return str(_l("True"))
        return str(_l("False")) if response == "false" else ""


class FillBlank(QuestionType):
    name = "fill_blank"
    label = _l("Fill in the blank")
    has_choices = False
    form_errors_at = {"choices": "accepted", "answer": "accepted"}

    def check(self, choices, answer):
        problems = self._no_choices(choices)
        accepted = answer if isinstance(answer, list) else [answer]
        if (
            not accepted
            or any(not str(a).strip() for a in accepted if a is not None)
            or None in accepted
        ):
            problems.append(
                Problem(
                    "answer",
                    "answer must be a text or a list of accepted texts",
                    _l("Enter at least one accepted answer."),
                )
            )
        return problems

    def grade(self, choices, answer, response):
        accepted = answer if isinstance(answer, list) else [answer]
        return isinstance(response, str) and normalize_text(response) in {
            normalize_text(a) for a in accepted
        }

    def correct_response(self, question):
        return question.answer[0] if isinstance(question.answer, list) else question.answer

    def answer_length_problems(self, answer) -> list:
        if isinstance(answer, list):
            texts = [str(a) for a in answer]
        else:
            texts = [] if answer is None or isinstance(answer, bool) else [str(answer)]
        message = lambda **kw: _l(  # noqa: E731
            "Accepted answer %(n)d is %(count)d characters long: shorten it to at most %(max)d.",
            **kw,
        )
        return [
            p
            for n, text in enumerate(texts, start=1)
            for p in _too_long(n, text, QUESTION_LIMITS["answer"], message)
        ]

    def package_answer_length_problems(self, answer) -> list[tuple[tuple, str]]:
        limit = QUESTION_LIMITS["answer"]
        if isinstance(answer, list):
            paths = [
                (("answer", i), f"accepted answer {i + 1}", str(a)) for i, a in enumerate(answer)
            ]
        elif isinstance(answer, str):
            paths = [(("answer",), "the accepted answer", answer)]
        else:
            paths = []
        return [
            (path, f"{what} is {len(text.strip())} characters long: at most {limit} allowed")
            for path, what, text in paths
            if len(text.strip()) > limit
        ]

    def form_fields(self) -> dict:
        return {
            "accepted": TextAreaField(
                _l("Accepted answers"),
                description=_l(
                    "One per line. Case, full-width characters and extra spaces are ignored "
                    "when answers are compared."
                ),
                render_kw={"rows": 3},
            )
        }

    def form_data(self, question) -> dict:
        accepted = question.answer if isinstance(question.answer, list) else [question.answer]
        return {"accepted": "\n".join(str(a) for a in accepted if a is not None)}

    def from_form(self, form):
        accepted = [line.strip() for line in (form.accepted.data or "").splitlines()]
        return [], [a for a in accepted if a], {}

    def answer_text(self, question) -> str:
        answer = question.answer
        return " | ".join(str(a) for a in answer) if isinstance(answer, list) else str(answer or "")


class Ordering(QuestionType):
    """排序题: the learner puts the given items in the right order.

    YAML: `answer` is the list of items in the right order (2–10 different texts); `choices`
    may be left out (if given, they must be the same items). Each attempt shows the items
    shuffled, never in the right order. Grading: all in the right order is correct; otherwise
    each item in its right place earns its share (3 of 4 items in place: 0.75 of the question),
    so a learner who swaps two neighbours keeps most of the credit and a random order earns
    about 1/n. The review shows the learner's order, each place marked right or wrong, and the
    correct order.
    """

    name = "ordering"
    label = _l("Ordering")
    has_choices = False
    form_errors_at = {"choices": "items", "answer": "items"}
    script = "js/ordering_question.js"
    max_items = 10

    def _items(self, answer) -> list[str]:
        return [str(a) for a in answer] if isinstance(answer, list) else []

    def check(self, choices, answer):
        items = self._items(answer)
        if (
            not isinstance(answer, list)
            or len(answer) < 2
            or any(isinstance(a, dict | list) or a is None or not str(a).strip() for a in answer)
        ):
            return [
                Problem(
                    "answer",
                    "answer must be the list of at least 2 items in the right order",
                    _l("Enter at least two items, one per line, in the right order."),
                )
            ]
        problems = []
        if len(items) > self.max_items:
            problems.append(
                Problem(
                    "answer",
                    f"an ordering question has at most {self.max_items} items",
                    _l("Give at most %(n)d items.", n=self.max_items),
                )
            )
        if len(set(items)) != len(items):
            problems.append(
                Problem(
                    "answer",
                    "items must be different from each other",
                    _l("Two items have the same text."),
                )
            )
        if choices and sorted(map(str, choices)) != sorted(items):
            problems.append(
                Problem(
                    "choices",
                    "choices, if given, must be the same items as the answer",
                    _l("The items are the answer: an ordering question has no other choices."),
                )
            )
        return problems

    def from_package(self, choices, answer):
        return [], self._items(answer)  # the items are the answer; `choices` adds nothing

    def to_package(self, question) -> dict:
        return {"answer": list(question.answer)}

    def answer_length_problems(self, answer) -> list:
        message = lambda **kw: _l(  # noqa: E731
            "Item %(n)d is %(count)d characters long: shorten it to at most %(max)d.", **kw
        )
        return [
            p
            for n, text in enumerate(self._items(answer), start=1)
            for p in _too_long(n, text, QUESTION_LIMITS["choice"], message)
        ]

    def package_answer_length_problems(self, answer) -> list[tuple[tuple, str]]:
        limit = QUESTION_LIMITS["choice"]
        return [
            (
                ("answer", i),
                f"item {i + 1} is {len(text.strip())} characters long: at most {limit} allowed",
            )
            for i, text in enumerate(self._items(answer))
            if len(text.strip()) > limit
        ]

    def form_fields(self) -> dict:
        return {
            "items": TextAreaField(
                _l("Items in the right order"),
                description=_l(
                    "One item per line, from first to last (2 to %(n)d items). Learners see "
                    "them shuffled and number them in this order.",
                    n=self.max_items,
                ),
                render_kw={"rows": 6},
            )
        }

    def form_data(self, question) -> dict:
        return {"items": "\n".join(self._items(question.answer))}

    def from_form(self, form):
        items = [" ".join(line.split()) for line in (form.items.data or "").splitlines()]
        return [], [item for item in items if item], {}

    def presented(self, question, rng, *, shuffle):
        # Always shuffled (the quiz's `shuffle` or not), and never shown in the right order.
        items = self._items(question.answer)
        order = list(items)
        rng.shuffle(order)
        if order == items:
            order = order[1:] + order[:1]
        return order

    def parse_response(self, form, name, question):
        """The items by place: the form posts each item (`<name>-item`, hidden, in the order
        shown) with the place chosen for it (`<name>`: 1…n, or "" for none). A place given to
        two items goes to the first; an item without a place leaves its slot "" ."""
        items = set(self._items(question.answer))
        slots = [""] * len(items)
        for item, place in zip(form.getlist(f"{name}-item"), form.getlist(name), strict=False):
            try:
                n = int(place)
            except (TypeError, ValueError):
                continue
            if item in items and item not in slots and 1 <= n <= len(slots) and not slots[n - 1]:
                slots[n - 1] = item
        return slots

    def is_unanswered(self, response) -> bool:
        # Partly numbered counts as unanswered: the learner confirms before it is graded.
        return not isinstance(response, list) or any(is_blank(r) for r in response)

    def credit(self, choices, answer, response) -> float:
        items = self._items(answer)
        if not isinstance(response, list) or not items:
            return 0.0
        placed = sum(1 for i, item in enumerate(items) if i < len(response) and response[i] == item)
        return placed / len(items)

    def grade(self, choices, answer, response):
        return isinstance(response, list) and [str(r) for r in response] == self._items(answer)

    def correct_response(self, question):
        return self._items(question.answer)

    def answer_text(self, question) -> str:
        return " → ".join(self._items(question.answer))

    def response_text(self, response) -> str:
        if not isinstance(response, list) or is_blank(response):
            return ""
        return " → ".join(str(r) if not is_blank(r) else "—" for r in response)


QUESTION_TYPES: dict[str, QuestionType] = {
    t.name: t for t in (SingleChoice(), MultipleChoice(), TrueFalse(), FillBlank(), Ordering())
}


# --- the question form's checks -------------------------------------------------------------

QUESTION_FIELD_LABELS = {
    "prompt": _l("Question"),
    "choices": _l("Choices"),
    "answer": _l("Correct answer"),
    "type": _l("Question type"),
    "explanation": _l("Explanation"),
}


def question_problems(
    qtype: str, prompt: str, choices: list, answer, explanation: str | None = None
) -> dict[str, list]:
    """Translated problems of a question definition by part (prompt, choices, answer,
    explanation; type), from the type's own checks and the length limits."""
    errors: dict[str, list] = {}
    if qtype not in QUESTION_TYPES:
        return {"type": [_l("Choose a question type.")]}
    if not (prompt or "").strip():
        errors.setdefault("prompt", []).append(_l("Enter the question."))
    for field, messages in question_length_problems(
        qtype, prompt, choices, answer, explanation
    ).items():
        errors.setdefault(field, []).extend(messages)
    for problem in QUESTION_TYPES[qtype].check(choices, answer):
        if problem.message not in errors.get(problem.field, []):
            errors.setdefault(problem.field, []).append(problem.message)
    return errors
