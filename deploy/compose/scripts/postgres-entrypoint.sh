#!/bin/bash
# Entrypoint of the Valerix PostgreSQL image (runs as postgres). On the first start it creates the cluster,
# the service's role and database and the exporters' role; on every start it renders pgbackrest.conf, writes
# the runtime settings and runs postgres in the foreground.
#   PGDATA                          data folder (on the database's named volume)
#   VALERIX_PG_PORT                 port (5432 order_db, 5433 inventory_db: distinct, their sockets share a folder)
#   VALERIX_PG_STANZA               pgBackRest stanza of this database (order | inventory)
#   VALERIX_DB_NAME / VALERIX_DB_USER   database and its owner role (order_db/order_svc, inventory_db/inventory_svc)
#   VALERIX_DB_PASSWORD_FILE        password of that role (compose secret)
#   VALERIX_POSTGRES_PASSWORD_FILE  password of the superuser postgres (TCP logins; local ones use peer auth)
#   VALERIX_MONITOR_PASSWORD_FILE   password of valerix_monitor (pg_monitor only; the exporters' role)
#   VALERIX_BACKUP_PASSPHRASE_FILE  pgBackRest repository passphrase (archive-push encrypts WAL)
set -euo pipefail

: "${PGDATA:?}" "${VALERIX_PG_PORT:?}" "${VALERIX_PG_STANZA:?}" "${VALERIX_DB_NAME:?}" "${VALERIX_DB_USER:?}"
: "${VALERIX_DB_PASSWORD_FILE:?}" "${VALERIX_POSTGRES_PASSWORD_FILE:?}" "${VALERIX_MONITOR_PASSWORD_FILE:?}"

secret() {
  if [[ ! -s $1 ]]; then echo "postgres-entrypoint: secret $1 is missing or empty" >&2; exit 2; fi
  tr -d '\r\n' <"$1"
}

/usr/local/bin/valerix-render-pgbackrest-conf

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  echo "postgres-entrypoint: creating the cluster in $PGDATA"
  install -d -m 0700 "$PGDATA"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  secret "$VALERIX_POSTGRES_PASSWORD_FILE" >"$tmp/pw"
  initdb -D "$PGDATA" -U postgres --pwfile="$tmp/pw" --auth-local=peer --auth-host=scram-sha-256 \
         -E UTF8 --locale=C.UTF-8
  rm -rf "$tmp"
  trap - EXIT
  printf '%s\n' "host all all 0.0.0.0/0 scram-sha-256" "host all all ::/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  printf "\n# Valerix: settings in valerix.conf.d/ (rewritten by the entrypoint on every start)\ninclude_dir = 'valerix.conf.d'\n" \
    >>"$PGDATA/postgresql.conf"
fi

install -d -m 0700 "$PGDATA/valerix.conf.d"
cp /etc/valerix/postgresql.valerix.conf "$PGDATA/valerix.conf.d/00-valerix.conf"
cat >"$PGDATA/valerix.conf.d/10-runtime.conf" <<CONF
cluster_name = 'valerix-$VALERIX_PG_STANZA'
port = $VALERIX_PG_PORT
archive_command = 'pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=$VALERIX_PG_STANZA archive-push %p'
CONF

# Roles and database (idempotent), on a private server: no TCP, its socket in a folder of its own, so the health
# check and the other containers see the database only once it is ready.
init_socket=$(mktemp -d)
pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories='$init_socket' -c archive_mode=off" \
       -w -t 120 start
psql_local() { psql -X -q -v ON_ERROR_STOP=1 -h "$init_socket" -p "$VALERIX_PG_PORT" -U postgres -d postgres "$@"; }
# The passwords reach psql through its environment (readable by this user only), not its command line, which `ps`
# shows every user of the host; \getenv (psql 15) turns them into variables.
(
  export VALERIX_INIT_PW VALERIX_INIT_MONPW VALERIX_INIT_SUPERPW
  VALERIX_INIT_PW=$(secret "$VALERIX_DB_PASSWORD_FILE")
  VALERIX_INIT_MONPW=$(secret "$VALERIX_MONITOR_PASSWORD_FILE")
  VALERIX_INIT_SUPERPW=$(secret "$VALERIX_POSTGRES_PASSWORD_FILE")
  psql_local -v role="$VALERIX_DB_USER" -v db="$VALERIX_DB_NAME" <<'SQL'
\getenv pw VALERIX_INIT_PW
\getenv monpw VALERIX_INIT_MONPW
\getenv superpw VALERIX_INIT_SUPERPW
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SELECT 'CREATE ROLE valerix_monitor LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'valerix_monitor') \gexec
ALTER ROLE valerix_monitor WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  CONNECTION LIMIT 5 PASSWORD :'monpw';
ALTER ROLE valerix_monitor SET statement_timeout = '10s';
GRANT pg_monitor TO valerix_monitor;
ALTER ROLE postgres PASSWORD :'superpw';
SQL
)
pg_ctl -D "$PGDATA" -m fast -w -t 120 stop
rmdir "$init_socket" 2>/dev/null || true

exec postgres -D "$PGDATA"
