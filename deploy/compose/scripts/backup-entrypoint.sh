#!/bin/bash
# Entrypoint of the backup-service image (runs as postgres): renders pgbackrest.conf from its template and
# the backup passphrase secret, makes sure every stanza of it exists in the repository (stanza-create is
# idempotent; a failure is logged and left to backup-service's /health to report), then runs the service.
set -euo pipefail
/usr/local/bin/valerix-render-pgbackrest-conf
conf=${VALERIX_BACKUP_PGBACKREST_CONFIG:-/etc/pgbackrest/pgbackrest.conf}
for stanza in $(sed -n 's/^\[\([A-Za-z0-9_-]*\)\]$/\1/p' "$conf" | grep -vx global); do
  if ! pgbackrest --config="$conf" --stanza="$stanza" stanza-create; then
    echo "backup-entrypoint: stanza-create $stanza failed; backup-service reports it" >&2
  fi
done
exec "$@"
