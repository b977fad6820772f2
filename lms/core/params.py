"""Input read outside WTForms (a JSON body, a number in the address or a form): anything
malformed, wrongly typed or out of range is a 400 whose message says which value and what is
expected, never a 500."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest

# The largest value of an integer column (ids): PostgreSQL refuses a query comparing with more.
MAX_INT = 2**31 - 1
MAX_PAGE = 100_000
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,12}")
_NUL = _l("The request contains a NUL character, which is never valid. Remove it and try again.")


class InvalidInput(BadRequest):
    """A 400 whose description is a translated sentence saying what to send instead."""


def refuse(message) -> NoReturn:
    """Stop the request with a 400 showing `message` (a page, or JSON for a JSON endpoint)."""
    raise InvalidInput(description=message)


def json_endpoint(view: Callable) -> Callable:
    """Mark a view that answers JSON: its error responses are {"error": "..."} too."""
    view.json_errors = True
    return view


def answers_json() -> bool:
    """Whether the current request's view was marked with @json_endpoint."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(view, "json_errors", False))


def refuse_nul_characters() -> None:
    """Before every request, once its body limit is set (lms.core.web.apply_body_limit): a NUL
    in the path, the query, a form field or an uploaded file's name is never meant (and
    PostgreSQL cannot store or compare it), so the request is a 400 before anything reads it.
    JSON bodies are checked where they are read (json_object)."""
    values = [request.path, *_strings(request.args)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values.extend(_strings(request.form))
        for key, upload in request.files.items(multi=True):
            values.extend((key, upload.filename or ""))
    if any("\x00" in value for value in values):
        refuse(_NUL)


def _strings(data) -> list[str]:
    return [text for key, value in data.items(multi=True) for text in (key, value)]


# --- JSON bodies ----------------------------------------------------------------------------


def json_object() -> dict[str, Any]:
    """The request body as a JSON object (an empty body without a Content-Type is {})."""
    body = request.get_data(cache=True)
    if not body and not request.mimetype:
        return {}
    if not request.is_json:
        refuse(_l("Send the data as JSON, with the header Content-Type: application/json."))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        refuse(_l("The data is not valid UTF-8 text."))
    try:
        # NaN and Infinity are not JSON, whatever Python's json module accepts by default.
        data = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        refuse(_l("The data is not valid JSON."))
    if not isinstance(data, dict):
        refuse(_l("The data must be a JSON object of named values."))
    if _holds_nul(data):
        refuse(_NUL)
    return data


def _not_json(name: str):
    raise ValueError(name)


def _holds_nul(data) -> bool:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_number(data: Mapping[str, Any], name: str, *, default: float, minimum, maximum):
    """`data[name]` (`default` if absent): an integer or decimal number from `minimum` to
    `maximum`; a string, boolean, null, list or object is refused, and so are NaN, infinities
    and huge numbers."""
    value = data.get(name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        # False for NaN as well as for anything out of range.
        or not minimum <= value <= maximum
    ):
        refuse(
            _l(
                "“%(name)s” must be a number from %(minimum)s to %(maximum)s.",
                name=name,
                minimum=minimum,
                maximum=maximum,
            )
        )
    return value


# --- numbers in the address or a form -------------------------------------------------------


def int_arg(
    name: str,
    default: int | None = None,
    *,
    minimum: int = 1,
    maximum: int = MAX_INT,
    source: Mapping[str, str] | None = None,
) -> int | None:
    """The whole number `name` of the query string (or of `source`, e.g. request.form):
    `default` if absent or empty, a 400 if it is not a whole number from `minimum` to
    `maximum`."""
    raw = (request.args if source is None else source).get(name, "").strip()
    if not raw:
        return default
    if not _WHOLE_NUMBER.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        refuse(
            _l(
                "“%(name)s” must be a whole number from %(minimum)d to %(maximum)d.",
                name=name,
                minimum=minimum,
                maximum=maximum,
            )
        )
    return int(raw)


def page_arg() -> int:
    """The page number of a paged list (?page=, 1 if absent)."""
    return int_arg("page", 1, maximum=MAX_PAGE)
