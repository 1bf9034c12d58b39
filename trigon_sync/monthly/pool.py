"""The bounded thread pool a monthly run counts its clients on.

Counting is I/O-bound (one Trigon request per mapped field per client), so a few threads
keep both services busy while the HTTP layer paces them. A systemic failure in one job
cancels the jobs not yet started; jobs already running finish, and their outcomes are
kept so the journal and the report say exactly what was done.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_pool(
    items: Sequence[Item],
    job: Callable[[Item], Result],
    *,
    workers: int,
    on_done: Callable[[Result], None] | None = None,
    stopped: Callable[[], bool] = lambda: False,
    skip: type[BaseException] | None = None,
) -> list[Result]:
    """``job`` per item on at most ``workers`` threads; results in item order.

    A job raising ``skip`` left its item alone on purpose (a stop was asked for). The
    first other exception cancels what has not started and is re-raised at the end,
    unless ``stopped()`` says the run was stopped on purpose.
    """
    if not items:
        return []
    results: dict[int, Result] = {}
    first_error: BaseException | None = None
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=min(workers, len(items)), thread_name_prefix="monthly"
    ) as pool:
        futures = {pool.submit(job, item): i for i, item in enumerate(items)}
        for future in concurrent.futures.as_completed(futures):
            try:
                result = future.result()
            except BaseException as exc:
                if skip is not None and isinstance(exc, skip):
                    continue
                if first_error is None:
                    first_error = exc
                    for other in futures:
                        other.cancel()
                continue
            results[futures[future]] = result
            if on_done is not None:
                on_done(result)
    if first_error is not None and not stopped():
        raise first_error
    return [results[i] for i in sorted(results)]
