#!/usr/bin/env bash
# fixture.sh -- the integration tests' PostgreSQL: a throwaway cluster on a
# free loopback port, with TLS on, scram-sha-256 for most roles and md5 for
# one, and the roles and database the tests use.  ctest runs "setup" before
# and "teardown" after the integration tests (a FIXTURES_SETUP pair).
#
#   fixture.sh setup BUILD_DIR     writes BUILD_DIR/itest/env
#   fixture.sh teardown BUILD_DIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cmd=${1:?setup or teardown}
build=${2:?build dir}
dir="$build/itest"
pgdir="$dir/pg"

case "$cmd" in
setup)
	"$root/scripts/throwaway-pg.sh" stop "$pgdir" 2>/dev/null || true
	rm -rf "$dir"
	mkdir -p "$dir/tls"
	# a self-signed certificate for both PostgreSQL and pgperf
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" 2>/dev/null
	chmod 600 "$dir/tls/key.pem"
	# a client certificate signed by it, for client_tls_sslmode = verify-ca
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=app" \
		-keyout "$dir/tls/client.key" -out "$dir/tls/client.csr" 2>/dev/null
	openssl x509 -req -in "$dir/tls/client.csr" -CA "$dir/tls/cert.pem" \
		-CAkey "$dir/tls/key.pem" -CAcreateserial -days 2 \
		-out "$dir/tls/client.crt" 2>/dev/null
	chmod 600 "$dir/tls/client.key"
	# pick a free port
	port=""
	# below the ephemeral range (32768+), where outgoing connections take ports
	for p in $(seq 25500 25700); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			port=$p
			break
		fi
	done
	[ -n "$port" ] || { echo "fixture: no free port" >&2; exit 1; }
	mkdir -p "$pgdir"
	[ "$(id -u)" = 0 ] && chown postgres: "$pgdir"
	# initdb and first start, then add TLS and md5 rules and restart
	"$root/scripts/throwaway-pg.sh" start "$pgdir" "$port"
	"$root/scripts/throwaway-pg.sh" stop "$pgdir"
	cp "$dir/tls/cert.pem" "$dir/tls/key.pem" "$pgdir/data/"
	[ "$(id -u)" = 0 ] && chown postgres: "$pgdir/data/cert.pem" "$pgdir/data/key.pem"
	cat >>"$pgdir/data/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = 'cert.pem'
ssl_key_file = 'key.pem'
CONF
	hba="$pgdir/data/pg_hba.conf"
	{ echo "host all md5user 127.0.0.1/32 md5"; cat "$hba"; } >"$hba.new"
	mv "$hba.new" "$hba"
	[ "$(id -u)" = 0 ] && chown postgres: "$hba"
	"$root/scripts/throwaway-pg.sh" start "$pgdir" "$port"
	"$root/scripts/throwaway-pg.sh" psql "$pgdir" \
		-c "create role app login password 'app-secret'" \
		-c "create role prepuser login password E'\\xef\\xac\\x81le'" \
		-c "set password_encryption = 'md5'" \
		-c "create role md5user login password 'md5-secret'" \
		-c "create database appdb owner app" \
		-c "grant all on database appdb to md5user"
	# hypothetical indexes for index advice (Debian's postgresql-15-hypopg)
	"$root/scripts/throwaway-pg.sh" psql "$pgdir" -c '\connect appdb' \
		-c "create extension if not exists hypopg" ||
		echo "fixture: no hypopg; index advice stays unverified"
	cat >"$dir/env" <<ENV
PG_PORT=$port
PG_DIR=$pgdir
TLS_CERT=$dir/tls/cert.pem
TLS_KEY=$dir/tls/key.pem
WORK_DIR=$dir
PGPERF_BIN=$build/pgperf
PGPERF_CTL=$build/pgperf-ctl
ROOT_DIR=$root
ENV
	echo "fixture: PostgreSQL on 127.0.0.1:$port"
	;;
teardown)
	"$root/scripts/throwaway-pg.sh" stop "$pgdir" || true
	;;
*)
	echo "usage: $0 setup|teardown BUILD_DIR" >&2
	exit 2
	;;
esac
