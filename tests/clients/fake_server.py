#!/usr/bin/env python3
"""fake_server.py MODE PORT SECONDS -- a PostgreSQL impostor on loopback
(PORT 0: any free port; the first line printed is "listening PORT"),
for checking that pgperf does not give its server password away:

  cleartext   answers 'N' to SSLRequest, then asks for a cleartext password
  scram-skip  runs SCRAM up to the client's proof, then says
              AuthenticationOk without the server signature that would show
              it knows the password

Serves connections one after another for SECONDS, then prints one line
per connection: "password" when a password message came, else "none";
and "query" when a query followed a login it accepted."""
import base64
import os
import socket
import struct
import sys
import time

from pgwire import recv_exact, recv_msg, send


def auth(s, code, extra=b""):
    send(s, b"R", struct.pack("!I", code) + extra)


def logged_in(s):
    auth(s, 0)
    for k, v in (("server_version", "15.0"), ("client_encoding", "UTF8"),
                 ("standard_conforming_strings", "on"),
                 ("integer_datetimes", "on"), ("DateStyle", "ISO, MDY")):
        send(s, b"S", k.encode() + b"\0" + v.encode() + b"\0")
    send(s, b"K", struct.pack("!II", 1, 2))
    send(s, b"Z", b"I")


def serve(conn, mode):
    seen = []
    ln = struct.unpack("!I", recv_exact(conn, 4))[0]
    body = recv_exact(conn, ln - 4)
    if struct.unpack("!I", body[:4])[0] == 80877103:  # SSLRequest
        conn.sendall(b"N")
        ln = struct.unpack("!I", recv_exact(conn, 4))[0]
        body = recv_exact(conn, ln - 4)
    if mode == "cleartext":
        auth(conn, 3)
        try:
            typ, _ = recv_msg(conn)
            if typ == b"p":
                seen.append("password")
                logged_in(conn)
        except (EOFError, OSError):
            pass
    else:
        auth(conn, 10, b"SCRAM-SHA-256\0\0")
        typ, msg = recv_msg(conn)
        mech_end = msg.index(b"\0")
        first = msg[mech_end + 5:].decode()
        cnonce = dict(kv.split("=", 1) for kv in first.split(",")[2:])["r"]
        srv = "r=%s%s,s=%s,i=4096" % (cnonce, base64.b64encode(os.urandom(9)).decode(),
                                      base64.b64encode(os.urandom(16)).decode())
        auth(conn, 11, srv.encode())
        typ, _ = recv_msg(conn)
        if typ == b"p":
            seen.append("password")
        try:
            logged_in(conn)  # no AuthenticationSASLFinal
        except OSError:
            return " ".join(seen) or "none"  # pgperf hung up: good
    conn.settimeout(2)
    try:
        while True:
            typ, _ = recv_msg(conn)
            if typ == b"X":
                break
            if typ == b"Q":
                seen.append("query")
                send(conn, b"E", b"SERROR\0C42000\0Mfake server\0\0")
                send(conn, b"Z", b"I")
    except (EOFError, OSError):
        pass
    return " ".join(seen) or "none"


def main():
    mode, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))  # 0: the kernel picks a free one
    ls.listen(16)
    print("listening %d" % ls.getsockname()[1], flush=True)
    end = time.time() + seconds
    out = []
    while time.time() < end:
        ls.settimeout(max(0.1, end - time.time()))
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            break
        conn.settimeout(5)
        try:
            out.append(serve(conn, mode))
        except (EOFError, OSError, ValueError, KeyError) as e:
            out.append("none (%s)" % type(e).__name__)
        conn.close()
    for line in out:
        print(line)


main()
