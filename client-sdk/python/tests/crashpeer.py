"""A program for test_crash.py, so that a real process dies.

    crashpeer.py send URL ADDR SECRET STATEDIR DST N    sends N, then SIGKILLs itself
    crashpeer.py flush URL ADDR SECRET STATEDIR         opens the state dir, flushes
    crashpeer.py recv URL ADDR SECRET STATEDIR N DIE_AT OUT
        receives until N distinct packets, one line "id flags" each to OUT;
        SIGKILLs itself inside the callback of the DIE_AT-th packet (0: never)
"""
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import cascade  # noqa: E402


def main() -> int:
    mode, url, addr, secret, state = sys.argv[1:6]
    if mode == "send":
        dst, n = sys.argv[6], int(sys.argv[7])
        c = cascade.Client(url, addr, secret, state_dir=state)
        for i in range(n):
            c.send(dst, "crash.test", f"{i + 1}".encode())
        # on disk now: die before the node could have taken them all
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "flush":
        with cascade.Client(url, addr, secret, state_dir=state) as c:
            c.flush(20000)
        return 0
    if mode == "recv":
        n, die_at, out = int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
        seen: set = set()
        count = [0]
        done = threading.Event()
        f = open(out, "a", buffering=1)

        def on_packet(_c, p):
            if p.is_notice:
                return
            count[0] += 1
            if count[0] == die_at:
                f.write(f"{p.id_text} {int(p.flags)} died\n")
                os.kill(os.getpid(), signal.SIGKILL)
            f.write(f"{p.id_text} {int(p.flags)}\n")
            seen.add(p.id)
            if len(seen) >= n:
                done.set()

        with cascade.Client(url, addr, secret, state_dir=state, on_packet=on_packet):
            if not done.wait(30):
                print(f"crashpeer: {len(seen)} of {n} received", file=sys.stderr)
                return 1
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
