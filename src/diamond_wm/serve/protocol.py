"""The messages between the page and the server over one WebSocket.

Client -> server: JSON text messages of at most `MAX_MESSAGE_BYTES` bytes, each an object with a "type":

- `{"type": "hello", "version": PROTOCOL_VERSION, "resume": ID or null}`: first message, once. A page of another
  protocol version is told to reload; `resume` asks for the game of an earlier connection back.
- `{"type": "input", "input": {...}}`: one input, in the form `interactive.commands.parse_input` reads.
- `{"type": "release_all"}`: every held key and button released (the page lost focus).
- `{"type": "ping", "t": NUMBER}`: answered at once by `{"type": "pong", "t": NUMBER}` (round-trip time).

Server -> client: JSON text messages (`welcome`, `pong`, `notice`, `error`, `bye`, see the builders below), and
binary frame messages: a 4-byte big-endian length N, N bytes of UTF-8 JSON (`{"seq", "mime", "header", "t"}`:
"t" is the server's wall-clock time, in seconds, when the tick that made the frame began), then the encoded image. An `error` with `"fatal": true` and every `bye` is followed by the server closing the socket.
Nothing a client sends names a file or a path.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any, Optional, Union

from diamond_wm.interactive.commands import Input, InputError, parse_input

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 1024
MAX_RESUME_ID = 64  # characters

# error codes (the page words its message from them, the server's text is shown beside)
BAD_MESSAGE = "bad_message"
RATE_LIMITED = "rate_limited"
VERSION = "version"
FULL = "full"
MODEL_ERROR = "model_error"
IDLE_TIMEOUT = "idle_timeout"
SESSION_LIMIT = "session_limit"
SHUTDOWN = "shutdown"
REPLACED = "replaced"
JOIN_FAILED = "join_failed"


@dataclass(frozen=True)
class Hello:
    version: Any
    resume: Optional[str]


@dataclass(frozen=True)
class InputMessage:
    input: Input


@dataclass(frozen=True)
class ReleaseAll:
    pass


@dataclass(frozen=True)
class Ping:
    t: float


ClientMessage = Union[Hello, InputMessage, ReleaseAll, Ping]
TYPES = ("hello", "input", "release_all", "ping")


class ProtocolError(ValueError):
    """A client message that breaks the protocol; the text names the bad value and what is accepted."""


def _fields(message: dict, allowed: set[str]) -> None:
    extra = sorted(set(message) - allowed)
    if extra:
        raise ProtocolError(f"{message['type']} message with fields {extra}: expected only {sorted(allowed)}")


def parse_client_message(text: Any) -> ClientMessage:
    """One client message from the text of a WebSocket message (see the module docstring); ProtocolError for
    anything else: binary, too long, not JSON, not an object, unknown type, bad or extra fields."""
    if not isinstance(text, str):
        raise ProtocolError("binary message: expected JSON text")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {size} bytes: expected at most {MAX_MESSAGE_BYTES}")
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolError(f"message {text[:40]!r}: expected JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"message {type(message).__name__}: expected a JSON object")
    kind = message.get("type")
    if kind not in TYPES:
        raise ProtocolError(f"message type {kind!r}: expected one of {', '.join(TYPES)}")
    if kind == "hello":
        _fields(message, {"type", "version", "resume"})
        resume = message.get("resume")
        if resume is not None and (not isinstance(resume, str) or not 0 < len(resume) <= MAX_RESUME_ID):
            raise ProtocolError(
                f"resume {resume!r}: expected null or an id of 1 to {MAX_RESUME_ID} characters"
            )
        return Hello(message.get("version"), resume)
    if kind == "input":
        _fields(message, {"type", "input"})
        try:
            return InputMessage(parse_input(message.get("input")))
        except InputError as e:
            raise ProtocolError(str(e)) from None
    if kind == "release_all":
        _fields(message, {"type"})
        return ReleaseAll()
    _fields(message, {"type", "t"})
    t = message.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise ProtocolError(f"ping t {t!r}: expected a finite number")
    return Ping(float(t))


# ---------------------------------------------------------------------- server -> client


def dumps(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"))


def welcome(
    resume: str, resumed: bool, controls: list[str], bindings: dict[str, Any], uses_mouse: bool, fps: float
) -> str:
    """`bindings`: key name -> command (its wire name) the page sends for that key."""
    return dumps(
        {
            "type": "welcome",
            "bindings": {key: str(getattr(c, "value", c)) for key, c in bindings.items()},
            "version": PROTOCOL_VERSION,
            "resume": resume,
            "resumed": resumed,
            "controls": controls,
            "mouse": uses_mouse,
            "fps": fps,
        }
    )


def error(code: str, message: str, fatal: bool = False) -> str:
    return dumps({"type": "error", "code": code, "message": message, "fatal": fatal})


def notice(message: str) -> str:
    return dumps({"type": "notice", "message": message})


def bye(code: str, message: str) -> str:
    return dumps({"type": "bye", "code": code, "message": message})


def pong(t: float) -> str:
    return dumps({"type": "pong", "t": t})


def frame_message(seq: int, mime: str, header: list[list[str]], image: bytes, t: float = 0.0) -> bytes:
    """A binary frame message (see the module docstring)."""
    meta = dumps({"seq": seq, "mime": mime, "header": header, "t": t}).encode()
    return struct.pack(">I", len(meta)) + meta + image


def split_frame_message(data: bytes) -> tuple[dict, bytes]:
    """(meta, image) of a binary frame message (tests, clients in Python)."""
    (n,) = struct.unpack(">I", data[:4])
    return json.loads(data[4 : 4 + n]), data[4 + n :]
