"""Values the database refuses (an integer beyond the column's range, a NUL character on PostgreSQL) are the
client's bad input: a 400, never a 500. Raised from one place, the unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DataError, StatementError

from switchyard.errors import BadRequest


@contextmanager
def refused_values_are_bad_requests() -> Iterator[None]:
    try:
        yield
    except DataError:
        raise BadRequest(
            "A value is out of range for its field or contains characters that cannot be stored.",
            code="invalid_value",
        ) from None
    except StatementError as exc:
        if isinstance(exc.orig, OverflowError):
            raise BadRequest("A number is out of range for its field.", code="invalid_value") from None
        raise
    except OverflowError:
        raise BadRequest("A number is out of range for its field.", code="invalid_value") from None
