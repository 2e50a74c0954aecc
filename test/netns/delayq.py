#!/usr/bin/env python3
"""Delay (with jitter) for the packets an iptables NFQUEUE rule hands over.

This kernel has no netem qdisc; NFQUEUE (xt_NFQUEUE, nfnetlink_queue) is
there. This program speaks the nfnetlink_queue protocol over a raw
AF_NETLINK socket (Python's standard library only: no libnetfilter-queue,
nothing to compile), binds one queue in the network namespace it runs in,
and gives each packet its ACCEPT verdict `delay ± jitter` ms after it
arrived (uniform). Verdicts are never issued out of order: a packet leaves no
sooner than the one queued before it, as on a real path (no reordering).

    ip netns exec NS python3 delayq.py QUEUE DELAY_MS JITTER_MS

Prints "ready" on stdout once the queue is bound, then runs until SIGTERM,
SIGINT or stdin closing; on the way out every held packet is accepted.
"""
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_FAIL_OPEN = 1
NF_ACCEPT = 1


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack('=HH', length, kind) + payload + b'\0' * ((4 - length % 4) % 4)


class Queue:
    def __init__(self, num):
        self.num = num
        self.seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, 0))

    def send(self, msg_type, attrs, ack=False):
        self.seq += 1
        body = struct.pack('!BBH', socket.AF_UNSPEC, 0, self.num) + b''.join(attrs)
        flags = NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
        header = struct.pack('=IHHII', 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self.seq, 0)
        self.sock.send(header + body)
        if ack:
            self.expect_ack()

    def expect_ack(self):
        data = self.sock.recv(65536)
        length, kind = struct.unpack_from('=IH', data, 0)
        if kind != NLMSG_ERROR:
            raise OSError(f'unexpected netlink reply type {kind}')
        (error,) = struct.unpack_from('=i', data, 16)
        if error != 0:
            raise OSError(-error, os.strerror(-error))

    def bind(self):
        self.send(NFQNL_MSG_CONFIG, [attr(NFQA_CFG_CMD, struct.pack('!BxH', NFQNL_CFG_CMD_BIND, 0))], ack=True)
        self.send(NFQNL_MSG_CONFIG, [attr(NFQA_CFG_PARAMS, struct.pack('!IB', 0, NFQNL_COPY_META))], ack=True)
        # a full queue lets packets through rather than dropping them: delay only, never loss
        self.send(NFQNL_MSG_CONFIG, [attr(NFQA_CFG_MASK, struct.pack('!I', NFQA_CFG_F_FAIL_OPEN)),
                                     attr(NFQA_CFG_FLAGS, struct.pack('!I', NFQA_CFG_F_FAIL_OPEN))], ack=True)

    def packet_ids(self):
        data = self.sock.recv(1 << 20)
        ids = []
        offset = 0
        while offset + 16 <= len(data):
            length, kind = struct.unpack_from('=IH', data, offset)
            if length < 16:
                break
            if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                pos = offset + 20
                end = offset + length
                while pos + 4 <= end:
                    alen, atype = struct.unpack_from('=HH', data, pos)
                    if alen < 4:
                        break
                    if atype & 0x7fff == NFQA_PACKET_HDR:
                        ids.append(struct.unpack_from('!I', data, pos + 4)[0])
                    pos += (alen + 3) & ~3
            offset += (length + 3) & ~3
        return ids

    def accept(self, packet_id):
        self.send(NFQNL_MSG_VERDICT, [attr(NFQA_VERDICT_HDR, struct.pack('!II', NF_ACCEPT, packet_id))])


def main():
    num, delay, jitter = int(sys.argv[1]), float(sys.argv[2]) / 1000, float(sys.argv[3]) / 1000
    queue = Queue(num)
    queue.bind()
    print('ready', flush=True)
    held = []  # (release time, arrival order, packet id)
    order = 0
    last_release = 0.0
    running = [True]

    def stop(*_):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while running[0]:
        now = time.monotonic()
        while held and held[0][0] <= now:
            queue.accept(heapq.heappop(held)[2])
        timeout = max(0.0, held[0][0] - now) if held else 1.0
        try:
            readable, _, _ = select.select([queue.sock, sys.stdin], [], [], timeout)
        except InterruptedError:
            continue
        if sys.stdin in readable and sys.stdin.buffer.read1(4096) == b'':
            break
        if queue.sock in readable:
            now = time.monotonic()
            for packet_id in queue.packet_ids():
                release = max(now + delay + random.uniform(-jitter, jitter), last_release)
                last_release = release
                order += 1
                heapq.heappush(held, (release, order, packet_id))
    for _, _, packet_id in held:
        queue.accept(packet_id)


if __name__ == '__main__':
    main()
