"""The warehouse tests run on every backend: the `store` fixture here is parametrized."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def store(backend: Any) -> Iterator[Any]:
    """A Store on a migrated warehouse of each backend, with the bundled catalog loaded."""
    from tracker.catalog import load_catalog
    from tracker.warehouse import Store

    con = backend.connect()
    s = Store(con)
    s.refresh_tools(load_catalog())
    yield s
    con.close()
