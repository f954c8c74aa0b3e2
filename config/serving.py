"""The web processes' event loop: uvloop, accepting connections so that sibling processes hold equal
shares of them.

`uvicorn --workers N` shares one listening socket between N processes, and whichever process wakes
first accepts every connection waiting: eight keep-alive clients arriving together mostly land 8/0
or 7/1, and then one process is saturated while the other idles (measured: 223 req/s at 8/0 against
313-346 at 6/2). Keep-alive connections stay where they land, so this lasts as long as they do.

Run uvicorn with `--loop config.serving:balanced_loop` (uvicorn's custom loop setup). Each process
publishes how many connections it holds on a small shared board (a file of pid/count slots, mapped
into memory by the processes of one parent and one address); a process that holds more than the
least-loaded live sibling leaves a waiting connection to it for up to DEFER_SECONDS, then takes it
anyway (a sibling can be busy or hung). Alone, a process accepts at once, as uvicorn would.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import mmap
import os
import socket
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

log = logging.getLogger(__name__)

DEFER_SECONDS = 0.002
RETRY_ACCEPT_SECONDS = 0.5
SLOTS = 64
SLOT = struct.Struct("qq")  # pid, connections


class Board:
    """Connection counts of sibling web processes, one slot each, in a shared file mapped into
    memory: reading it costs no system call, so every accept can look."""

    def __init__(self, path: Path, pid: int | None = None) -> None:
        self.path = path
        self.pid = pid or os.getpid()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_uid != os.getuid():
                raise PermissionError(f"{path} belongs to another user")
            with _locked(fd):
                if os.fstat(fd).st_size < SLOTS * SLOT.size:
                    os.ftruncate(fd, SLOTS * SLOT.size)
                self.map = mmap.mmap(fd, SLOTS * SLOT.size)
                self.slot = self._claim()
        finally:
            os.close(fd)

    def _claim(self) -> int:
        free = None
        for n, (pid, _) in enumerate(SLOT.iter_unpack(self.map)):
            if pid == self.pid:
                return n
            if free is None and (pid == 0 or not _alive(pid)):
                free = n
        if free is None:
            raise RuntimeError(f"{self.path}: more than {SLOTS} web processes")
        SLOT.pack_into(self.map, free * SLOT.size, self.pid, 0)
        return free

    def publish(self, connections: int) -> None:
        SLOT.pack_into(self.map, self.slot * SLOT.size, self.pid, connections)

    def my_turn(self, connections: int) -> bool:
        """Whether this process, holding `connections`, should take the next one: none of its live
        siblings holds fewer. A sibling found dead loses its slot."""
        for n, (pid, theirs) in enumerate(SLOT.iter_unpack(self.map)):
            if pid in (0, self.pid) or theirs >= connections:
                continue
            if _alive(pid):
                return False
            SLOT.pack_into(self.map, n * SLOT.size, 0, 0)
        return True

    def leave(self) -> None:
        """Give up the slot; the last process to leave removes the file."""
        SLOT.pack_into(self.map, self.slot * SLOT.size, 0, 0)
        fd = os.open(self.path, os.O_RDWR)
        try:
            with _locked(fd):
                if all(pid == 0 or not _alive(pid) for pid, _ in SLOT.iter_unpack(self.map)):
                    self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)
            self.map.close()


@contextlib.contextmanager
def _locked(fd: int) -> Any:
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def board_path(sock: socket.socket) -> Path:
    """The board of the processes that share `sock`: the children of one parent on one address."""
    key = f"{os.getppid()} {sock.getsockname()!r}".encode()
    return Path(tempfile.gettempdir()) / f"scenery-web-{os.getuid()}-{hashlib.sha256(key).hexdigest()[:16]}"


class Listener:
    """One listening socket served by this loop: what `loop.create_server` returns to uvicorn."""

    def __init__(
        self,
        loop: BalancedLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], Any],
        ssl: Any,
        backlog: int,
    ) -> None:
        self.loop = loop
        self.sockets = [sock]
        self.factory = protocol_factory
        self.ssl = ssl
        self.connections = 0
        self.deferred_at: float | None = None
        self.closed = asyncio.Event()
        try:
            self.board: Board | None = Board(board_path(sock))
        except (OSError, RuntimeError) as exc:  # balancing is an optimisation: serve without it
            log.warning("connections are not balanced between web processes: %s", exc)
            self.board = None
        sock.setblocking(False)
        sock.listen(backlog)
        loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        sock = self.sockets[0]
        while True:
            if self.board is not None and not self.board.my_turn(self.connections):
                now = self.loop.time()
                if self.deferred_at is None:
                    self.deferred_at = now
                if now - self.deferred_at < DEFER_SECONDS:
                    # Let a sibling with fewer connections take it; look again shortly.
                    self.loop.remove_reader(sock.fileno())
                    self.loop.call_at(self.deferred_at + DEFER_SECONDS, self._rearm)
                    return
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # Out of file descriptors, say: serve the connections we have, and try again soon
                # rather than at once (the socket stays readable, so that would spin).
                log.warning("accept failed, trying again in %gs: %s", RETRY_ACCEPT_SECONDS, exc)
                self.loop.remove_reader(sock.fileno())
                self.loop.call_later(RETRY_ACCEPT_SECONDS, self._rearm)
                return
            self.deferred_at = None
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvloop's own accept
            self.loop.create_task(self._serve(conn, self._count()))

    def _rearm(self) -> None:
        if not self.closed.is_set():
            self.loop.add_reader(self.sockets[0].fileno(), self._readable)

    async def _serve(self, conn: socket.socket, release: Callable[[], None]) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: self._protocol(release), conn, ssl=self.ssl)
        except Exception as exc:  # a TLS handshake that failed, a client gone already
            log.debug("connection not served: %s", exc)
            conn.close()
            release()

    def _protocol(self, release: Callable[[], None]) -> Any:
        protocol = self.factory()
        lost = protocol.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            release()
            lost(exc)

        # On the instance, not a wrapper class: the transport calls the protocol for every read,
        # and only this one call needs counting.
        protocol.connection_lost = connection_lost
        return protocol

    def _count(self) -> Callable[[], None]:
        """Count a new connection; returns what uncounts it (once, however often it is called)."""
        self.connections += 1
        self._publish()
        counted = True

        def release() -> None:
            nonlocal counted
            if counted:
                counted = False
                self.connections -= 1
                self._publish()

        return release

    def _publish(self) -> None:
        if self.board is not None:
            self.board.publish(self.connections)

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self.loop.remove_reader(self.sockets[0].fileno())
        if self.board is not None:
            self.board.leave()
            self.board = None

    async def wait_closed(self) -> None:
        await self.closed.wait()


class BalancedLoop(uvloop.Loop):
    async def create_server(self, protocol_factory: Any, *args: Any, **kwargs: Any) -> Any:
        sock = kwargs.get("sock")
        if args or sock is None or sock.type != socket.SOCK_STREAM:
            return await super().create_server(protocol_factory, *args, **kwargs)
        return Listener(self, sock, protocol_factory, kwargs.get("ssl"), kwargs.get("backlog") or 100)


def balanced_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's loop setup (`--loop config.serving:balanced_loop`)."""
    return BalancedLoop()
