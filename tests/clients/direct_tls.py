"""direct_tls.py PORT USER PASSWORD DB -- PostgreSQL 17's direct TLS
(sslnegotiation=direct) against pgperf: TLS from the first byte, no
SSLRequest.  With ALPN "postgresql" the login (SCRAM-SHA-256 over TLS)
completes and a query answers; without ALPN the server refuses, as
PostgreSQL 17 does.  Debian 12's libpq (15) cannot do this, hence a raw
client.  Prints one line per check; exits 1 on the first that fails."""
import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
import sys

from pgwire import recv_msg, send, startup

port, user, password, db = int(sys.argv[1]), sys.argv[2], sys.argv[3], \
    sys.argv[4]


def tls_socket(alpn):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw)  # the handshake: ClientHello is byte one


def scram_login(s):
    """Answer pgperf's SCRAM-SHA-256 (no channel binding: 'n,,')."""
    typ, body = recv_msg(s)
    assert typ == b"R", (typ, body)
    code = struct.unpack("!I", body[:4])[0]
    if code == 0:
        return
    assert code == 10 and b"SCRAM-SHA-256\0" in body, body
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=,r=" + nonce
    msg = b"n,," + first_bare.encode()
    send(s, b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(msg)) + msg)
    typ, body = recv_msg(s)
    assert typ == b"R" and struct.unpack("!I", body[:4])[0] == 11, body
    server_first = body[4:].decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert attrs["r"].startswith(nonce)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(),
                                 base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(client_key).digest()
    final_bare = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join((first_bare, server_first, final_bare)).encode()
    sig = hmac.new(stored, auth_msg, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    send(s, b"p",
         (final_bare + ",p=" + base64.b64encode(proof).decode()).encode())
    typ, body = recv_msg(s)
    assert typ == b"R" and struct.unpack("!I", body[:4])[0] == 12, body
    typ, body = recv_msg(s)
    assert typ == b"R" and struct.unpack("!I", body[:4])[0] == 0, body


def until_ready(s):
    while True:
        typ, body = recv_msg(s)
        if typ == b"E":
            raise AssertionError("error: %r" % body)
        if typ == b"Z":
            return


# with ALPN: a whole login and a query
s = tls_socket(["postgresql"])
print("TLS %s, ALPN %s" % (s.version(), s.selected_alpn_protocol()))
assert s.selected_alpn_protocol() == "postgresql"
startup(s, user, db)
scram_login(s)
until_ready(s)
send(s, b"Q", b"select 'direct'\0")
rows = []
while True:
    typ, body = recv_msg(s)
    if typ == b"D":
        rows.append(body[6:].decode())
    if typ == b"Z":
        break
assert rows == ["direct"], rows
send(s, b"X", b"")
s.close()
print("direct TLS login and query: ok")

# without ALPN: refused with PostgreSQL's error, after the handshake
s = tls_socket(None)
startup(s, user, db)
try:
    typ, body = recv_msg(s)
except (EOFError, ConnectionError, ssl.SSLError):
    typ, body = b"", b""
assert typ == b"E" and b"ALPN" in body, (typ, body)
print("no ALPN: refused with an ErrorResponse naming ALPN")

# ALPN naming another protocol: the handshake itself fails
try:
    tls_socket(["http/1.1"])
    raise AssertionError("a TLS client of another protocol got in")
except ssl.SSLError as e:
    print("ALPN http/1.1: handshake refused (%s)" % e.reason)
print("ok")
