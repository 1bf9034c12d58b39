"""uvicorn's server, made to stop at once when the sandbox's ``with`` block ends.

uvicorn checks ``should_exit`` on a 0.1 s tick and, on shutdown, sleeps another 0.1 s for
open connections to finish even when there are none: 0.15-0.25 s of wall time each time a
sandbox stops, and the tests start and stop one for most of their hundreds of sandbox tests
(the demo and ``sandbox serve`` stop one too). Here the loop waits on an event the
stopping thread sets, and a shutdown with no connection left skips the grace sleep; with
connections still open, uvicorn's own graceful shutdown runs unchanged. Imported only
where a sandbox is served (uvicorn is the [sandbox] extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import uvicorn


class QuickServer(uvicorn.Server):
    """A uvicorn server whose :meth:`stop` ends :meth:`serve` without waiting for a tick."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopped = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        # uvicorn's tick 0 sets the default headers; the later ticks only refresh a Date
        # header (off: the sandbox sends its own clock's) or exit on should_exit.
        if await self.on_tick(0):
            return
        await self._stopped.wait()

    def stop(self) -> None:
        """Ask the server to exit, from any thread (the sandbox serves in its own)."""
        self.should_exit = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # RuntimeError: the loop closed meanwhile, so the server has already ended
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stopped.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.server_state.connections:
            await super().shutdown(sockets)  # uvicorn's graceful close of live connections
            return
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()
