#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into tests/fuzz/<target>/: a handful of
small real messages (packets/cascade.proto) and configs. Run it again after
changing the protocol; the files it writes are committed."""
import os, struct, sys

def varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def zigzag(n):
    return (n << 1) ^ (n >> 63)

def f(num, val, kind="v"):
    """One field: v varint, z sint64, q fixed64, b bytes/string/message."""
    if kind == "v":
        return varint(num << 3) + varint(val)
    if kind == "z":
        return varint(num << 3) + varint(zigzag(val) & (2**64 - 1))
    if kind == "q":
        return varint(num << 3 | 1) + struct.pack("<Q", val)
    if isinstance(val, str):
        val = val.encode()
    return varint(num << 3 | 2) + varint(len(val)) + val

PID = bytes.fromhex("0190a1b2c3d4" + "00" * 9 + "01")
REF = bytes.fromhex("0190a1b2c3d4" + "00" * 9 + "02")

def hop(node, leg=0):
    return f(1, node, "b") + f(2, leg) + f(3, 1700000000000) + f(4, 12)

def packet(kind=0, **kw):
    p = f(1, 1) + f(2, PID, "b") + f(3, kw.get("src", "fj-xm/alice"), "b") + \
        f(4, kw.get("dst", "fj/carol"), "b")
    if kind == 0:
        p += f(5, kw.get("command", "consult.request"), "b") + f(6, b"patient 42: x-ray", "b")
    p += f(7, kw.get("ttl", 60000), "z") + f(8, kw.get("flags", 0))
    for h in kw.get("trace", []):
        p += f(10, hop(*h), "b")
    if kind:
        p += f(11, kind) + f(12, REF, "b")
    if "notice" in kw:
        p += f(13, kw["notice"]) + f(14, 3) + f(15, "spoofed src", "b")
    if "reply_to" in kw:
        p += f(9, kw["reply_to"], "b")
    return p

def request(typ, body, session=0, seq=0, mac=True):
    r = f(1, 2) + f(2, typ)
    if session:
        r += f(3, session, "q")
    r += f(4, body, "b")
    if mac:
        r += f(5, b"\x11" * 32, "b")
    if seq:
        r += f(6, seq)
    return r

def reply(typ, body, status=0, error=""):
    r = f(1, 2) + f(2, typ) + f(3, status)
    if error:
        r += f(4, error, "b")
    return r + f(5, body, "b") + f(6, b"\x22" * 32, "b")

pk = [packet(), packet(flags=1, trace=[("fj-xm", 0), ("fj", 1)]),
      packet(kind=2, src="fj-xm", dst="fj-xm/alice", notice=3),
      packet(reply_to=REF, ttl=2**62), packet(flags=2, ttl=-5)]
push = f(1, 0x1234, "q") + f(2, 1) + f(3, 2) + f(4, pk[0], "b") + f(4, pk[1], "b") + \
    f(5, varint(1) + varint(2), "b")
auth = f(1, "fj-xm", "b") + f(2, b"\x01" * 32, "b") + f(3, b"\x02" * 32, "b") + \
    f(4, b"\x03" * 32, "b") + f(5, f(1, 0x1234, "q") + f(2, 7), "b") + \
    f(6, "fj-xm-siming", "b") + f(7, 1)
hello = f(1, 2) + f(2, "fj-xm", "b") + f(3, 1) + f(4, 1)
pull = f(1, 0x99, "q") + f(2, 3) + f(3, 25000) + f(4, 64) + f(5, 1 << 20)
routes = f(1, "fj-xm-siming", "b") + f(1, "fj-xm-haicang", "b")
limits = f(1, 256) + f(2, 4 << 20) + f(3, 1 << 20) + f(4, 25000) + f(5, 120000) + f(6, 4)
authreply = f(1, 0xabcdef, "q") + f(2, 1) + f(3, "tcp://127.0.0.1:7000", "b") + \
    f(4, limits, "b") + f(5, f(1, 0x1234, "q") + f(2, 6), "b") + f(7, "evil", "b")
pullreply = f(1, 0x99, "q") + f(2, 4) + f(3, 5) + f(4, pk[2], "b") + f(4, pk[3], "b") + \
    f(5, varint(4) + varint(5), "b")
pushreply = f(1, 2) + f(2, f(1, 2) + f(2, PID, "b") + f(3, 3) + f(4, "spoofed", "b"), "b")

corpora = {
    "fuzz_packet": pk,
    "fuzz_request": [request(1, hello, mac=False), request(2, auth, mac=False),
                     request(3, push, 0xabcdef, 1), request(4, pull, 0xabcdef, 2),
                     request(5, routes, 0xabcdef, 3)],
    "fuzz_reply": [reply(1, f(1, b"\x05" * 32, "b") + f(2, "fj", "b")), reply(2, authreply),
                   reply(3, pushreply), reply(4, pullreply), reply(5, f(1, "evil", "b")),
                   reply(3, b"", status=5, error="no such session")],
    "fuzz_conf": [
        b"node fj\nrole master\ndata-dir /nonexistent/fj\nsync no\n"
        b"listen tcp://127.0.0.1:7000\nallow-plain yes\nmax-packet 1M\nmax-batch 256\n"
        b"child fj-xm {\n    secret fj-xm.secret\n    claim fj-xm-*\n}\n"
        b"client carol {\n    secret carol.secret\n}\n",
        b"node fj-xm\ndata-dir /nonexistent/fj-xm\nlocal-delivery direct\naudit-copy yes\n"
        b"parent fj {\n    url tls+tcp://localhost:7001\n    url https://localhost:7002\n"
        b"    transport auto\n    secret up.secret\n    ca ca.crt\n}\n"
        b"listen http://127.0.0.1:7003\nallow-plain yes\n# a comment\n",
        b"node fj\nrole master\ndata-dir /nonexistent/x\ninclude other.conf\n"
        b"journal-map-size 64M\njournal-max-size 1G\nquota-packets 10000\n",
    ],
}
top = os.path.dirname(os.path.abspath(__file__))
for target, seeds in corpora.items():
    d = os.path.join(top, target)
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed-%d" % i), "wb") as fh:
            fh.write(s)
print("seeds written under", top, file=sys.stderr)
