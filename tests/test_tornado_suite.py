"""tools/tornado_suite.py's count of Tornado's selector threads sees them.

A normal run of Tornado's suite takes the default loop's outcomes from their
record and runs only winsock_ov.aio, so the count of "Tornado selector"
threads it checks is zero whether the loop needs none or the count sees none.
Here the count meets a thread Tornado really starts: on asyncio's Proactor
loop, a handler added for readiness is served by one."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import pytest
from support import WAIT, load_tool

windows = pytest.mark.windows


@windows
def test_the_count_sees_the_selector_thread_tornado_starts_on_the_proactor(
        tmp_path: Path) -> None:
    import tornado.ioloop

    suite = load_tool("tornado_suite")
    threads = tmp_path / "default-m.threads"
    start = threading.Thread.start
    suite.record_selector_threads(threads)
    try:
        async def main() -> None:
            first, second = socket.socketpair()
            io_loop = tornado.ioloop.IOLoop.current()
            readable = asyncio.get_running_loop().create_future()
            with first, second:
                # The handler runs once Tornado's selector thread saw the data.
                io_loop.add_handler(first, lambda fd, events: readable.done()
                                    or readable.set_result(events), io_loop.READ)
                second.send(b"x")
                try:
                    await asyncio.wait_for(readable, WAIT)
                finally:
                    io_loop.remove_handler(first)

        loop = asyncio.ProactorEventLoop()
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
    finally:
        threading.Thread.start = start  # type: ignore[method-assign]
    assert suite.count_selector_threads(tmp_path, "default") == 1
