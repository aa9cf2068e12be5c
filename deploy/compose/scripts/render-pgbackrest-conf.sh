#!/bin/sh
# Renders /etc/pgbackrest/pgbackrest.conf from its template and the backup passphrase secret.
#   VALERIX_BACKUP_PASSPHRASE_FILE  file holding the repository passphrase (default /run/secrets/backup_passphrase)
#   VALERIX_PGBACKREST_TEMPLATE     template (default /etc/pgbackrest/pgbackrest.conf.template)
#   VALERIX_BACKUP_PGBACKREST_CONFIG  output (default /etc/pgbackrest/pgbackrest.conf)
set -eu
secret=${VALERIX_BACKUP_PASSPHRASE_FILE:-/run/secrets/backup_passphrase}
template=${VALERIX_PGBACKREST_TEMPLATE:-/etc/pgbackrest/pgbackrest.conf.template}
out=${VALERIX_BACKUP_PGBACKREST_CONFIG:-/etc/pgbackrest/pgbackrest.conf}
if [ ! -s "$secret" ]; then
  echo "render-pgbackrest-conf: the backup passphrase secret $secret is missing or empty" >&2
  exit 2
fi
pass=$(tr -d '\r\n' <"$secret")
case $pass in
  *[!A-Za-z0-9+/=._-]*) echo "render-pgbackrest-conf: $secret may hold only [A-Za-z0-9+/=._-]" >&2; exit 2 ;;
esac
umask 027
PASS=$pass awk '{ gsub(/@REPO1_CIPHER_PASS@/, ENVIRON["PASS"]); print }' "$template" >"$out.tmp"
chmod 0640 "$out.tmp"
mv -f "$out.tmp" "$out"
