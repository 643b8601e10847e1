"""The Python binding against a real tree (conftest.py): master fj,
counties fj-a (alice, amy, ...) and fj-b (bob, bert)."""
import json
import threading
import time

import pytest

import cascade
from cascade import CascadeError, Err


def test_version_and_ids():
    assert cascade.version().count(".") == 2
    i = cascade.new_id()
    assert len(i) == cascade.ID_LEN
    assert cascade.id_parse(cascade.id_text(i)) == i
    with pytest.raises(CascadeError) as e:
        cascade.id_parse("not an id")
    assert e.value.code == Err.EINVAL and e.value.text == cascade.strerror(-1)


def test_bad_options_raise_with_code_and_text(opts, tree):
    o = opts("a", "alice")
    with pytest.raises(CascadeError) as e:
        cascade.Client(o["url"], "not an address!", o["secret_file"])
    assert e.value.code == Err.EADDRESS
    assert "not an address!" in str(e.value)
    with pytest.raises(CascadeError) as e:
        cascade.Client(o["url"], o["client"], tree.dir + "/missing.secret")
    assert e.value.code == Err.ESECRET


class Echo:
    """bob: answers every data packet with its payload, on the SDK thread."""

    def __init__(self, opts):
        self.thread_ids = set()
        self.n = 0
        self.c = cascade.Client(**opts, on_packet=self.on_packet)

    def on_packet(self, client, p):
        self.thread_ids.add(threading.get_ident())
        if not p.is_notice:
            self.n += 1
            client.reply(p, "echo.answer", p.payload)

    def close(self):
        self.c.close()


def test_request_reply_across_the_tree(opts):
    echo = Echo(opts("b", "bob"))
    try:
        with cascade.Client(**opts("a", "alice"), on_packet=lambda c, p: None) as alice:
            futs = [alice.request("fj-b/bob", "echo.ask", json.dumps({"case": i}),
                                  timeout_ms=15000) for i in range(20)]
            answers = [f.result(20) for f in futs]
    finally:
        echo.close()
    assert [json.loads(a.payload)["case"] for a in answers] == list(range(20))
    for f, a in zip(futs, answers):
        assert a.reply_to == f.id
        assert a.src == "fj-b/bob" and a.command == "echo.answer"
        assert [h.node for h in a.hops][:1] == ["fj-b"] and "fj" in [h.node for h in a.hops]
    assert echo.n == 20
    assert len(echo.thread_ids) == 1 and threading.get_ident() not in echo.thread_ids


def test_send_flush_receive_exactly_once(opts):
    got = []
    done = threading.Event()

    def on_packet(c, p):
        if not p.is_notice:
            got.append(p.payload)
            if len(got) == 200:
                done.set()

    with cascade.Client(**opts("b", "bert"), on_packet=on_packet):
        with cascade.Client(**opts("a", "amy")) as amy:      # send-only
            ids = {amy.send("fj-b/bert", "t.data", b"%d" % i, ttl_ms=60000)
                   for i in range(200)}
            amy.flush(10000)
            assert amy.pending == 0
            assert len(ids) == 200
        assert done.wait(20), f"{len(got)} of 200"
    assert got == [b"%d" % i for i in range(200)]


def test_a_callback_that_raises_does_not_stop_the_client(opts, caplog):
    got = []
    done = threading.Event()

    def on_packet(c, p):
        if p.is_notice:
            return
        got.append(p.payload)
        if p.payload == b"boom":
            raise RuntimeError("application bug")
        if p.payload == b"after":
            done.set()

    with cascade.Client(**opts("b", "bert"), on_packet=on_packet):
        with cascade.Client(**opts("a", "amy")) as amy:
            amy.send("fj-b/bert", "t.data", b"boom")
            amy.send("fj-b/bert", "t.data", b"after")
            amy.flush(10000)
        assert done.wait(20)
    # the packet whose callback raised counts as delivered: not handed over again
    assert got == [b"boom", b"after"]
    assert "application bug" in caplog.text


def test_request_timeout_and_undeliverable(opts):
    with cascade.Client(**opts("a", "alice"), on_packet=lambda c, p: None) as alice:
        with pytest.raises(CascadeError) as e:
            alice.request("fj-b/nobody-listens", "x", b"", timeout_ms=500).result(10)
        assert e.value.code in (Err.ETIMEDOUT, Err.EUNDELIVERABLE)
        with pytest.raises(CascadeError) as e:
            alice.request("fj-nowhere/x", "x", b"", timeout_ms=15000).result(20)
        assert e.value.code == Err.EUNDELIVERABLE
        assert e.value.packet is not None and e.value.packet.notice == cascade.Notice.UNDELIVERABLE


def test_flush_inside_a_callback_is_refused(opts):
    seen = []
    done = threading.Event()

    def on_packet(c, p):
        try:
            c.flush(100)
        except CascadeError as e:
            seen.append(e.code)
        done.set()

    with cascade.Client(**opts("b", "bert"), on_packet=on_packet):
        with cascade.Client(**opts("a", "amy")) as amy:
            amy.send("fj-b/bert", "t.data", b"x")
            amy.flush(10000)
        assert done.wait(20)
    assert seen == [Err.ECALLBACK]


def test_closed_client_raises(opts):
    c = cascade.Client(**opts("a", "amy"))
    c.close()
    with pytest.raises(CascadeError) as e:
        c.send("fj-b/bert", "t.data", b"")
    assert e.value.code == Err.ECLOSED
    c.close()  # twice is fine


def test_states_reported(opts):
    states = []
    up = threading.Event()

    def on_state(c, s, detail):
        states.append(s)
        if s == cascade.State.UP:
            up.set()

    with cascade.Client(**opts("a", "amy"), on_state=on_state) as c:
        assert up.wait(10)
        assert c.state == cascade.State.UP
    assert states[-1] == cascade.State.CLOSED


def test_pause_keeps_packets_at_the_node_and_resume_delivers_them_once(opts):
    got = []
    lock = threading.Lock()
    all_in = threading.Event()

    def on_packet(c, p):
        if not p.is_notice:
            with lock:
                got.append(p.payload)
                if len(got) == 60:
                    all_in.set()

    with cascade.Client(**opts("b", "bob"), on_packet=on_packet) as bob:
        with cascade.Client(**opts("a", "alice")) as alice:
            for i in range(30):
                alice.send("fj-b/bob", "t.paused", b"%d" % i, ttl_ms=60000)
            alice.flush(10000)
            deadline = time.time() + 15
            while len(got) < 30 and time.time() < deadline:
                time.sleep(0.05)
            assert len(got) == 30
            bob.pause()
            assert bob.paused
            for i in range(30, 60):
                alice.send("fj-b/bob", "t.paused", b"%d" % i, ttl_ms=60000)
            alice.flush(10000)
            time.sleep(2.5)                 # a held pull would have brought them by now
            assert len(got) == 30, "a paused client received packets"
            bob.resume()
            assert not bob.paused
            assert all_in.wait(20), f"{len(got)} of 60 after resume"
    assert got == [b"%d" % i for i in range(60)]


def test_last_error_and_request_flags(opts):
    echo = Echo(opts("b", "bob"))
    try:
        with cascade.Client(**opts("a", "alice"), on_packet=lambda c, p: None) as alice:
            assert alice.last_error == ""
            assert alice.rejected() == []
            with pytest.raises(CascadeError):
                alice.send("No Such/Address", "x")
            assert "No Such/Address" in alice.last_error
            f = alice.request("fj-b/bob", "echo.ask", b"urgent", timeout_ms=15000,
                              flags=cascade.Flag.URGENT)
            r = f.result(20)
            assert r.payload == b"urgent" and r.reply_to == f.id
    finally:
        echo.close()
