"""The ``gh`` fixture: the GitHub emulator behind respx for one test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from tests.collectors.github._support import RespxGitHub


@pytest.fixture
def gh() -> Iterator[RespxGitHub]:
    with respx.mock(assert_all_called=False) as router:
        yield RespxGitHub(router)
