"""Pagination of a SELECT of several columns (Flask-SQLAlchemy's db.paginate keeps the first)."""

from flask import current_app
from flask_sqlalchemy.pagination import Pagination, SelectPagination

from lms.core.params import page_arg
from lms.extensions import db


class RowPagination(SelectPagination):
    """Like db.paginate(select), but the items are whole rows; `count_query` (a scalar SELECT) can
    stand in for counting the whole query, when a cheaper one gives the same number."""

    def _query_items(self) -> list:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())

    def _query_count(self) -> int:
        count = self._query_args.get("count_query")
        if count is None:
            return super()._query_count()
        return self._query_args["session"].scalar(count)


def paginate_rows(query, count_query=None) -> RowPagination:
    """The page of rows the request asks for (?page=), LMS_PAGE_SIZE rows a page."""
    return RowPagination(
        select=query,
        count_query=count_query,
        session=db.session,
        page=page_arg(),
        per_page=current_app.config["LMS_PAGE_SIZE"],
        error_out=False,
    )


class ListPagination(Pagination):
    """A page of a list already in memory (figures computed by aggregates in Python), with
    the attributes of the other paginations (items, page, pages, total, has_next …)."""

    def _query_items(self) -> list:
        rows = self._query_args["rows"]
        return list(rows[self._query_offset : self._query_offset + self.per_page])

    def _query_count(self) -> int:
        return len(self._query_args["rows"])


def paginate_list(rows, per_page: int | None = None) -> ListPagination:
    """The page of `rows` the request asks for (?page=), LMS_PAGE_SIZE rows a page unless
    `per_page` says otherwise."""
    return ListPagination(
        rows=rows,
        page=page_arg(),
        per_page=per_page or current_app.config["LMS_PAGE_SIZE"],
        error_out=False,
    )
