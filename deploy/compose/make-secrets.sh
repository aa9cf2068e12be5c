#!/bin/sh
# Creates the secrets of the compose deployment, once: one random value per file in DIR (default ./secrets
# beside this script; docker-compose reads VALERIX_SECRETS_DIR for another folder). Existing files are kept.
# The folder is 0700; the files are 0644 because compose (without swarm) bind-mounts them as they are and the
# services read them as non-root users (valerix, postgres) inside their containers.
set -eu
dir=${1:-${VALERIX_SECRETS_DIR:-$(dirname "$0")/secrets}}
mkdir -p "$dir"
chmod 0700 "$dir"
for name in admin_token postgres_password order_db_password inventory_db_password monitor_db_password \
            backup_passphrase grafana_admin_password; do
  if [ ! -s "$dir/$name" ]; then
    head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c1-32 >"$dir/$name"
    echo "generated $dir/$name"
  fi
  chmod 0644 "$dir/$name"
done
