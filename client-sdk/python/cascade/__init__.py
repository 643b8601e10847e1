"""cascade — Python binding of libcascade, the cascade client SDK.

    import cascade

    def on_packet(client: cascade.Client, p: cascade.Packet) -> None:
        if p.kind == cascade.Kind.DATA:
            client.reply(p, "echo", p.payload)

    with cascade.Client("tcp://county.example:7400", "fj-xm-siming/dr-lin",
                        "/etc/cascade/dr-lin.secret", on_packet=on_packet) as c:
        c.send("fj-p1/expert", "consult.ask", b"...")
        answer = c.request("fj-p1/expert", "consult.ask", b"...").result()
        c.flush(10000)

Threads: every callback (on_packet, on_state, on_log, a request's callback
or the completion of its Future) runs on the SDK's receiver thread of that
Client, one at a time, as in C (man libcascade(3)). A callback may call
send(), request(), reply() and cancel() on its Client, not close() or
flush() (they raise CascadeError ECALLBACK), and should return quickly:
while it runs, the Client neither receives nor sends. Never wait for a
request's Future inside a callback of the same Client: the reply could only
arrive after the callback returned.

An exception raised by a callback does not reach C: it is logged on the
"cascade" logger and the callback counts as returned. For on_packet that
means the packet counts as delivered (the SDK records it and acknowledges
it to the node): it is not handed over again. Catch what you want to retry.

Packets are Python objects: their fields are copied out of the SDK's
buffers before the callback returns, so they stay valid afterwards.
"""
from __future__ import annotations

import ctypes
import enum
import logging
import threading
from concurrent.futures import Future
from ctypes import byref, c_char_p, c_int, c_int64, c_size_t, c_uint32, c_uint64, c_void_p
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from . import _lib

__all__ = ["Client", "Packet", "Hop", "CascadeError", "Err", "Flag", "Kind", "Notice", "State",
           "LogLevel", "Carrier", "id_text", "id_parse", "new_id", "version", "strerror",
           "reason_str", "library_path", "ID_LEN"]

_c = _lib.load()
log = logging.getLogger("cascade")
ID_LEN = _lib.ID_LEN
Bytes = Union[bytes, bytearray, memoryview, str]


class Err(enum.IntEnum):
    """enum cascade_err."""
    OK = 0
    EINVAL = -1
    ENOMEM = -2
    EADDRESS = -3
    EQUEUE_FULL = -4
    ETIMEDOUT = -5
    ECLOSED = -6
    ESECRET = -7
    EAUTH = -8
    ECARRIER = -9
    ESTATE = -10
    ETOOBIG = -11
    EINTERNAL = -12
    ECALLBACK = -13
    ENOTFOUND = -14
    EUNDELIVERABLE = -15
    EEXPIRED = -16
    EREJECTED = -17
    ECANCELLED = -18
    EBUSY = -19


class Flag(enum.IntFlag):
    """CASCADE_FLAG_*."""
    NONE = 0
    RECEIPT = 0x01
    NO_TTL = 0x02
    DOWN = 0x04
    URGENT = 0x08
    NOTIFY = 0x10
    LATE = 0x20
    REDELIVERY = 0x40


class Kind(enum.IntEnum):
    DATA = 0
    NOTICE = 1


class Notice(enum.IntEnum):
    NONE = 0
    DELIVERED = 1
    EXPIRED = 2
    UNDELIVERABLE = 3
    REJECTED = 4
    CANCELLED = 5
    CANCEL_TOO_LATE = 6


class State(enum.IntEnum):
    CONNECTING = 1
    UP = 2
    DOWN = 3
    TAKEN_OVER = 4
    REFUSED = 5
    CLOSED = 6
    HELD = 7
    NEW_SESSION = 8
    UNTRUSTED = 9


class LogLevel(enum.IntEnum):
    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


class Carrier(enum.IntEnum):
    AUTO = 0
    TCP = 1
    HTTP = 2


def strerror(code: int) -> str:
    return _c.cascade_strerror(code).decode()


class CascadeError(Exception):
    """A libcascade call failed: code (an Err, or the int when unknown to
    this binding), text (cascade_strerror), and what was being done.
    A failed request carries the notice that ended it in .packet."""

    def __init__(self, code: int, what: str = "", packet: Optional["Packet"] = None):
        try:
            self.code: Union[Err, int] = Err(code)
        except ValueError:
            self.code = code
        self.text = strerror(code)
        self.what = what
        self.packet = packet
        super().__init__(f"{what}: {self.text}" if what else self.text)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        raise CascadeError(rc, what)


def _b(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode()


def _payload(data: Optional[Bytes]) -> bytes:
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode()
    return bytes(data)


def _id_bytes(p) -> Optional[bytes]:
    return None if not p else ctypes.string_at(p, ID_LEN)


def version() -> str:
    return _c.cascade_version(None).decode()


def library_path() -> str:
    """The libcascade that was loaded."""
    return _c.cascade_path


def reason_str(reason: int) -> str:
    return _c.cascade_reason_str(reason).decode()


def new_id() -> bytes:
    buf = _lib.id_t()
    _check(_c.cascade_id_new(buf), "cascade_id_new")
    return bytes(buf)


def id_text(packet_id: bytes) -> str:
    """The text form of a packet id ("0193f6c2a1b0-" and 20 hex digits)."""
    if len(packet_id) != ID_LEN:
        raise ValueError(f"a packet id has {ID_LEN} bytes, not {len(packet_id)}")
    out = ctypes.create_string_buffer(_lib.ID_TEXT_LEN)
    _check(_c.cascade_id_format(_lib.id_t.from_buffer_copy(packet_id), out, len(out)),
           "cascade_id_format")
    return out.value.decode()


def id_parse(text: str) -> bytes:
    buf = _lib.id_t()
    _check(_c.cascade_id_parse(text.encode(), buf), f"parsing packet id {text!r}")
    return bytes(buf)


@dataclass(frozen=True)
class Hop:
    """One node of a packet's trace."""
    node: str
    down: bool
    arrived_ms: int
    held_ms: int


@dataclass(eq=False)
class Packet:
    """A received packet or notice, copied out of the SDK."""
    id: bytes
    src: str
    dst: str
    command: str
    payload: bytes
    flags: Flag
    kind: Kind
    notice: Notice
    reason: int
    text: str
    ref_id: Optional[bytes]
    reply_to: Optional[bytes]
    ttl_ms: int
    hops: list[Hop] = field(default_factory=list)
    # a cascade_packet_dup() copy, so reply() works after the callback
    _dup: Optional[int] = field(default=None, repr=False)

    @property
    def id_text(self) -> str:
        return id_text(self.id)

    @property
    def is_notice(self) -> bool:
        return self.kind == Kind.NOTICE

    def __del__(self) -> None:
        if self._dup:
            _c.cascade_packet_free(self._dup)
            self._dup = None

    @classmethod
    def _from_c(cls, p: int) -> "Packet":
        n = c_size_t()
        data = _c.cascade_packet_payload(p, byref(n))
        hops = []
        node, down, arrived, held = c_char_p(), c_int(), c_int64(), c_uint32()
        for i in range(_c.cascade_packet_hops(p)):
            if _c.cascade_packet_hop(p, i, byref(node), byref(down), byref(arrived),
                                     byref(held)) == 0:
                hops.append(Hop((node.value or b"").decode(), bool(down.value), arrived.value,
                                held.value))
        kind = Kind(_c.cascade_packet_kind(p))
        dup = None
        if kind == Kind.DATA:
            d = c_void_p()
            if _c.cascade_packet_dup(p, byref(d)) == 0:
                dup = d.value
        return cls(
            id=_id_bytes(_c.cascade_packet_id(p)) or b"",
            src=(_c.cascade_packet_src(p) or b"").decode(),
            dst=(_c.cascade_packet_dst(p) or b"").decode(),
            command=(_c.cascade_packet_command(p) or b"").decode(),
            payload=ctypes.string_at(data, n.value) if n.value else b"",
            flags=Flag(_c.cascade_packet_flags(p)),
            kind=kind,
            notice=Notice(_c.cascade_packet_notice(p)),
            reason=_c.cascade_packet_reason(p),
            text=(_c.cascade_packet_text(p) or b"").decode(errors="replace"),
            ref_id=_id_bytes(_c.cascade_packet_ref_id(p)),
            reply_to=_id_bytes(_c.cascade_packet_reply_to(p)),
            ttl_ms=_c.cascade_packet_ttl(p),
            hops=hops,
            _dup=dup)


PacketCallback = Callable[["Client", Packet], None]
StateCallback = Callable[["Client", State, str], None]
LogCallback = Callable[[LogLevel, str], None]
RequestCallback = Callable[["Client", int, bytes, Optional[Packet]], None]

_PY_LEVEL = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}


def _guard(what: str):
    """Wraps a callback so that an exception never unwinds into C."""
    def wrap(fn):
        def inner(*args):
            try:
                fn(*args)
            except BaseException:  # noqa: B902 - nothing may cross into C
                log.exception("cascade: the %s callback raised; the SDK goes on "
                              "as if it had returned", what)
        return inner
    return wrap


class Client:
    """One attachment to a cascade node (a cascade_t handle).

    url, client (this client's "node/client" address) and secret_file are
    required; the keywords map to cascade_options_set_*() (man
    libcascade(3)). on_packet(client, packet) gets data packets and notices;
    without it the Client is send-only and request() is refused. on_state
    (client, state, detail) gets connection changes; on_log(level, text)
    the library's log lines (by default they go to the "cascade" logger at
    log_level and above). Use it as a context manager, or call close().
    """

    def __init__(self, url: str, client: str, secret_file: str, *,
                 ca_file: Optional[str] = None,
                 client_cert: Optional[tuple[str, str]] = None,
                 proxy: Optional[str] = None,
                 carrier: Carrier = Carrier.AUTO,
                 state_dir: Optional[str] = None,
                 state_size: Optional[int] = None,
                 queue_max: Optional[int] = None,
                 timeout_ms: Optional[int] = None,
                 reply_ttl_ms: Optional[int] = None,
                 reconnect_ms: Optional[tuple[int, int]] = None,
                 dead_timeout_ms: Optional[int] = None,
                 on_packet: Optional[PacketCallback] = None,
                 on_state: Optional[StateCallback] = None,
                 on_log: Optional[LogCallback] = None,
                 log_level: LogLevel = LogLevel.WARN):
        self._h: Optional[int] = None
        self._lock = threading.Lock()
        self._requests: dict[int, tuple[Optional[RequestCallback], Optional[Future]]] = {}
        self._next_key = 1
        self._on_packet = on_packet
        self._on_state = on_state
        self._on_log = on_log
        # The CFUNCTYPE objects live as long as the Client: C keeps their pointers.
        self._packet_cb = _lib.packet_cb(_guard("packet")(self._packet_trampoline))
        self._state_cb = _lib.state_cb(_guard("state")(self._state_trampoline))
        self._log_cb = _lib.log_cb(_guard("log")(self._log_trampoline))
        self._request_cb = _lib.request_cb(_guard("request")(self._request_trampoline))

        o = c_void_p()
        _check(_c.cascade_options_new(byref(o)), "cascade_options_new")
        try:
            s = _c
            _check(s.cascade_options_set_url(o, _b(url)), f"url {url!r}")
            _check(s.cascade_options_set_client(o, _b(client)), f"client address {client!r}")
            _check(s.cascade_options_set_secret_file(o, _b(secret_file)),
                   f"secret file {secret_file!r}")
            if ca_file is not None:
                _check(s.cascade_options_set_ca_file(o, _b(ca_file)), f"ca file {ca_file!r}")
            if client_cert is not None:
                _check(s.cascade_options_set_client_cert(o, _b(client_cert[0]),
                                                         _b(client_cert[1])), "client_cert")
            if proxy is not None:
                _check(s.cascade_options_set_proxy(o, _b(proxy)), f"proxy {proxy!r}")
            _check(s.cascade_options_set_carrier(o, int(carrier)), "carrier")
            if state_dir is not None:
                _check(s.cascade_options_set_state_dir(o, _b(state_dir)),
                       f"state dir {state_dir!r}")
            if state_size is not None:
                _check(s.cascade_options_set_state_size(o, state_size), "state_size")
            if queue_max is not None:
                _check(s.cascade_options_set_queue_max(o, queue_max), "queue_max")
            if timeout_ms is not None:
                _check(s.cascade_options_set_timeout(o, timeout_ms), "timeout_ms")
            if reply_ttl_ms is not None:
                _check(s.cascade_options_set_reply_ttl(o, reply_ttl_ms), "reply_ttl_ms")
            if reconnect_ms is not None:
                _check(s.cascade_options_set_reconnect(o, *reconnect_ms), "reconnect_ms")
            if dead_timeout_ms is not None:
                _check(s.cascade_options_set_dead_timeout(o, dead_timeout_ms),
                       "dead_timeout_ms")
            if on_packet is not None:
                _check(s.cascade_options_set_packet_cb(o, self._packet_cb, None), "on_packet")
            _check(s.cascade_options_set_state_cb(o, self._state_cb, None), "on_state")
            _check(s.cascade_options_set_log_cb(o, self._log_cb, None, int(log_level)),
                   "log_level")
            h = c_void_p()
            _check(s.cascade_open(o, byref(h)), f"opening {client} at {url}")
            self._h = h.value
        finally:
            _c.cascade_options_free(o)

    # ---------------------------------------------------------- callbacks
    def _packet_trampoline(self, _arg, _h, p) -> None:
        if self._on_packet is not None:
            self._on_packet(self, Packet._from_c(p))

    def _state_trampoline(self, _arg, _h, state, detail) -> None:
        if self._on_state is not None:
            self._on_state(self, State(state), (detail or b"").decode(errors="replace"))

    def _log_trampoline(self, _arg, level, msg) -> None:
        text = (msg or b"").decode(errors="replace")
        if self._on_log is not None:
            self._on_log(LogLevel(level), text)
        else:
            log.log(_PY_LEVEL.get(level, logging.DEBUG), "%s", text)

    def _request_trampoline(self, arg, _h, status, _id, reply) -> None:
        with self._lock:
            cb, fut = self._requests.pop(arg or 0, (None, None))
        pkt = Packet._from_c(reply) if reply else None
        rid = ctypes.string_at(_id, ID_LEN) if _id else b""
        if cb is not None:
            cb(self, status, rid, pkt)
        if fut is not None:
            if status == 0:
                fut.set_result(pkt)
            else:
                fut.set_exception(CascadeError(status, f"request {id_text(rid)}", pkt))

    # ------------------------------------------------------------ the API
    def _handle(self) -> int:
        if self._h is None:
            raise CascadeError(Err.ECLOSED, "the Client is closed")
        return self._h

    def send(self, dst: str, command: str, payload: Optional[Bytes] = b"", *,
             ttl_ms: int = 0, flags: Flag = Flag.NONE) -> bytes:
        """Queues a packet (cascade_send) and returns its id; ttl_ms 0: never expires."""
        data = _payload(payload)
        out = _lib.id_t()
        _check(_c.cascade_send(self._handle(), _b(dst), _b(command), data, len(data), ttl_ms,
                               int(flags), out), f"send to {dst}")
        return bytes(out)

    def request(self, dst: str, command: str, payload: Optional[Bytes] = b"", *,
                timeout_ms: int = 0, ttl_ms: Optional[int] = None,
                flags: Flag = Flag.NONE,
                callback: Optional[RequestCallback] = None) -> Future:
        """Sends a request (cascade_request, or cascade_request_ttl with
        ttl_ms). Returns a Future that gets the reply Packet, or raises
        CascadeError (ETIMEDOUT, EUNDELIVERABLE, EEXPIRED, EREJECTED,
        ECANCELLED, ECLOSED; .packet is the notice, if any). callback
        (client, status, id, reply), if given, also runs on the SDK thread.
        flags (URGENT, RECEIPT, ...) uses cascade_request_flags.
        The request's id is in the Future's .id attribute."""
        data = _payload(payload)
        out = _lib.id_t()
        fut: Future = Future()
        with self._lock:
            key = self._next_key
            self._next_key += 1
            self._requests[key] = (callback, fut)
        h = self._handle()
        if flags:
            t = timeout_ms if ttl_ms is None else ttl_ms
            rc = _c.cascade_request_flags(h, _b(dst), _b(command), data, len(data), timeout_ms,
                                          t, int(flags), self._request_cb, key, out)
        elif ttl_ms is None:
            rc = _c.cascade_request(h, _b(dst), _b(command), data, len(data), timeout_ms,
                                    self._request_cb, key, out)
        else:
            rc = _c.cascade_request_ttl(h, _b(dst), _b(command), data, len(data), timeout_ms,
                                        ttl_ms, self._request_cb, key, out)
        if rc != 0:
            with self._lock:
                self._requests.pop(key, None)
            raise CascadeError(rc, f"request to {dst}")
        fut.id = bytes(out)  # type: ignore[attr-defined]
        return fut

    def reply(self, received: Packet, command: str, payload: Optional[Bytes] = b"") -> bytes:
        """Answers a received data packet (cascade_reply); returns the reply's id."""
        if received._dup is None:
            raise CascadeError(Err.EINVAL, "reply: a notice cannot be answered")
        data = _payload(payload)
        out = _lib.id_t()
        _check(_c.cascade_reply(self._handle(), received._dup, _b(command), data, len(data),
                                out), f"reply to {received.src}")
        return bytes(out)

    def cancel(self, packet_id: bytes) -> bytes:
        """Asks the network to drop a packet sent earlier (cascade_cancel);
        returns the cancel packet's id. The outcome comes as a notice."""
        out = _lib.id_t()
        _check(_c.cascade_cancel(self._handle(), _lib.id_t.from_buffer_copy(packet_id), out),
               f"cancel {id_text(packet_id)}")
        return bytes(out)

    def flush(self, timeout_ms: int = -1) -> None:
        """Waits until the node has custody of everything sent so far;
        raises CascadeError ETIMEDOUT after timeout_ms (negative: no limit)."""
        _check(_c.cascade_flush(self._handle(), timeout_ms), "flush")

    @property
    def state(self) -> State:
        return State(_c.cascade_state(self._handle()))

    def rejected(self) -> list[tuple[bytes, int, str]]:
        """The packets the node refused for good at push (cascade_flush_rejected),
        oldest first: (id, reason, "REASON: text")."""
        out = []
        i = 0
        while True:
            pid, reason = _lib.id_t(), c_uint32()
            why = ctypes.create_string_buffer(256)
            rc = _c.cascade_flush_rejected(self._handle(), i, pid, byref(reason), why, len(why))
            if rc == Err.ENOTFOUND:
                return out
            _check(rc, "flush_rejected")
            out.append((bytes(pid), reason.value, why.value.decode(errors="replace")))
            i += 1

    def pause(self) -> None:
        """Stops receiving (cascade_pause): packets wait in the node's inbox."""
        _check(_c.cascade_pause(self._handle()), "pause")

    def resume(self) -> None:
        """Receives again after pause() (cascade_resume)."""
        _check(_c.cascade_resume(self._handle()), "resume")

    @property
    def paused(self) -> bool:
        return _c.cascade_paused(self._handle()) == 1

    @property
    def last_error(self) -> str:
        """The detail behind the handle's latest error (cascade_last_error), or ""."""
        buf = ctypes.create_string_buffer(512)
        _check(_c.cascade_last_error(self._handle(), buf, len(buf)), "last_error")
        return buf.value.decode(errors="replace")

    @property
    def pending(self) -> int:
        """Packets in the outbox the node has not acknowledged yet."""
        n = c_uint64()
        _check(_c.cascade_pending(self._handle(), byref(n)), "pending")
        return n.value

    def close(self) -> None:
        """Closes the handle (cascade_close): pending requests end with
        ECLOSED; a memory outbox that was not flushed is lost."""
        if self._h is None:
            return
        _check(_c.cascade_close(self._h), "close")
        self._h = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # A Client dropped without close(): close it, unless the interpreter
        # is shutting down under us.
        try:
            if self._h is not None:
                self.close()
        except Exception:
            pass
