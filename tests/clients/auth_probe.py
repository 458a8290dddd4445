#!/usr/bin/env python3
"""auth_probe.py HOST PORT USER [DB [fail]] -- what a login attempt shows about a
user name before any password is sent: the method offered and, for SCRAM,
the salt and iteration count of the server-first-message.  Prints one line
"method=N salt=S iterations=I" (salt and iterations only for SASL).  Used
to check that unknown names look like known ones.  With "fail", a wrong
proof follows, so that pgperf logs a failed login for USER and DB."""
import base64
import os
import socket
import struct
import sys

from pgwire import recv_msg, startup


def main():
    host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    db = sys.argv[4] if len(sys.argv) > 4 else "appdb"
    s = socket.create_connection((host, port), timeout=10)
    startup(s, user, db)
    typ, payload = recv_msg(s)
    if typ != b"R":
        print("error=%r" % payload[:200])
        return
    method = struct.unpack("!I", payload[:4])[0]
    if method != 10:
        print("method=%d" % method)
        return
    nonce = base64.b64encode(os.urandom(18)).decode()
    first = ("n,,n=,r=" + nonce).encode()
    mech = b"SCRAM-SHA-256\0"
    msg = mech + struct.pack("!I", len(first)) + first
    s.sendall(b"p" + struct.pack("!I", len(msg) + 4) + msg)
    typ, payload = recv_msg(s)
    if typ != b"R" or struct.unpack("!I", payload[:4])[0] != 11:
        print("method=10 unexpected=%r" % payload[:200])
        return
    fields = dict(kv.split("=", 1) for kv in payload[4:].decode().split(","))
    print("method=10 salt=%s iterations=%s" % (fields["s"], fields["i"]))
    if len(sys.argv) > 5 and sys.argv[5] == "fail":
        final = "c=biws,r=%s,p=%s" % (fields["r"], base64.b64encode(bytes(32)).decode())
        s.sendall(b"p" + struct.pack("!I", len(final) + 4) + final.encode())
        typ, payload = recv_msg(s)
        print("answer=%s" % typ.decode())
    s.close()


main()
