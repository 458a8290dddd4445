"""direct_tls.py PORT USER PASSWORD DB -- PostgreSQL 17's direct TLS
(sslnegotiation=direct) against pgperf: TLS from the first byte, no
SSLRequest.  With ALPN "postgresql" the login (SCRAM-SHA-256 over TLS)
completes and a query answers; without ALPN the server refuses, as
PostgreSQL 17 does.  Debian 12's libpq (15) cannot do this, hence a raw
client.  Prints one line per check; exits 1 on the first that fails."""
import socket
import ssl
import sys

from pgwire import recv_msg, scram_login, send, startup

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


# with ALPN: a whole login and a query
s = tls_socket(["postgresql"])
print("TLS %s, ALPN %s" % (s.version(), s.selected_alpn_protocol()))
assert s.selected_alpn_protocol() == "postgresql"
scram_login(s, user, password, db)
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
