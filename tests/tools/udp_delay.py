#!/usr/bin/env python3
"""A UDP forwarder that holds every datagram DELAY_MS before passing it on,
both ways: a delayed path for lab tests, since tc netem is missing here.

  udp_delay.py LISTEN_IP LISTEN_PORT TARGET_IP TARGET_PORT DELAY_MS [SECONDS]

Each client address gets its own upstream socket (bound to LISTEN_IP, any
port), so the target sees one distinct source per client, like a NAT.
At most 256 clients; it exits after SECONDS (default 900) so that it can
never outlive a test for long."""
import heapq
import select
import socket
import sys
import time


def main():
    lip, lport, tip, tport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    delay = float(sys.argv[5]) / 1000.0
    stop = time.monotonic() + (float(sys.argv[6]) if len(sys.argv) > 6 else 900)
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind((lip, lport))
    up_of = {}      # client address -> upstream socket
    client_of = {}  # upstream fd -> client address
    socks = {front.fileno(): front}
    queue = []      # (due, seq, socket, destination, bytes)
    seq = 0
    print("udp_delay: %s:%d -> %s:%d, %.1f ms each way" % (lip, lport, tip, tport, delay * 1000), flush=True)
    while time.monotonic() < stop:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, s, dst, data = heapq.heappop(queue)
            try:
                s.sendto(data, dst)
            except OSError:
                pass
        timeout = max(0.0, min(queue[0][0] - now, 1.0)) if queue else 1.0
        ready, _, _ = select.select(list(socks.values()), [], [], timeout)
        now = time.monotonic()
        for s in ready:
            try:
                data, src = s.recvfrom(65536)
            except OSError:
                continue
            if s is front:
                up = up_of.get(src)
                if up is None:
                    if len(up_of) >= 256:
                        continue
                    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    up.bind((lip, 0))
                    up_of[src] = up
                    client_of[up.fileno()] = src
                    socks[up.fileno()] = up
                seq += 1
                heapq.heappush(queue, (now + delay, seq, up, (tip, tport), data))
            else:
                seq += 1
                heapq.heappush(queue, (now + delay, seq, front, client_of[s.fileno()], data))


if __name__ == "__main__":
    main()
