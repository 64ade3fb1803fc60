"""The Prefect task options shared by every task that reads or writes the SPeTS database."""

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from spets.workflows.runtime import (
    DATABASE_RETRIES,
    DATABASE_RETRY_DELAYS,
    is_database_conflict,
)


def database_task(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Make a synchronous function that uses the database into an async Prefect task.

    The function runs in a worker thread, so the flow's event loop stays free for Prefect's
    own calls. Measured: a synchronous task called from an async flow cost Prefect about
    50 ms a task run, an async one about 5 ms. `asyncio.to_thread` copies the run context,
    so `get_run_logger()` works inside the function.

    Each task opens its own session and commits before it returns. NO_CACHE because a re-run
    must repeat the work: the database, not a cached result, records what is done.
    """

    def decorate(function: Callable[..., Any]):
        @functools.wraps(function)
        async def in_worker_thread(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(function, *args, **kwargs)

        return task(
            in_worker_thread,
            cache_policy=NO_CACHE,
            retries=DATABASE_RETRIES,
            retry_delay_seconds=DATABASE_RETRY_DELAYS,
            retry_condition_fn=is_database_conflict,
            **options,
        )

    return decorate
