"""pgwire.py -- the few pieces of PostgreSQL's v3 protocol the raw test
clients (auth_probe.py, big_parse.py, direct_tls.py, fake_server.py)
share."""
import base64
import hashlib
import hmac
import os
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


def scram_login(s, user, password, db):
    """Start up and log in with SCRAM-SHA-256 (no channel binding); returns
    at ReadyForQuery the (pid, key) of BackendKeyData, raises SystemExit on
    an ErrorResponse."""
    startup(s, user, db)
    typ, p = recv_msg(s)
    assert typ == b"R" and struct.unpack("!I", p[:4])[0] == 10, p
    nonce = base64.b64encode(os.urandom(18)).decode()
    bare = "n=,r=" + nonce
    first = ("n,," + bare).encode()
    send(s, b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first)
    typ, p = recv_msg(s)
    server_first = p[4:].decode()
    f = dict(kv.split("=", 1) for kv in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(f["s"]), int(f["i"]))
    ckey = hmac.new(salted, b"Client Key", "sha256").digest()
    without = "c=biws,r=" + f["r"]
    auth = ",".join((bare, server_first, without)).encode()
    sig = hmac.new(hashlib.sha256(ckey).digest(), auth, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(ckey, sig))
    send(s, b"p", (without + ",p=" + base64.b64encode(proof).decode()).encode())
    key = None
    while True:
        typ, p = recv_msg(s)
        if typ == b"E":
            raise SystemExit("login failed: %r" % p)
        if typ == b"K":
            key = struct.unpack("!II", p[:8])
        if typ == b"Z":
            return key


def cancel_request(s, pid, key):
    """A CancelRequest for (pid, key) on a new connection s."""
    s.sendall(struct.pack("!IIII", 16, 80877102, pid, key))


def query(s, sql):
    """A simple Query; returns (rows of the first column, sqlstate or None)
    at ReadyForQuery."""
    send(s, b"Q", sql.encode() + b"\0")
    rows, state = [], None
    while True:
        typ, p = recv_msg(s)
        if typ == b"D":
            n = struct.unpack("!I", p[2:6])[0]
            rows.append(p[6:6 + n].decode())
        elif typ == b"E":
            for f in p.split(b"\0"):
                if f[:1] == b"C":
                    state = f[1:].decode()
        elif typ == b"Z":
            return rows, state
