"""The Prefect task options shared by every task that reads or writes the SPeTS database."""

from functools import partial

from prefect import task
from prefect.cache_policies import NO_CACHE

from spets.workflows.runtime import (
    DATABASE_RETRIES,
    DATABASE_RETRY_DELAYS,
    is_database_conflict,
)

# Each task opens its own session and commits before it returns. NO_CACHE because a re-run
# must repeat the work: the database, not a cached result, records what is done.
database_task = partial(
    task,
    cache_policy=NO_CACHE,
    retries=DATABASE_RETRIES,
    retry_delay_seconds=DATABASE_RETRY_DELAYS,
    retry_condition_fn=is_database_conflict,
)
