"""sdk_send.py: sends per second to custody through the Python binding, as
tests/bench/sdk_send.c does in C (make bench-sdk, tests/bench/sdk.sh).

    python3 sdk_send.py URL ADDR SECRET DST N SIZE     prints "python N SECONDS SENDS_PER_S"
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "client-sdk", "python"))
import cascade  # noqa: E402


def main() -> int:
    url, addr, secret, dst = sys.argv[1:5]
    n, size = int(sys.argv[5]), int(sys.argv[6])
    payload = b"x" * size
    with cascade.Client(url, addr, secret, queue_max=10000000) as c:
        for _ in range(1000):
            if c.state == cascade.State.UP:
                break
            time.sleep(0.01)
        send = c.send
        t0 = time.monotonic()
        for _ in range(n):
            send(dst, "bench.data", payload, ttl_ms=600000)
        c.flush(120000)
        t = time.monotonic() - t0
    print(f"python {n} {t:.3f} {n / t:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
