#!/usr/bin/env bash
# test_security.sh -- what the security review (issue 18) asked to show:
#   - no secret (http_auth_token, the Redis password, a [databases]
#     password) is shown to a stats user or anyone else: SHOW CONFIG,
#     SHOW DATABASES, pgperf-ctl config, /report, /findings, the log;
#   - no literal value of a statement PostgreSQL's parser rejects reaches
#     SHOW QUERIES, /queries, /findings, /report or the state file;
#   - sockets that never log in lock no one out: at most
#     max_login_clients of them stay, and the admin console, a stats user
#     and an application still log in;
#   - a login attempt does not tell known user names from unknown ones:
#     same method, a salt that is the same at every try, same iterations;
#   - control characters in a user or database name or a statement do not
#     reach the log or pgperf-ctl's output as such (no fake log line, no
#     terminal escape sequence);
#   - files: verify-ca without client_tls_ca_file and a key file others
#     can read are refused; the pid file is locked and left to its owner;
#     the log file is 0640 whatever the umask; the state file's temporary
#     cannot be a planted symlink; the --upstream password leaves ps, and
#     PGPERF_UPSTREAM or --upstream-file can carry it instead;
#   - a fake server cannot get pgperf's server password: not by asking for
#     it in cleartext after refusing TLS, not by ending SCRAM without the
#     server signature;
#   - index advice plans a statement only as the role that sent it, and
#     only a plain read: with role "reader" (who may not read sec_t) the
#     last to log in, app's statements on sec_t are never EXPLAINed on
#     reader's connection (the server logs reader's statements), and a
#     DELETE's suggestion says it was not planned;
#   - the HTTP endpoint is bounded: a Host that is a foreign name gets 421
#     (DNS rebinding), oversized headers are refused, an idle connection
#     is closed after http_timeout, and beyond http_max_connections a new
#     connection gets 503;
#   - a client cannot make pgperf hold unbounded memory: a 512 MB named
#     Parse in transaction mode is refused (54000) as it arrives, with
#     pgperf's peak RSS growing by less than 64 MB, and named statements
#     per session stop at max_client_prepared_statements; the session
#     goes on;
#   - databases reached through "*" are bounded: no servers opened ahead
#     of use, at most autodb_max_pools in use (the next gets 53300), and
#     an unused one freed after autodb_idle_timeout.
# Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
itest_init security 26000 "pool_mode = transaction
admin_users = app
stats_users = stats
http_auth_token = tok-SECRET-4711
cache_mode = rules
cache_rules = table:nothing=60
redis_url = redis//:redispw-SECRET@127.0.0.1:1/0"
printf '"stats" "stats-pw"\n"reader" "reader-pw"\n' >>"$dir/users.txt"
# a user whose secret is an md5 hash (of "md5-pw" salted with the name)
printf '"md5only" "md5%s"\n' "$(printf 'md5-pwmd5only' | md5sum | cut -c1-32)" >>"$dir/users.txt"
# a database whose server password is in the config
sed -i "s|^appdb = .*|&\nsecretdb = host=127.0.0.1 port=$PG_PORT dbname=appdb user=app password=dbpw-SECRET|" "$dir/pgperf.ini"
echo "state_file = $dir/state.bin" >>"$dir/pgperf.ini"
itest_http
printf 'max_client_prepared_statements = 50\n' >>"$dir/pgperf.ini"
printf 'http_timeout = 2\nhttp_max_connections = 4\nhttp_allowed_hosts = metrics.internal\n' >>"$dir/pgperf.ini"
start_pgperf "$dir/pgperf.log"

export PGPASSWORD=app-secret
clients="$(cd "$(dirname "$0")/../clients" && pwd)"
url="host=127.0.0.1 port=$port user=app dbname=appdb"
stats="host=127.0.0.1 port=$port user=stats password=stats-pw dbname=pgperf"
ctl="$PGPERF_CTL -h 127.0.0.1 -p $port -U stats"
admin="host=127.0.0.1 port=$port user=app dbname=pgperf"
export pid url stats ctl dir http_port port PGPERF_BIN clients TLS_CERT TLS_KEY PG_PORT PG_DIR ROOT_DIR admin

secrets_hidden() {
	local out="$dir/shown.txt"
	: >"$out"
	psql -X -At "$stats" -c "SHOW CONFIG" >>"$out" || return 1
	psql -X -At "$stats" -c "SHOW DATABASES" >>"$out" || return 1
	PGPASSWORD=stats-pw $ctl config >>"$out" 2>&1 || return 1
	for p in report findings queries metrics; do
		curl -sf -H "Authorization: Bearer tok-SECRET-4711" "http://127.0.0.1:$http_port/$p" >>"$out" || return 1
	done
	grep -q "http_auth_token" "$out" || { echo "SHOW CONFIG lists no http_auth_token"; return 1; }
	if grep -n "SECRET" "$out" "$dir/pgperf.log"; then
		return 1
	fi
	echo "SHOW CONFIG, SHOW DATABASES, pgperf-ctl config, HTTP and the log: no secret"
}
literals_masked() {
	# statements the parser rejects, carrying personal data
	psql -X -q "$url" -c "selec name from people where email = 'jane.doe@example.com'" 2>/dev/null
	psql -X -q "$url" -c "select * frm people where ssn = '078-05-1120' and card = 4111111111111111" 2>/dev/null
	# (SHOW QUERIES and the HTTP reads wait for the analyzer themselves)
	local out="$dir/exports.txt"
	psql -X -At "host=127.0.0.1 port=$port user=app dbname=pgperf" -c "SHOW QUERIES" >"$out" || return 1
	for p in queries findings report; do
		curl -sf -H "Authorization: Bearer tok-SECRET-4711" "http://127.0.0.1:$http_port/$p" >>"$out" || return 1
	done
	grep -q "selec name from people" "$out" || { echo "the statement is not listed at all"; return 1; }
	if grep -n "jane.doe\|078-05-1120\|4111111111111111" "$out"; then
		return 1
	fi
	grep "selec name from people" "$out" | head -1
}
state_file_masked() {
	# the state file is written at exit: checked after stop_pgperf
	[ -f "$dir/state.bin" ] || { echo "no state file"; return 1; }
	if grep -a -c "jane.doe\|078-05-1120\|4111111111111111" "$dir/state.bin"; then
		return 1
	fi
	echo "state file: no literal of a rejected statement"
}
idle_sockets() {
	# a second pgperf with small limits: max_client_conn 20, 50 sockets
	# logging in at most; 2000 sockets that never send a byte
	local p2 pid2 rc=0
	p2=$((port + 11))
	while (exec 3<>"/dev/tcp/127.0.0.1/$p2") 2>/dev/null; do p2=$((p2 + 1)); done
	sed -e "s/^listen_port = .*/listen_port = $p2/" -e "/^http_listen_port/d" \
		-e "/^state_file/d" "$dir/pgperf.ini" >"$dir/small.ini"
	printf 'max_client_conn = 20\nmax_login_clients = 50\nclient_login_timeout = 60\n' >>"$dir/small.ini"
	"$PGPERF_BIN" "$dir/small.ini" >"$dir/small.log" 2>&1 &
	pid2=$!
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$p2") 2>/dev/null && break; sleep 0.05; done
	python3 - "$p2" <<'PY' || rc=1
import resource, socket, subprocess, sys, time
port = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 2000
if hard != resource.RLIM_INFINITY and hard < want + 64:
    want = hard - 64
resource.setrlimit(resource.RLIMIT_NOFILE, (want + 64, hard))
idle = []
for _ in range(want):
    s = socket.create_connection(("127.0.0.1", port))
    idle.append(s)
time.sleep(0.5)
env = {"PGPASSWORD": "app-secret", "PATH": "/usr/bin:/bin"}
ok = True
for user, db in (("app", "pgperf"), ("app", "appdb"), ("stats", "pgperf")):
    if user == "stats":
        env["PGPASSWORD"] = "stats-pw"
    r = subprocess.run(["psql", "-X", "-At", "-c", "SHOW VERSION" if db == "pgperf" else "select 42",
                        "host=127.0.0.1 port=%d user=%s dbname=%s" % (port, user, db)],
                       env=env, capture_output=True, text=True, timeout=20)
    print("%s/%s: %s" % (user, db, (r.stdout.strip() or r.stderr.strip()).splitlines()[0:1]))
    ok = ok and r.returncode == 0
open_now = 0
for s in idle:
    # a closed one may still hold the error it was sent: read to the end
    s.setblocking(False)
    try:
        while s.recv(4096):
            pass
    except BlockingIOError:
        open_now += 1
    except OSError:
        pass
print("idle sockets still open: %d of %d" % (open_now, want))
sys.exit(0 if ok and open_now <= 50 else 1)
PY
	kill -INT "$pid2"
	wait "$pid2" || rc=1
	return $rc
}
names_hidden() {
	local probe="$clients/auth_probe.py" out="$dir/probe.txt" u
	: >"$out"
	for u in app md5only nosuch-1 nosuch-2 app md5only nosuch-1 nosuch-2; do
		echo "$u $(python3 "$probe" 127.0.0.1 "$port" "$u")" >>"$out"
	done
	cat "$out"
	# one method and one iteration count for all; each name's salt the
	# same both times; no two names share a salt
	[ "$(awk '{print $2, $4}' "$out" | sort -u | wc -l)" = 1 ] || return 1
	grep -q "method=10 salt=" "$out" || return 1
	[ "$(sort -u "$out" | wc -l)" = 4 ] || return 1
	[ "$(awk '{print $3}' "$out" | sort -u | wc -l)" = 4 ] || return 1
}
controls_escaped() {
	local probe="$clients/auth_probe.py" esc=$'\e' out="$dir/ctl.txt"
	python3 "$probe" 127.0.0.1 "$port" \
		$'evil\n2026-01-01 00:00:00.000 UTC [1] LOG FAKE-LINE\e]0;owned\a' \
		$'appdb\nFAKE-DB' fail || return 1
	psql -X -q "$url" -c $'with "col\e[2J\e]0;owned\a" as (select 1) select * from "col\e[2J\e]0;owned\a"' >/dev/null || return 1
	PGPASSWORD=stats-pw $ctl queries --limit 1000 >"$out" || return 1
	grep -c "col" "$out"
	grep -q "col" "$out" || { echo "statement not listed"; return 1; }
	if grep -q "$esc\|"$'\a' "$out" "$dir/pgperf.log"; then
		echo "a control character reached the log or pgperf-ctl"
		return 1
	fi
	if grep -q "^FAKE\|^2026-01-01" "$dir/pgperf.log"; then
		echo "a forged log line"
		return 1
	fi
	grep -q 'evil\\x0a2026-01-01' "$dir/pgperf.log" || { echo "the failed login is not logged, escaped"; return 1; }
}
free_port() { # from
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}
wait_port() { # port
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
	return 1
}
files_guarded() {
	local p2 p3 pid2 pid3 out f="$dir/files"
	mkdir -p "$f"
	cp "$TLS_CERT" "$f/cert.pem"
	cp "$TLS_KEY" "$f/key.pem"
	chmod 600 "$f/key.pem"
	sed -e "/^http_listen_port/d" -e "/^state_file/d" -e "/^redis_url/d" \
		-e "/^cache_/d" -e "s|^auth_file = .*|auth_file = $dir/users.txt|" \
		"$dir/pgperf.ini" >"$f/base.ini"
	# verify-ca with no CA to verify against
	{ cat "$f/base.ini"
	  printf 'client_tls_sslmode = verify-ca\nclient_tls_cert_file = %s\nclient_tls_key_file = %s\n' "$f/cert.pem" "$f/key.pem"; } >"$f/verify.ini"
	out=$("$PGPERF_BIN" -t "$f/verify.ini" 2>&1) && { echo "verify-ca without a CA accepted"; return 1; }
	echo "$out" | grep -q "needs client_tls_ca_file" || { echo "$out"; return 1; }
	# a key file others can read
	sed "s/verify-ca/require/" "$f/verify.ini" >"$f/key.ini"
	"$PGPERF_BIN" -t "$f/key.ini" >/dev/null 2>&1 || { echo "a 0600 key refused"; return 1; }
	chmod 644 "$f/key.pem"
	out=$("$PGPERF_BIN" -t "$f/key.ini" 2>&1) && { echo "a 0644 key accepted"; return 1; }
	echo "$out" | grep -q "group or world access" || { echo "$out"; return 1; }
	# pid file, log file mode, state file temporary
	p2=$(free_port $((port + 30)))
	echo keep >"$f/victim"
	ln -s "$f/victim" "$f/state.bin.tmp"
	{ sed "s/^listen_port = .*/listen_port = $p2/" "$f/base.ini"
	  printf 'pidfile = %s\nlogfile = %s\nstate_file = %s\n' "$f/pgperf.pid" "$f/pgperf.log" "$f/state.bin"; } >"$f/two.ini"
	(umask 000; exec "$PGPERF_BIN" "$f/two.ini") &
	pid2=$!
	wait_port "$p2" || return 1
	[ "$(stat -c %a "$f/pgperf.log")" = 640 ] || { echo "log file mode $(stat -c %a "$f/pgperf.log")"; kill -INT $pid2; return 1; }
	p3=$(free_port $((p2 + 1)))
	sed "s/^listen_port = .*/listen_port = $p3/" "$f/two.ini" >"$f/three.ini"
	"$PGPERF_BIN" "$f/three.ini" >"$f/three.out" 2>&1 &
	pid3=$!
	if ! wait_for 10 bash -c "! kill -0 $pid3 2>/dev/null"; then
		echo "a second pgperf started on a held pid file"
		kill -INT $pid3 $pid2
		return 1
	fi
	grep -q "held by another pgperf (pid $pid2)" "$f/pgperf.log" || { tail -3 "$f/pgperf.log"; kill -INT $pid2; return 1; }
	[ "$(cat "$f/pgperf.pid")" = "$pid2" ] || { echo "pid file taken: $(cat "$f/pgperf.pid")"; kill -INT $pid2; return 1; }
	psql -X -q "host=127.0.0.1 port=$p2 user=app dbname=appdb" -c "select 1" >/dev/null || { kill -INT $pid2; return 1; }
	kill -INT $pid2
	wait $pid2 || return 1
	[ ! -e "$f/pgperf.pid" ] || { echo "pid file left behind"; return 1; }
	[ "$(cat "$f/victim")" = keep ] || { echo "the state save wrote through a symlink"; return 1; }
	[ -s "$f/state.bin" ] || { echo "no state file saved"; return 1; }
	# the upstream password: out of ps, or never in it
	p3=$(free_port $((p3 + 1)))
	"$PGPERF_BIN" --upstream "postgresql://app:app-secret@127.0.0.1:$PG_PORT/appdb" \
		--listen "127.0.0.1:$p3" >"$f/up.log" 2>&1 &
	pid3=$!
	wait_port "$p3" || return 1
	if tr '\0' ' ' <"/proc/$pid3/cmdline" | grep -q app-secret; then
		echo "the password is in ps: $(tr '\0' ' ' <"/proc/$pid3/cmdline")"
		kill -INT $pid3
		return 1
	fi
	psql -X -q "host=127.0.0.1 port=$p3 user=app dbname=appdb" -c "select 1" >/dev/null || { kill -INT $pid3; return 1; }
	kill -INT $pid3
	wait $pid3 || return 1
	PGPERF_UPSTREAM="postgresql://app:app-secret@127.0.0.1:$PG_PORT/appdb" \
		"$PGPERF_BIN" --listen "127.0.0.1:$p3" >"$f/up2.log" 2>&1 &
	pid3=$!
	wait_port "$p3" || return 1
	psql -X -q "host=127.0.0.1 port=$p3 user=app dbname=appdb" -c "select 1" >/dev/null || { kill -INT $pid3; return 1; }
	kill -INT $pid3
	wait $pid3 || return 1
	echo "postgresql://app:app-secret@127.0.0.1:$PG_PORT/appdb" >"$f/upstream.url"
	"$PGPERF_BIN" --upstream-file "$f/upstream.url" --listen "127.0.0.1:$p3" >"$f/up3.log" 2>&1 &
	pid3=$!
	wait_port "$p3" || return 1
	psql -X -q "host=127.0.0.1 port=$p3 user=app dbname=appdb" -c "select 1" >/dev/null || { kill -INT $pid3; return 1; }
	kill -INT $pid3
	wait $pid3 || return 1
	echo "files: checked"
}
impostor() { # mode
	local f="$dir/fake-$1" fp pp pidf pidp out rc=0
	mkdir -p "$f"
	# the impostor takes a port the kernel gives it: no race with
	# outgoing connections' ports
	python3 "$clients/fake_server.py" "$1" 0 4 >"$f/fake.out" &
	pidf=$!
	for _ in $(seq 50); do grep -q listening "$f/fake.out" && break; sleep 0.1; done
	fp=$(awk '/^listening/ {print $2}' "$f/fake.out")
	pp=$(free_port $((port + 40)))
	cat >"$f/pgperf.ini" <<INI
[databases]
fakedb = host=127.0.0.1 port=$fp dbname=x user=app password=app-secret
[pgperf]
listen_addr = 127.0.0.1
listen_port = $pp
auth_file = $dir/users.txt
min_pool_size = 0
INI
	"$PGPERF_BIN" "$f/pgperf.ini" >"$f/pgperf.log" 2>&1 &
	pidp=$!
	wait_port "$pp" || rc=1
	out=$(psql -X -At "host=127.0.0.1 port=$pp user=app dbname=fakedb connect_timeout=5" -c "select 1" 2>&1)
	echo "client: $out"
	wait $pidf
	kill -INT $pidp
	wait $pidp || rc=1
	echo "fake server: $(tr '\n' ' ' <"$f/fake.out")"
	grep -h "login failed" "$f/pgperf.log" | head -1
	# the exchange took place, and went no further than it should
	case $1 in
	cleartext)
		grep -q "^none" "$f/fake.out" && ! grep -q password "$f/fake.out" &&
			echo "$out" | grep -q "cleartext password" || rc=1 ;;
	scram-skip)
		grep -q "^password" "$f/fake.out" && ! grep -q query "$f/fake.out" &&
			echo "$out" | grep -q "without proving" || rc=1 ;;
	esac
	echo "$out" | grep -q "fake server" && rc=1
	return $rc
}
advice_as_sender() {
	local pglog="$PG_DIR/postgres.log" from json="$dir/advice.json"
	"$ROOT_DIR/scripts/throwaway-pg.sh" psql "$PG_DIR" -q \
		-c "do \$\$ begin if not exists (select from pg_roles where rolname = 'reader') then create role reader login password 'reader-pw'; end if; end \$\$" \
		-c "alter role reader set log_statement = 'all'" \
		-c "alter role app set log_statement = 'all'" \
		-c "alter system set log_line_prefix = '%m [%p] user=%u '" \
		-c "select pg_reload_conf()" \
		-c "grant connect on database appdb to reader" >/dev/null || return 1
	psql -X -q -v ON_ERROR_STOP=1 "$url" <<'SQL' || return 1
drop table if exists sec_t, sec_d;
create table sec_t(id int, v int);
insert into sec_t select g, g % 50000 from generate_series(1, 120000) g;
create table sec_d(id int, w int);
insert into sec_d select g, g % 50000 from generate_series(1, 120000) g;
analyze sec_t, sec_d;
SQL
	from=$(stat -c %s "$pglog")
	psql -X -q "$admin" -c "RESET STATS" >/dev/null
	for i in $(seq 25); do echo "select id from sec_t where v = $((i * 7));"; done |
		psql -X -q -o /dev/null "$url" || return 1
	for i in $(seq 25); do echo "delete from sec_d where w = $((i * 7));"; done |
		psql -X -q -o /dev/null "$url" || return 1
	# reader logs in last, and its own statements are logged
	PGPASSWORD=reader-pw psql -X -q -o /dev/null \
		"host=127.0.0.1 port=$port user=reader dbname=appdb" -c "select 1" || return 1
	for _ in $(seq 60); do
		PGPASSWORD=stats-pw $ctl findings --json >"$json" 2>/dev/null
		grep -q '"table":"sec_t"' "$json" && grep -q '"table":"sec_d"' "$json" && break
		sleep 0.5
	done
	python3 - "$json" <<'PY' || return 1
import json, sys
doc = json.load(open(sys.argv[1]))
ix = {f["table"]: f for f in doc["findings"] if f["kind"] == "missing_index"}
print({t: (f["verified"], f["evidence"].get("not_planned", "")[:30]) for t, f in ix.items()})
assert "sec_t" in ix and "sec_d" in ix, "no suggestion for sec_t and sec_d"
assert "not_planned" not in ix["sec_t"]["evidence"], "a plain read was not planned"
assert ix["sec_d"]["verified"] is False and "not_planned" in ix["sec_d"]["evidence"], "the DELETE was planned"
PY
	tail -c +"$from" "$pglog" | grep -i "explain" | grep "sec_t\|sec_d" >"$dir/explained.txt"
	"$ROOT_DIR/scripts/throwaway-pg.sh" psql "$PG_DIR" -q \
		-c "alter role reader reset log_statement" -c "alter role app reset log_statement" \
		-c "alter system reset log_line_prefix" -c "select pg_reload_conf()" >/dev/null
	echo "EXPLAINs: $(grep -c . "$dir/explained.txt"), as app: $(grep -c "user=app " "$dir/explained.txt")"
	if grep -q "user=reader" "$dir/explained.txt"; then
		echo "app's statement planned on reader's connection:"
		grep "user=reader" "$dir/explained.txt" | head -2
		return 1
	fi
	if grep -qi "delete" "$dir/explained.txt"; then
		echo "a DELETE was planned:"
		grep -i "delete" "$dir/explained.txt" | head -2
		return 1
	fi
	grep -q "user=app .*sec_t" "$dir/explained.txt" || { echo "app's read was not planned as app"; return 1; }
}
http_bounded() {
	python3 - "$http_port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def request(host, extra="", sock=None):
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=5)
    hdr = "Host: %s\r\n" % host if host else ""
    s.sendall(("GET /healthz HTTP/1.1\r\n%s%s\r\n" % (hdr, extra)).encode())
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    status = data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "closed"
    return s, status
ok = True
def expect(what, got, want):
    global ok
    print("%s: %s" % (what, got))
    if got != want:
        print("   want %s" % want)
        ok = False
for host, want in (("127.0.0.1:%d" % port, "200"), ("localhost:%d" % port, "200"),
                   ("metrics.internal:%d" % port, "200"), ("[::1]:%d" % port, "200"),
                   ("attacker.example:%d" % port, "421"), ("127.0.0.1.nip.io", "421")):
    s, st = request(host)
    s.close()
    expect("Host " + host, st, want)
s, st = request("127.0.0.1", "X-Big: " + "a" * 20000 + "\r\n")
s.close()
expect("20 kB of headers", "refused" if st != "200" else st, "refused")
# an idle connection is closed after http_timeout (2 s)
s = socket.create_connection(("127.0.0.1", port), timeout=8)
t0 = time.time()
try:
    gone = s.recv(1) == b""
except OSError:
    gone = True
expect("idle connection closed", "after %.0f s" % (time.time() - t0) if gone and time.time() - t0 < 6 else "no", "after 2 s")
s.close()
# four keep-alive connections with a request each; the fifth gets 503
held = []
for i in range(4):
    c, st = request("127.0.0.1")
    held.append(c)
c, st = request("127.0.0.1")
c.close()
expect("fifth connection", st, "503")
for c in held:
    c.close()
time.sleep(0.3)
c, st = request("127.0.0.1")
c.close()
expect("after they closed", st, "200")
sys.exit(0 if ok else 1)
PY
}
memory_bounded() {
	local before after out asan=no
	grep -q __asan_init <(nm -D "$PGPERF_BIN" 2>/dev/null) && asan=yes
	before=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
	out=$(python3 "$clients/big_parse.py" 127.0.0.1 "$port" app app-secret appdb 512 60) || return 1
	after=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
	echo "$out; RSS before ${before} kB, peak after ${after} kB (ASan: $asan)"
	[ "$out" = "big=54000 many=54000@51 alive=yes" ] || return 1
	# ASan keeps freed memory in quarantine: the bound holds for real builds
	[ $asan = yes ] || [ $((after - before)) -lt 65536 ] || { echo "peak RSS grew by $((after - before)) kB"; return 1; }
}
autodb_bounded() {
	local f="$dir/autodb" ap pidp held=() rc=0 out
	mkdir -p "$f"
	ap=$(free_port $((port + 50)))
	"$ROOT_DIR/scripts/throwaway-pg.sh" psql "$PG_DIR" -q \
		-c "drop database if exists autodb3" -c "create database autodb3 owner app" >/dev/null || return 1
	cat >"$f/pgperf.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PG_PORT
[pgperf]
listen_addr = 127.0.0.1
listen_port = $ap
auth_file = $dir/users.txt
server_tls_sslmode = disable
pool_mode = transaction
admin_users = app
min_pool_size = 5
autodb_max_pools = 3
autodb_idle_timeout = 2
INI
	"$PGPERF_BIN" "$f/pgperf.ini" >"$f/pgperf.log" 2>&1 &
	pidp=$!
	wait_port "$ap" || return 1
	# three sessions held open on three names through "*"
	for db in appdb postgres autodb3; do
		coproc_out="$f/$db.out"
		{ echo "select 1;"; sleep 4; } | psql -X -q -At "host=127.0.0.1 port=$ap user=app dbname=$db" >"$coproc_out" 2>&1 &
		held+=($!)
	done
	sessions_up() { grep -qx 1 "$f/appdb.out" && grep -qx 1 "$f/postgres.out" && grep -qx 1 "$f/autodb3.out"; }
	wait_for 10 sessions_up || { echo "the three sessions did not start"; rc=1; }
	out=$(psql -X -At "host=127.0.0.1 port=$ap user=app dbname=template1" -c "select 1" 2>&1)
	echo "a fourth name: $out"
	echo "$out" | grep -q "too many databases in use" || rc=1
	# no server connections beyond the three sessions' own
	out=$("$ROOT_DIR/scripts/throwaway-pg.sh" psql "$PG_DIR" -At -c "select count(*) from pg_stat_activity where usename = 'app' and application_name <> 'pgperf analyzer' and datname in ('postgres', 'autodb3')")
	echo "server connections to postgres and autodb3: $out (min_pool_size 5 would give 10)"
	[ "$out" -le 2 ] || rc=1
	wait "${held[@]}"
	# unused for 2 s: freed, and a new name gets a pool again
	for _ in $(seq 50); do
		[ "$(grep -c "unused for autodb_idle_timeout" "$f/pgperf.log")" = 3 ] && break
		sleep 0.2
	done
	grep -c "unused for autodb_idle_timeout" "$f/pgperf.log"
	[ "$(grep -c "unused for autodb_idle_timeout" "$f/pgperf.log")" = 3 ] || rc=1
	psql -X -q -At "host=127.0.0.1 port=$ap user=app dbname=template1" -c "select 1" >/dev/null 2>&1 || rc=1
	for _ in $(seq 25); do # freed once their servers are gone
		out=$(psql -X -At "host=127.0.0.1 port=$ap user=app dbname=pgperf" -c "SHOW POOLS" | cut -d'|' -f1 | sort -u | tr '\n' ' ')
		[ "$out" = "template1 " ] && break
		sleep 0.2
	done
	echo "pools now: $out"
	[ "$out" = "template1 " ] || rc=1
	kill -INT $pidp
	wait $pidp || rc=1
	"$ROOT_DIR/scripts/throwaway-pg.sh" psql "$PG_DIR" -q -c "drop database if exists autodb3" >/dev/null
	return $rc
}
export -f secrets_hidden literals_masked state_file_masked idle_sockets names_hidden controls_escaped files_guarded free_port wait_port impostor advice_as_sender http_bounded memory_bounded autodb_bounded
CHECK_SHOW_LAST=1 check "a 512 MB Parse and 60 named statements leave memory bounded" memory_bounded
CHECK_SHOW_LAST=1 check "no secret shown to a stats user, over HTTP or in the log" secrets_hidden
CHECK_SHOW_LAST=1 check "a statement the parser rejects is listed without its literals" literals_masked
CHECK_SHOW_LAST=1 check "2000 sockets that never log in lock no one out" idle_sockets
check "a login attempt does not tell which user names exist" names_hidden
CHECK_SHOW_LAST=1 check "control characters reach neither the log nor pgperf-ctl" controls_escaped
CHECK_SHOW_LAST=1 check "a server that refuses TLS and asks for a cleartext password does not get it" impostor cleartext
CHECK_SHOW_LAST=1 check "a server that skips SCRAM's signature is not trusted" impostor scram-skip
CHECK_SHOW_LAST=1 check "index advice plans only plain reads, as the role that sent them" advice_as_sender
CHECK_SHOW_LAST=1 check "the HTTP endpoint checks Host and bounds headers, idle time and connections" http_bounded
CHECK_SHOW_LAST=1 check "databases through \"*\" are bounded in number, servers and lifetime" autodb_bounded
CHECK_SHOW_LAST=1 check "TLS settings, key, pid, log and state files, the upstream password" files_guarded
stop_pgperf
CHECK_SHOW_LAST=1 check "the state file keeps no literal of it either" state_file_masked
itest_summary
