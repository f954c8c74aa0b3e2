"""The in-memory channel layer, shared by the processes of one machine that use one SQLite file.

The embedded default runs a web process per core (`make run`), each with its own in-memory layer.
A page's WebSocket lives in one of them while the execution it watches may run in another, so group
messages must cross: each process listens on a Unix socket in a private directory named after the
database file, finds its siblings there, and forwards a group message to a sibling only when one of
its pages is in that group (each process tells the others which groups it has members in, so
`heard` stays true only while someone listens and unheard events are never built). A message to a
specific channel (`new_channel`) goes to the process that made it. Plain channels stay local.

Like every channel layer it is lossy by contract: a sibling that is gone, slow (its buffer over
MAX_BUFFERED bytes) or not found yet loses the message. Nothing durable travels here (the database
is the truth); a process that does not `serve()` (a management command, a test) is the plain
in-memory layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

import msgpack
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

log = logging.getLogger(__name__)

# How often a process looks for new siblings (and re-announces its groups, which expiry can change).
DISCOVER_SECONDS = 1.0
MAX_BUFFERED = 8 * 1024 * 1024
MAX_FRAME = 64 * 1024 * 1024
HEADER = 4
# Frame kinds: hello (sender's groups), interest (its groups now), group message, channel message.
HELLO, INTEREST, GROUP, CHANNEL = "h", "i", "g", "s"


def _encode(kind: str, name: str, payload: Any) -> bytes:
    data = msgpack.packb([kind, name, payload], use_bin_type=True)
    return len(data).to_bytes(HEADER, "big") + data


class SiblingChannelLayer(InMemoryChannelLayer):
    def __init__(self, directory: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._directory = directory
        self.node = f"p{os.getpid()}x{secrets.token_hex(4)}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._path: Path | None = None
        self._peers: dict[str, asyncio.StreamWriter] = {}
        self._interest: dict[str, set[str]] = {}
        self._announced: frozenset[str] = frozenset()
        self._tasks: set[asyncio.Task[None]] = set()
        self._incoming: set[asyncio.StreamWriter] = set()

    # -- where the siblings meet -------------------------------------------------------------------
    def directory(self) -> Path | None:
        """The siblings' directory: given, or one per SQLite database file (None for an in-memory
        or non-SQLite database: then there are no siblings). Under the temporary directory, since a
        Unix socket's path must stay short."""
        if self._directory:
            return Path(self._directory)
        from django.db import connections

        connection = connections["default"]
        if connection.vendor != "sqlite" or connection.is_in_memory_db():  # type: ignore[attr-defined]
            return None
        name = os.path.realpath(str(connection.settings_dict["NAME"]))
        return Path(tempfile.gettempdir()) / f"scenery-{hashlib.sha256(name.encode()).hexdigest()[:16]}"

    async def serve(self) -> None:
        """Join the siblings from the running loop (an ASGI server's lifespan) until `stop()`."""
        directory = self.directory()
        if directory is None or self._server is not None:
            return
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if directory.stat().st_uid != os.getuid():
            raise RuntimeError(f"{directory} belongs to another user; siblings cannot meet there")
        self._loop = asyncio.get_running_loop()
        self._path = directory / f"{self.node}.sock"
        self._server = await asyncio.start_unix_server(self._serve_sibling, path=str(self._path))
        self._path.chmod(0o600)
        self._spawn(self._discover_forever(directory))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            with contextlib.suppress(OSError):  # the last sibling out removes the directory
                self._path.parent.rmdir()
            self._path = None
        for writer in [*self._peers.values(), *self._incoming]:
            writer.close()
        self._peers.clear()
        self._incoming.clear()
        self._interest.clear()
        self._loop = None

    # -- the layer's API, across siblings ----------------------------------------------------------
    async def new_channel(self, prefix: str = "specific.") -> str:
        return f"{prefix}.{self.node}!{secrets.token_hex(6)}"

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        owner = self._owner(channel)
        if owner is None or owner == self.node:
            await super().send(channel, message)
            return
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        self._forward(owner, _encode(CHANNEL, channel, message))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await super().group_send(group, message)
        frame = b""
        for node, groups in list(self._interest.items()):
            if group in groups:
                frame = frame or _encode(GROUP, group, message)
                self._forward(node, frame)

    async def group_add(self, group: str, channel: str) -> None:
        await super().group_add(group, channel)
        self._announce()

    async def group_discard(self, group: str, channel: str) -> None:
        await super().group_discard(group, channel)
        self._announce()

    def heard(self, group: str) -> bool:
        """Whether a message to `group` reaches anyone: a member here or in a sibling."""
        return bool(self.groups.get(group)) or any(group in groups for groups in self._interest.values())

    async def flush(self) -> None:
        await super().flush()
        self._announce()

    # -- internals ---------------------------------------------------------------------------------
    def _owner(self, channel: str) -> str | None:
        if "!" not in channel:
            return None
        owner = channel.partition("!")[0].rpartition(".")[2]
        return owner if owner.startswith("p") else None

    def _groups(self) -> frozenset[str]:
        return frozenset(group for group, members in self.groups.items() if members)

    def _announce(self) -> None:
        groups = self._groups()
        if groups == self._announced or self._loop is None:
            return
        self._announced = groups
        frame = _encode(INTEREST, self.node, sorted(groups))
        for node in list(self._peers):
            self._forward(node, frame)

    def _forward(self, node: str, frame: bytes) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            here = asyncio.get_running_loop() is loop
        except RuntimeError:
            here = False
        if here:
            self._write(node, frame)
        else:  # a thread with a loop of its own (async_to_sync): the sockets belong to the server's
            with contextlib.suppress(RuntimeError):  # that loop closed meanwhile
                loop.call_soon_threadsafe(self._write, node, frame)

    def _write(self, node: str, frame: bytes) -> None:
        writer = self._peers.get(node)
        if writer is None:
            return
        if writer.transport.is_closing():
            self._peers.pop(node, None)
            return
        if writer.transport.get_write_buffer_size() > MAX_BUFFERED:
            log.warning("sibling %s is not reading; a message to it was dropped", node)
            return
        writer.write(frame)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _discover_forever(self, directory: Path) -> None:
        while True:
            try:
                await self._discover(directory)
                self._announce()
            except Exception:
                log.warning("looking for sibling processes in %s failed", directory, exc_info=True)
            await asyncio.sleep(DISCOVER_SECONDS)

    async def _discover(self, directory: Path) -> None:
        for entry in os.listdir(directory):
            node, _, extension = entry.partition(".")
            if extension != "sock" or node == self.node or node in self._peers:
                continue
            path = directory / entry
            try:
                reader, writer = await asyncio.open_unix_connection(str(path))
            except ConnectionRefusedError:  # its process died without cleaning up
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            except OSError:
                continue
            self._peers[node] = writer
            writer.write(_encode(HELLO, self.node, sorted(self._groups())))
            self._spawn(self._watch(node, reader, writer))

    async def _watch(self, node: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Notice an outgoing connection closing (the sibling stopped): forget it."""
        try:
            await reader.read()
        finally:
            if self._peers.get(node) is writer:
                del self._peers[node]
            writer.close()

    async def _serve_sibling(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        node = ""
        self._incoming.add(writer)
        try:
            while True:
                header = await reader.readexactly(HEADER)
                size = int.from_bytes(header, "big")
                if size > MAX_FRAME:
                    raise ValueError(f"a frame of {size} bytes")
                kind, name, payload = msgpack.unpackb(await reader.readexactly(size), raw=False)
                if kind in (HELLO, INTEREST):
                    node = name
                    self._interest[node] = set(payload)
                elif kind == GROUP:
                    await InMemoryChannelLayer.group_send(self, name, payload)
                elif kind == CHANNEL:
                    with contextlib.suppress(ChannelFull):
                        await InMemoryChannelLayer.send(self, name, payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the sibling stopped
        except Exception:
            log.warning("a sibling process sent what this one cannot read; disconnected", exc_info=True)
        finally:
            if node:
                self._interest.pop(node, None)
            self._incoming.discard(writer)
            writer.close()
