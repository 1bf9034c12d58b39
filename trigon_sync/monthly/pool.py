"""The bounded thread pool a monthly run counts its clients on.

Counting is I/O-bound (one Trigon request per mapped field per client), so a few threads
keep both services busy while the HTTP layer paces them. A systemic failure in one job
cancels the jobs not yet started; jobs already running finish, and their outcomes are
kept so the journal and the report say exactly what was done.

Jobs are handed to the threads a few at a time (:data:`QUEUED_PER_WORKER` per thread
waiting), not all at once: each queued job is a ``Future`` with its own lock and
condition, about 1 KB, and a run of 5,000 clients queued them all for its whole length.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from typing import TypeVar

QUEUED_PER_WORKER = 2
"""Jobs waiting per thread: enough that no thread waits while results are handed back."""

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
    threads = min(workers, len(items))
    waiting = iter(enumerate(items))
    running: dict[concurrent.futures.Future[Result], int] = {}
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=threads, thread_name_prefix="monthly"
    ) as pool:
        while True:
            while first_error is None and len(running) < threads * (1 + QUEUED_PER_WORKER):
                nxt = next(waiting, None)
                if nxt is None:
                    break
                running[pool.submit(job, nxt[1])] = nxt[0]
            if not running:
                break
            done, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                at = running.pop(future)
                try:
                    result = future.result()
                except concurrent.futures.CancelledError:
                    continue
                except BaseException as exc:
                    if skip is not None and isinstance(exc, skip):
                        continue
                    if first_error is None:
                        first_error = exc  # nothing more is handed out; the queued go
                        for other in running:
                            other.cancel()
                    continue
                results[at] = result
                if on_done is not None:
                    on_done(result)
    if first_error is not None and not stopped():
        raise first_error
    return [results[i] for i in sorted(results)]
