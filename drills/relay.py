"""``python -m drills.relay TARGET PORT [PORT ...]``: listen on ``127.0.0.1:PORT`` and carry each
connection to ``TARGET:PORT``, both ways, until killed. Prints ``ready`` once listening.

Run inside a network namespace (``drills.netns``): the namespace's loopback ports lead over
its link to the platforms on the host's service address.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable

CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _handler(target: str, port: int) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            far_reader, far_writer = await asyncio.open_connection(target, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, far_writer), _pipe(far_reader, writer))

    return handle


async def _main(target: str, ports: list[int]) -> None:
    servers = [await asyncio.start_server(_handler(target, p), "127.0.0.1", p) for p in ports]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], [int(p) for p in sys.argv[2:]]))
