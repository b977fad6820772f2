"""Report pages may read from a PostgreSQL replica (LMS_REPORTS_DATABASE_URL).

A view marked `@reads_replica` runs its plain SELECTs on the replica (lms.extensions
RoutingSession); its writes, and the sign-in and permission checks that run before it, use the
primary. A replica lags the primary by a moment, which a report can afford and a form cannot:
mark only pages that read.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from lms.extensions import READ_REPLICA


@contextmanager
def reading_replica() -> Iterator[None]:
    token = READ_REPLICA.set(True)
    try:
        yield
    finally:
        READ_REPLICA.reset(token)


def reads_replica(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        with reading_replica():
            return view(*args, **kwargs)

    wrapped.reads_replica = True
    return wrapped
