#!/usr/bin/env python3
"""big_parse.py HOST PORT USER PASSWORD DB MB NSTMTS -- a client that logs in
with SCRAM-SHA-256 and then (1) sends a named Parse of MB megabytes,
streamed in 1 MB pieces, and a Sync, printing the SQLSTATE of the error
it gets; (2) prepares NSTMTS named statements, printing the SQLSTATE of
the first refused (or "none"); (3) checks the session still answers
"select 1".  Output: "big=STATE many=STATE@N alive=yes|no"."""
import socket
import struct
import sys

from pgwire import recv_msg, scram_login, send


def until_ready(s):
    state = None
    while True:
        typ, p = recv_msg(s)
        if typ == b"E" and state is None:
            for field in p.split(b"\0"):
                if field[:1] == b"C":
                    state = field[1:].decode()
        if typ == b"Z":
            return state


def main():
    host, port, user, pw, db = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    mb, nstmts = int(sys.argv[6]), int(sys.argv[7])
    s = socket.create_connection((host, port), timeout=60)
    scram_login(s, user, pw, db)
    # (1) a named Parse of mb MB: "select '<x...>'" streamed
    text_len = mb * 1024 * 1024
    head = b"big\0select '"
    body_len = len(head) + text_len + 2 + 2  # "'" NUL, then int16 0
    s.sendall(b"P" + struct.pack("!I", body_len + 4) + head)
    piece = b"x" * (1024 * 1024)
    for _ in range(mb):
        s.sendall(piece)
    s.sendall(b"'\0" + struct.pack("!H", 0))
    send(s, b"S", b"")
    big = until_ready(s)
    # (2) many named statements, each with its Sync
    many = "none"
    for i in range(nstmts):
        send(s, b"P", b"s%d\0select %d\0\0\0" % (i, i))
        send(s, b"S", b"")
        st = until_ready(s)
        if st:
            many = "%s@%d" % (st, i + 1)
            break
    # (3) still alive
    send(s, b"Q", b"select 1\0")
    alive = "yes" if until_ready(s) is None else "no"
    print("big=%s many=%s alive=%s" % (big, many, alive))


main()
