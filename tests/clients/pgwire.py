"""pgwire.py -- the few pieces of PostgreSQL's v3 protocol the raw test
clients (auth_probe.py, big_parse.py, fake_server.py) share."""
import struct


def recv_exact(s, n):
    """n bytes from socket s; EOFError when it closes first."""
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b


def recv_msg(s):
    """One message: (type byte, body)."""
    head = recv_exact(s, 5)
    return head[:1], recv_exact(s, struct.unpack("!I", head[1:])[0] - 4)


def send(s, typ, body):
    s.sendall(typ + struct.pack("!I", len(body) + 4) + body)


def startup(s, user, db):
    """The v3 StartupMessage for user and database."""
    body = struct.pack("!I", 196608)
    for k, v in (("user", user), ("database", db)):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    s.sendall(struct.pack("!I", len(body) + 4) + body)
