"""What a worker and its isolated children say to each other over their pipes.

A frame is a 4-byte big-endian length, one byte naming its kind, and a body.
Calls, results and exceptions travel as the codec seals them (pickled; signed
with a key made for that one child when the docket signs its payloads), so a
child runs nothing a writer to its pipe could forge. Progress updates, log
records and the greeting are JSON.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

from ..._codec import PICKLE, Codec, Purpose, Sealed

# Parent to child.
HELLO = b"H"  # JSON: signing key (hex or null), docket name, sys.path, log level
RUN = b"R"  # sealed: function, args, kwargs, options
EXIT = b"X"  # finish and exit
# Child to parent.
READY = b"Y"  # JSON: pid
DONE = b"D"  # sealed: result
FAIL = b"F"  # sealed: exception, traceback text, whether it was the memory limit
PROGRESS = b"P"  # JSON: [method, value]
EXTEND = b"E"  # JSON: seconds a Timeout's deadline moves out by
LOG = b"L"  # JSON: a log record's fields

# What a signature over a frame between a worker and its child is for.
CALL = Purpose(b"docket.isolated.v1", b"docket.isolated.v1")

_LENGTH = struct.Struct(">I")


def frame(kind: bytes, body: bytes) -> bytes:
    return _LENGTH.pack(len(body) + 1) + kind + body


def pipe_codec(key: bytes | None, docket: str) -> Codec:
    """The codec of one child's pipe: pickle, signed with ``key`` when given."""
    return Codec(PICKLE, [key] if key else [], docket)


def seal(codec: Codec, kind: bytes, *values: Any) -> bytes:
    sealed = codec.dumps(CALL, [kind], values)  # one pickle of them all
    signature = sealed.signature or b""
    parts = [_LENGTH.pack(len(signature)), signature, _LENGTH.pack(len(sealed.blobs))]
    for blob in sealed.blobs:
        parts += [_LENGTH.pack(len(blob)), blob]
    return frame(kind, b"".join(parts))


def unseal(codec: Codec, kind: bytes, body: bytes) -> list[Any]:
    """The values of a sealed frame, verified first (``UnverifiedPayload``)."""
    view = memoryview(body)
    (length,) = _LENGTH.unpack_from(view, 0)
    at = 4 + length
    signature = bytes(view[4:at]) or None
    (count,) = _LENGTH.unpack_from(view, at)
    at += 4
    blobs: list[bytes] = []
    for _ in range(count):
        (length,) = _LENGTH.unpack_from(view, at)
        blobs.append(bytes(view[at + 4 : at + 4 + length]))
        at += 4 + length
    (values,) = codec.loads(CALL, [kind], Sealed(PICKLE, tuple(blobs), signature))
    return list(values)


def as_json(kind: bytes, value: Any) -> bytes:
    return frame(kind, json.dumps(value, default=str).encode())


def read_frame(fd: int) -> tuple[bytes, bytes] | None:
    """One frame from a blocking pipe (the child's side); None at its end."""
    head = _read_exactly(fd, 4)
    if head is None:
        return None
    (length,) = _LENGTH.unpack(head)
    body = _read_exactly(fd, length)
    if body is None:
        return None
    return body[:1], body[1:]


def _read_exactly(fd: int, count: int) -> bytes | None:
    chunks: list[bytes] = []
    while count:
        chunk = os.read(fd, min(count, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
