"""Web processes that share a listening socket hold equal shares of its connections
(config.serving): the shared board of connection counts, the accepting loop, and real uvicorn
processes with keep-alive clients arriving all at once."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from config import serving
from config.serving import Board, Listener

ROOT = Path(__file__).resolve().parents[2]


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# -- the board ---------------------------------------------------------------------------------------
def test_a_process_alone_always_takes_the_next_connection(tmp_path: Path) -> None:
    board = Board(tmp_path / "board")
    board.publish(50)
    assert board.my_turn(50)


def test_a_live_sibling_with_fewer_connections_takes_the_next_one(tmp_path: Path) -> None:
    mine = Board(tmp_path / "board")
    sibling = Board(tmp_path / "board", pid=os.getppid())
    assert mine.slot != sibling.slot
    sibling.publish(2)
    mine.publish(3)
    assert not mine.my_turn(3)
    assert sibling.my_turn(2)
    assert mine.my_turn(2), "with equal shares either may take it"


def test_a_dead_siblings_slot_is_freed_and_does_not_hold_the_turn(tmp_path: Path) -> None:
    mine = Board(tmp_path / "board")
    gone = Board(tmp_path / "board", pid=_dead_pid())
    gone.publish(0)
    assert mine.my_turn(7)
    newcomer = Board(tmp_path / "board", pid=os.getppid())
    assert newcomer.slot == gone.slot


def test_the_last_process_to_leave_removes_the_board(tmp_path: Path) -> None:
    path = tmp_path / "board"
    first, second = Board(path), Board(path, pid=os.getppid())
    first.leave()
    assert path.exists()
    second.leave()
    assert not path.exists()


def test_a_board_belonging_to_another_user_is_refused(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to give the file away")
    path = tmp_path / "board"
    path.write_bytes(b"")
    os.chown(path, 65534, 65534)
    with pytest.raises(PermissionError, match="another user"):
        Board(path)


def test_a_full_board_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "_alive", lambda pid: True)
    for pid in range(1, serving.SLOTS + 1):
        Board(tmp_path / "board", pid=pid)
    with pytest.raises(RuntimeError, match="more than 64 web processes"):
        Board(tmp_path / "board", pid=10_000_000)


# -- the accepting loop ------------------------------------------------------------------------------
class Echo(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        pass


def _serve(coro_fn: Any) -> Any:
    loop = serving.balanced_loop()
    try:
        return loop.run_until_complete(coro_fn(loop))
    finally:
        loop.close()


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def _settle(condition: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)


def test_the_loop_serves_connections_and_counts_them_until_they_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving, "board_path", lambda sock: tmp_path / "board")
    sock = _listening()

    async def scenario(loop: asyncio.AbstractEventLoop) -> None:
        listener = await loop.create_server(Echo, sock=sock, backlog=10)
        assert isinstance(listener, Listener)
        streams = [await asyncio.open_connection(*sock.getsockname()) for _ in range(3)]
        for n, (reader, writer) in enumerate(streams):
            writer.write(b"ping %d" % n)
            assert await reader.readexactly(6) == b"ping %d" % n
        assert listener.connections == 3
        assert serving.SLOT.unpack_from(listener.board.map, listener.board.slot * 16) == (os.getpid(), 3)
        for _, writer in streams:
            writer.close()
        await _settle(lambda: listener.connections == 0)
        listener.close()
        await listener.wait_closed()

    _serve(scenario)
    assert not (tmp_path / "board").exists()


def test_a_connection_waits_briefly_for_a_sibling_with_fewer_then_is_taken_anyway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sibling (the test's parent process, alive) says it holds none, but never accepts."""
    monkeypatch.setattr(serving, "board_path", lambda sock: tmp_path / "board")
    monkeypatch.setattr(serving, "DEFER_SECONDS", 0.2)
    sibling = Board(tmp_path / "board", pid=os.getppid())
    sock = _listening()

    async def scenario(loop: asyncio.AbstractEventLoop) -> float:
        listener = await loop.create_server(Echo, sock=sock, backlog=10)
        reader, writer = await asyncio.open_connection(*sock.getsockname())
        writer.write(b"hello")
        assert await reader.readexactly(5) == b"hello", "the first connection: its turn, as 0 = 0"
        began = time.monotonic()
        second_reader, second_writer = await asyncio.open_connection(*sock.getsockname())
        second_writer.write(b"again")
        assert await second_reader.readexactly(5) == b"again"
        waited = time.monotonic() - began
        for stream in (writer, second_writer):
            stream.close()
        listener.close()
        return waited

    waited = _serve(scenario)
    sibling.leave()
    assert 0.15 <= waited < 2


class FailingSocket(socket.socket):
    """A listening socket whose accept fails like a process out of file descriptors, `failures` times."""

    failures = 0

    def accept(self) -> tuple[socket.socket, Any]:
        if FailingSocket.failures:
            FailingSocket.failures -= 1
            raise OSError(24, "Too many open files")
        return super().accept()


def test_a_failing_accept_is_retried_later_not_in_a_busy_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(serving, "board_path", lambda sock: tmp_path / "board")
    monkeypatch.setattr(serving, "RETRY_ACCEPT_SECONDS", 0.1)
    sock = FailingSocket()
    sock.bind(("127.0.0.1", 0))
    FailingSocket.failures = 2

    async def scenario(loop: asyncio.AbstractEventLoop) -> None:
        listener = await loop.create_server(Echo, sock=sock, backlog=10)
        reader, writer = await asyncio.open_connection(*sock.getsockname())
        writer.write(b"late")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"late"
        writer.close()
        listener.close()

    _serve(scenario)
    failures = [r for r in caplog.records if "accept failed" in r.getMessage()]
    assert len(failures) == 2, "each failure is logged once, then waits"


# -- real web processes ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pids_of(connections: list[socket.socket]) -> Counter[int]:
    """Which process answered each keep-alive connection (one request each, all sent at once)."""
    for conn in connections:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    served: Counter[int] = Counter()
    for conn in connections:
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.split(b"\r\n\r\n", 1)[1]:
            chunk = conn.recv(4096)
            assert chunk, "the server closed the connection"
            reply += chunk
        served[int(reply.split(b"\r\n\r\n", 1)[1])] += 1
    return served


def test_clients_arriving_together_are_spread_evenly_over_two_web_processes(tmp_path: Path) -> None:
    port = _free_port()
    log = (tmp_path / "web.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.pid_app:app", "--port", str(port), "--workers", "2"]
        + ["--loop", "config.serving:balanced_loop", "--log-level", "warning"],
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        seen: set[int] = set()
        while len(seen) < 2:  # both processes up and serving
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
                    seen |= set(_pids_of([probe]))
            except OSError:
                time.sleep(0.1)
        for _ in range(2):  # a second round: closed connections were uncounted
            connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(16)]
            served = _pids_of(connections)
            for conn in connections:
                conn.close()
            assert len(served) == 2 and max(served.values()) <= 9, served
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(20)
