#!/usr/bin/env python3
"""consult.py — the consultation example of consult.c, in Python (the
cascade package, client-sdk/python).

  consult.py expert -u URL -a ADDR -s SECRET [-c CA] [-S STATEDIR] [-n N] [-T SECONDS]
      answers each "consult.request" with a "consult.answer" (JSON that
      echoes the case id) and prints "case CASE from SRC" for each; stops
      after N requests or SECONDS.

  consult.py clinic -u URL -a ADDR -s SECRET -t EXPERT [-c CA] [-S STATEDIR] [-n N]
      [-p K] [-w SECONDS]
      sends N consultation requests, K at a time, waits for each answer (at
      most -w SECONDS, default 30), and ends with
      "sent N answered N lost N late N"; exits 0 only when every case was
      answered in time, with its own case id.

Run from the build tree: PYTHONPATH=client-sdk/python python3 consult.py ...
"""
import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import cascade  # noqa: E402

REQUEST, ANSWER = "consult.request", "consult.answer"


def client_kwargs(a, **more):
    kw = dict(url=a.url, client=a.addr, secret_file=a.secret, ca_file=a.ca,
              state_dir=a.state, **more)
    return kw


def expert(a) -> int:
    answered = threading.Semaphore(0)

    def on_packet(c: cascade.Client, p: cascade.Packet) -> None:
        if p.is_notice or p.command != REQUEST:
            return
        req = json.loads(p.payload)
        ans = {"case": req.get("case", "?"), "expert": a.addr, "urgency": "routine",
               "opinion": "Seen from Python: please send the vital signs."}
        c.reply(p, ANSWER, json.dumps(ans))
        print(f"case {ans['case']} from {p.src}", flush=True)
        answered.release()

    with cascade.Client(**client_kwargs(a), on_packet=on_packet) as c:
        deadline = time.monotonic() + a.T if a.T else None
        n = 0
        while not a.n or n < a.n:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            if answered.acquire(timeout=left):
                n += 1
        # the last answers may still be in the memory outbox: close() would drop them
        c.flush(10000)
        print(f"answered {n}", flush=True)
    return 0


def clinic(a) -> int:
    window = threading.Semaphore(a.p)
    late = [0]
    prefix = time.strftime("P%H%M%S")

    def on_packet(c, p):
        if p.flags & cascade.Flag.LATE:
            late[0] += 1

    answered = lost = 0
    with cascade.Client(**client_kwargs(a, timeout_ms=int(a.w * 1000)),
                        on_packet=on_packet) as c:
        futs = []
        for i in range(a.n):
            case = f"{prefix}-{i + 1:04d}"
            window.acquire()
            body = {"case": case, "clinic": a.addr, "patient": {"age": 60, "sex": "F",
                    "complaint": "chest pain"}}
            f = c.request(a.t, REQUEST, json.dumps(body))
            f.add_done_callback(lambda _f: window.release())
            futs.append((case, f))
        for case, f in futs:
            try:
                p = f.result(a.w + 5)
                got = json.loads(p.payload).get("case")
                if got == case:
                    answered += 1
                    print(f"{case} answered by {p.src}: {json.loads(p.payload)['opinion']}")
                else:
                    lost += 1
                    print(f"{case}: the answer is for case {got}", file=sys.stderr)
            except cascade.CascadeError as e:
                lost += 1
                print(f"consult.py: case {case}: {e}", file=sys.stderr)
    print(f"sent {a.n} answered {answered} lost {lost} late {late[0]}", flush=True)
    return 0 if answered == a.n else 1


def main() -> int:
    ap = argparse.ArgumentParser(description="a consultation over cascade, in Python")
    ap.add_argument("mode", choices=["expert", "clinic"])
    ap.add_argument("-u", dest="url", required=True)
    ap.add_argument("-a", dest="addr", required=True)
    ap.add_argument("-s", dest="secret", required=True)
    ap.add_argument("-c", dest="ca")
    ap.add_argument("-S", dest="state")
    ap.add_argument("-t", dest="t", help="the expert's address (clinic)")
    ap.add_argument("-n", type=int, default=0)
    ap.add_argument("-p", type=int, default=1)
    ap.add_argument("-w", type=float, default=30.0)
    ap.add_argument("-T", type=float, default=0.0)
    a = ap.parse_args()
    if a.mode == "clinic":
        if not a.t:
            ap.error("clinic needs -t EXPERT")
        a.n = a.n or 1
        return clinic(a)
    return expert(a)


if __name__ == "__main__":
    sys.exit(main())
