"""winsock_ov.aio: asyncio's Windows proactor loop on winsock_ov, plus socket readiness.

``new_event_loop()`` (or ``EventLoop()``) is an asyncio event loop that does
what ``asyncio.ProactorEventLoop`` does (TCP and UDP transports, servers,
``sock_*`` methods, sendfile, pipes, subprocesses, signal wake-up, Ctrl-C,
``call_soon_threadsafe``) and also ``add_reader``, ``add_writer``,
``remove_reader`` and ``remove_writer`` for sockets, with no extra thread::

    asyncio.run(main(), loop_factory=winsock_ov.aio.new_event_loop)   # 3.12+
    with asyncio.Runner(loop_factory=winsock_ov.aio.new_event_loop) as runner: ...  # 3.11+
    asyncio.set_event_loop_policy(winsock_ov.aio.EventLoopPolicy())    # 3.9+

How: CPython's own proactor (``asyncio.windows_events``) is loaded a second
time, privately, bound to ``winsock_ov.compat.overlapped`` instead of the C
``_overlapped``: its I/O runs on winsock_ov's core, which holds every buffer
and OVERLAPPED until Windows is done with it, and its completion port is one
winsock_ov polls sockets on (``winsock_ov.poll``).  A reader or writer is a
poll of its socket; when the poll ends, the callback is scheduled and, once
it ran, the socket is polled again while the reader is registered (readiness
is level-triggered, as with ``select``).  ``asyncio`` itself is not changed:
its default loop keeps the C module.

winsock_ov's own operations can be awaited in the loop (``data = await
sock.recv(100)``): those of a socket tied to the loop's port
(``loop.associate(sock)``) end when the loop dequeues their packet, event
operations when the loop's wait on their event fires.  See ``EventLoop.outcome``
for what cancelling the awaiting task does.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import importlib.util
import sys
import threading
import warnings
from types import ModuleType
from typing import Any, Callable, TypeVar

from ._checks import check_ulong_ptr
from .compat import overlapped as _compat
from .core import OWN_KEY, OverlappedIO
from .notify import Notify
from .operations import Operation
from .poll import Poller, PollEvents, PollOperation, socket_handle
from .sockets import Socket, tie_to_port

__all__ = ["EventLoop", "EventLoopPolicy", "new_event_loop"]

_DRAIN_SECONDS = 2.0  # at close, for the cancelled polls' packets
_T = TypeVar("_T")  # an operation's result

# select() semantics on Windows (selectors.SelectSelector passes writers as the
# exceptional set too): readable is data, end of stream, a connection to
# accept, a reset; writable is room to send, or a connect that failed.
READ_EVENTS = (PollEvents.RECEIVE | PollEvents.ACCEPT | PollEvents.DISCONNECT
               | PollEvents.ABORT | PollEvents.CONNECT_FAIL)
WRITE_EVENTS = PollEvents.SEND | PollEvents.ABORT | PollEvents.CONNECT_FAIL


# What the loop's proactor imports as _overlapped: the drop-in, with a
# GetQueuedCompletionStatus that takes each loop's packets from Windows in
# batches (its port is dequeued by the loop's thread alone), and a
# CreateIoCompletionPort that ties sockets with skip-on-success, the skipped
# packets made in the batch (the proactor still gets one per I/O).
_dequeue = _compat.BatchedGetQueuedCompletionStatus()
_loop_overlapped = ModuleType(f"{__name__}._overlapped")
_loop_overlapped.__dict__.update(vars(_compat))
_loop_overlapped.GetQueuedCompletionStatus = _dequeue  # type: ignore[attr-defined]
_loop_overlapped.CreateIoCompletionPort = (  # type: ignore[attr-defined]
    _dequeue.CreateIoCompletionPort)


def _load_windows_events() -> ModuleType:
    """asyncio.windows_events, executed again with ``import _overlapped`` giving
    the drop-in (``_loop_overlapped``; nothing global is swapped)."""
    if sys.platform != "win32":
        raise ImportError("winsock_ov.aio runs on Windows only")
    import asyncio.windows_events
    spec = importlib.util.find_spec("asyncio.windows_events")
    if spec is None or spec.loader is None:
        raise ImportError("asyncio.windows_events is missing")
    code = spec.loader.get_code(spec.name)  # type: ignore[attr-defined]
    real_import = builtins.__import__

    def import_(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "_overlapped":
            return _loop_overlapped
        return real_import(name, *args, **kwargs)

    module = ModuleType(f"{__name__}._windows_events")
    module.__dict__.update({
        "__package__": "asyncio", "__file__": spec.origin,
        "__builtins__": {**vars(builtins), "__import__": import_},
    })
    exec(code, module.__dict__)
    # PipeServer makes no I/O of its own and is handed to callers, who may check
    # its class: asyncio's own one, not a twin.
    module.PipeServer = asyncio.windows_events.PipeServer  # type: ignore[attr-defined]
    return module


_windows_events = _load_windows_events()


class _ProactorPort:
    """The proactor's completion port as winsock_ov's sockets and polls need it
    (``notify.Port``, ``poll.ReadinessPort``).

    Its packets are dequeued by the proactor (through the drop-in module's
    GetQueuedCompletionStatus, which ends winsock_ov's own I/O itself: it
    carries ``core.OWN_KEY``); the ended operations and polls act through their
    done callbacks, so ``report`` and ``hand_out`` keep nothing.
    """

    def __init__(self, proactor: Any) -> None:
        self._proactor: Any = proactor
        self.closing = False

    @property
    def handle(self) -> int:
        if self._proactor is None:
            raise ValueError("I/O operation on a closed event loop's port")
        return int(self._proactor._iocp)

    @property
    def closed(self) -> bool:
        """True once the loop closes: no operation may start on a socket tied here."""
        return self.closing or self._proactor is None or self._proactor._iocp is None

    def detach(self) -> None:
        """The loop closed: let go of its proactor (the loop refers to this port)."""
        self._proactor = None

    def report(self, completion: PollOperation) -> None:
        """Nothing to keep: the loop learns of an ended wait from its callback."""

    def hand_out(self, io: OverlappedIO, owner: object, key: int) -> None:
        """Nothing to keep: the loop learns of an ended operation from its callback."""


class _Watch:
    """A reader or writer: its handle, the object it was given, and the poll that
    watches for it."""

    __slots__ = ("events", "handle", "source", "wait")

    def __init__(self, handle: asyncio.Handle, events: PollEvents, source: Any) -> None:
        self.handle, self.events, self.source = handle, events, source
        self.wait: PollOperation | None = None


class EventLoop(_windows_events.ProactorEventLoop):  # type: ignore[misc,name-defined]
    """ProactorEventLoop on winsock_ov, with add_reader / add_writer for sockets."""

    def __init__(self) -> None:
        super().__init__(_windows_events.IocpProactor())
        self._port = _ProactorPort(self._proactor)
        self._poller = Poller(self._port)
        self._readers: dict[int, _Watch] = {}
        self._writers: dict[int, _Watch] = {}

    # --- winsock_ov's operations -----------------------------------------------------------

    def associate(self, sock: Socket, key: int = 0) -> None:
        """Tie a winsock_ov Socket to the loop's completion port: its operations then
        end when the loop dequeues their packet (awaiting them costs no wait of its
        own).  As ``CompletionPort.associate``, but with skip-on-success off: each
        operation ends through the loop's dequeue, never within its call.

        ``key`` is deprecated and ignored: the loop's dequeue tells winsock_ov's
        operations from the proactor's by a key of winsock_ov's own
        (``core.OWN_KEY``), which their packets carry.
        """
        if self.is_closed():
            raise RuntimeError("Event loop is closed")
        if check_ulong_ptr("key", key):
            warnings.warn("EventLoop.associate(key=...) is deprecated and ignored: the loop's "
                          "packets carry a key of winsock_ov's own", DeprecationWarning,
                          stacklevel=2)
        tie_to_port(sock, self._port, self._port.handle, OWN_KEY, None)

    async def outcome(self, operation: Operation[_T]) -> _T:
        """The operation's value (or its exception raised) once Windows ended it;
        ``await operation`` is this.

        Cancelling the awaiting task asks Windows to cancel the I/O, waits until
        Windows ended it (its buffers are Windows' until then), and raises
        CancelledError; the operation then reports what happened: the data (or
        count) if the I/O won the race, OperationAbortedError if the cancel did.
        """
        if not isinstance(operation, Operation):
            raise TypeError(f"expected a winsock_ov operation, not {type(operation).__name__}")
        if not operation.observe():
            self._arrange_end(operation)
        cancelled: asyncio.CancelledError | None = None
        while not operation.observe():
            waiter = self.create_future()
            operation.add_done_callback(
                functools.partial(self._wake, waiter, threading.get_ident()))
            try:
                await waiter
            except asyncio.CancelledError as exc:
                cancelled = cancelled or exc
                operation.cancel()
        if cancelled is not None:
            raise cancelled
        return operation.result()

    def _arrange_end(self, operation: Operation[Any]) -> None:
        """Make sure the loop will end ``operation`` (or refuse it, if it cannot)."""
        kind = operation.notify
        if kind is Notify.PORT:
            binding = operation.socket.port_binding
            if binding is None or not binding.ends_through(self._port):
                raise RuntimeError(
                    "this operation completes through another completion port, which this "
                    "loop does not dequeue: tie its socket with loop.associate(sock) instead")
        elif kind is Notify.EVENT:
            event = operation.event
            assert event is not None
            # Its event fires a wait of the proactor's; observing the operation then
            # ends it, running its callbacks (one of which wakes the awaiting task).
            # The wait holds the event until it fires: a socket's pool never lends
            # an event someone waits on to another operation (event.EventPool).
            handle = event.acquire_handle()
            if operation.observe():  # ended meanwhile: no wait (its event may be lent)
                event.release_handle()
                return

            def fired(_: object) -> None:
                event.release_handle()
                operation.observe()

            self._proactor.wait_for_handle(handle).add_done_callback(fired)
        else:
            raise RuntimeError("a completion routine runs only during an alertable wait of "
                               "the issuing thread, which this loop never makes: use an "
                               "event (the default) or loop.associate(sock)")

    def _wake(self, waiter: asyncio.Future[None], loop_thread: int,
              operation: Operation[Any]) -> None:
        """An awaited operation ended (in whichever thread ended it)."""
        if threading.get_ident() == loop_thread:
            if not waiter.done():
                waiter.set_result(None)
        else:
            self.call_soon_threadsafe(self._wake, waiter, loop_thread, operation)

    # --- readiness -----------------------------------------------------------------------

    def add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:
        """Call ``callback(*args)`` whenever the socket ``fd`` is readable."""
        self._add_watch(self._readers, fd, READ_EVENTS, callback, args)

    def add_writer(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:
        """Call ``callback(*args)`` whenever the socket ``fd`` is writable."""
        self._add_watch(self._writers, fd, WRITE_EVENTS, callback, args)

    def remove_reader(self, fd: Any) -> bool:
        """Stop watching ``fd`` for reading; False if it was not watched."""
        return self._remove_watch(self._readers, fd)

    def remove_writer(self, fd: Any) -> bool:
        """Stop watching ``fd`` for writing; False if it was not watched."""
        return self._remove_watch(self._writers, fd)

    def _add_watch(self, watches: dict[int, _Watch], fd: Any, events: PollEvents,
                   callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if self.is_closed():
            raise RuntimeError("Event loop is closed")
        handle_value = socket_handle(fd)
        handle = asyncio.Handle(callback, args, self, None)
        watch = watches.get(handle_value)
        if watch is not None:  # a new callback for the same socket: the poll stays
            watch.handle.cancel()
            watch.handle, watch.source = handle, fd
            return
        watch = _Watch(handle, events, fd)
        self._arm(watches, handle_value, watch)  # raises (nothing kept) for a non-socket
        watches[handle_value] = watch

    def _remove_watch(self, watches: dict[int, _Watch], fd: Any) -> bool:
        if self.is_closed():
            return False
        try:
            key: int | None = socket_handle(fd)
        except ValueError:  # a socket object closed already: found by identity, as selectors do
            key = next((key for key, watch in watches.items() if watch.source is fd), None)
        watch = watches.pop(key, None) if key is not None else None
        if watch is None:
            return False
        watch.handle.cancel()
        if watch.wait is not None:
            watch.wait.cancel()
        return True

    def _arm(self, watches: dict[int, _Watch], fd: int, watch: _Watch) -> None:
        wait = self._poller.poll(fd, watch.events)
        watch.wait = wait
        wait.add_done_callback(lambda ended: self._watch_ended(watches, fd, watch, ended))

    def _watch_ended(self, watches: dict[int, _Watch], fd: int, watch: _Watch,
                     wait: PollOperation) -> None:
        """A poll ended (in the loop's thread, while it dequeues): run the callback soon."""
        if watches.get(fd) is not watch or watch.wait is not wait:
            return  # removed meanwhile (its poll was cancelled)
        watch.wait = None
        if self.is_closed():
            return
        self.call_soon(self._run_watch, watches, fd, watch, wait)

    def _run_watch(self, watches: dict[int, _Watch], fd: int, watch: _Watch,
                   wait: PollOperation) -> None:
        """Run the reader's (writer's) callback, then watch again while it is registered."""
        if watches.get(fd) is not watch:
            return
        error = wait.exception()
        closed = error is None and wait.result() & PollEvents.LOCAL_CLOSE
        if error is not None or closed:
            del watches[fd]  # the socket is gone, or cannot be polled: a last call
        watch.handle._run()
        if watches.get(fd) is watch and watch.wait is None and not self.is_closed():
            try:
                self._arm(watches, fd, watch)
            except OSError as exc:  # closed by the callback: nothing to watch
                del watches[fd]
                self.call_exception_handler({
                    "message": f"socket {fd} can no longer be watched", "exception": exc})

    # --- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop watching every socket, collect those polls, then close as asyncio does."""
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        for watches in (self._readers, self._writers):
            for fd in list(watches):
                self._remove_watch(watches, fd)
        deadline = self.time() + _DRAIN_SECONDS
        while self._poller.requests_in_flight() and self.time() < deadline:
            self._proactor._poll(0.05)  # their packets: the proactor's dequeue ends them
        self._port.closing = True
        port = self._port.handle
        batch = _dequeue.batch(port)
        super().close()
        _dequeue.forget(port, batch)
        self._poller.close()  # a request still in flight stays owned for good
        self._port.detach()


def new_event_loop() -> EventLoop:
    """A new winsock_ov event loop (``loop_factory`` for ``asyncio.run`` / ``Runner``)."""
    return EventLoop()


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """The default policy, making winsock_ov event loops (for 3.9 to 3.11)."""

    _loop_factory = EventLoop
