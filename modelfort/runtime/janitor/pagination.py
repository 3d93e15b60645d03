"""Pagination through boto3's paginators, with an injectable page size.

Every listing the janitor does is paginated: an account with more users or secrets than one page holds must not
have its tail silently skipped. Tests pass a tiny ``page_size`` to force several pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def paginate(client: Any, operation: str, items_key: str, page_size: int | None = None, **params: Any) -> Iterator[Any]:
    pagination = {"PageSize": page_size} if page_size else {}
    for page in client.get_paginator(operation).paginate(**params, PaginationConfig=pagination):
        yield from page.get(items_key) or []
