"""Crashes with a state directory: real processes killed with SIGKILL."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = [sys.executable, os.path.join(HERE, "crashpeer.py")]


def peer(*args, check=True, timeout=60):
    r = subprocess.run(PEER + [str(a) for a in args], timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"crashpeer {args[0]} exited {r.returncode}: {r.stdout}")
    return r


def test_sender_killed_after_send_loses_nothing(tree, opts, tmp_path):
    a, b = opts("a", "crash"), opts("b", "bob")
    state = tmp_path / "sender-state"
    r = peer("send", a["url"], a["client"], a["secret_file"], state, "fj-b/bob", 300,
             check=False)
    assert r.returncode == -9, r.stdout          # it did die, by SIGKILL
    peer("flush", a["url"], a["client"], a["secret_file"], state)
    out = tmp_path / "bob.txt"
    peer("recv", b["url"], b["client"], b["secret_file"], tmp_path / "bob-state", 300, 0, out)
    ids = [line.split()[0] for line in out.read_text().splitlines()]
    assert len(ids) == 300 and len(set(ids)) == 300


def test_receiver_killed_inside_its_callback_gets_that_packet_again_flagged(tree, opts,
                                                                          tmp_path):
    a, b = opts("a", "crash"), opts("b", "bert")
    import cascade
    with cascade.Client(**a) as c:
        for i in range(50):
            c.send("fj-b/bert", "crash.test", b"%d" % i)
        c.flush(10000)
    out, state = tmp_path / "bert.txt", tmp_path / "bert-state"
    r = peer("recv", b["url"], b["client"], b["secret_file"], state, 50, 20, out, check=False)
    assert r.returncode == -9, r.stdout
    peer("recv", b["url"], b["client"], b["secret_file"], state, 31, 0, out)
    lines = [ln.split() for ln in out.read_text().splitlines()]
    died = [ln for ln in lines if ln[-1] == "died"]
    assert len(died) == 1
    taken = [ln for ln in lines if ln[-1] != "died"]
    ids = [ln[0] for ln in taken]
    assert len(ids) == 50 and len(set(ids)) == 50        # all 50, none twice
    again = [ln for ln in taken if ln[0] == died[0][0]]
    assert len(again) == 1 and int(again[0][1]) & cascade.Flag.REDELIVERY
