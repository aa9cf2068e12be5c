#!/bin/sh
# Entrypoint of the order, inventory and web images: turns a database password secret into libpq's
# PGPASSWORD (VALERIX_DB_URL then needs no password in it), then runs the service in place of this shell.
#   VALERIX_DB_PASSWORD_FILE   optional: file holding the database password (a compose or Kubernetes secret)
set -eu
if [ -n "${VALERIX_DB_PASSWORD_FILE:-}" ]; then
  if [ ! -s "$VALERIX_DB_PASSWORD_FILE" ]; then
    echo "service-entrypoint: VALERIX_DB_PASSWORD_FILE=$VALERIX_DB_PASSWORD_FILE is missing or empty" >&2
    exit 2
  fi
  PGPASSWORD=$(tr -d '\r\n' <"$VALERIX_DB_PASSWORD_FILE")
  export PGPASSWORD
fi
exec "$@"
