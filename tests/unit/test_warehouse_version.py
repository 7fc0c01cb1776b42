"""The warehouse refuses a PostgreSQL server too old for its SQL, naming the server and the fix."""

from __future__ import annotations

import pytest

from crm_books.warehouse.engine import WarehouseConfigError
from crm_books.warehouse.migrations import require_postgres_version


def test_a_postgresql_14_server_is_refused_with_its_version_and_the_fix() -> None:
    with pytest.raises(WarehouseConfigError) as caught:
        require_postgres_version((14, 11))
    message = str(caught.value)
    assert "PostgreSQL 14.11" in message
    assert "PostgreSQL 15 or later" in message
    assert "books_warehouse" in message


@pytest.mark.parametrize("version", [(15, 0), (15, 8), (16, 4), (17,), None])
def test_postgresql_15_and_later_and_an_unknown_version_pass(
    version: tuple[int, ...] | None,
) -> None:
    require_postgres_version(version)
