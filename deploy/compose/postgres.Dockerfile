# syntax=docker/dockerfile:1
# PostgreSQL 15 with pgBackRest 2.45 (Debian 12 packages, the versions the local stack uses). One image for
# both databases: the entrypoint (scripts/postgres-entrypoint.sh) is told by environment which database, role,
# port and pgBackRest stanza it serves. Build context: the repository root (see docker-compose.yml).
FROM debian:12

# The postgres user has a fixed uid/gid (999) in every Valerix image: backup-service reads the data volumes and
# connects over the shared socket volume as this same user (peer authentication), see README.md.
RUN groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --shell /bin/bash postgres \
 && install -d -m 0755 /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/valerix.conf \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postgresql-15 postgresql-client-15 pgbackrest ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 0750 /var/lib/pgbackrest /var/log/pgbackrest /var/spool/pgbackrest \
      /etc/pgbackrest /run/valerix-pg /tmp/pgbackrest /var/lib/postgresql/order /var/lib/postgresql/inventory

COPY deploy/compose/scripts/postgres-entrypoint.sh /usr/local/bin/valerix-postgres-entrypoint
COPY deploy/compose/scripts/render-pgbackrest-conf.sh /usr/local/bin/valerix-render-pgbackrest-conf
COPY deploy/compose/pgbackrest/pgbackrest.conf.template /etc/pgbackrest/pgbackrest.conf.template
COPY deploy/compose/postgres/valerix.conf /etc/valerix/postgresql.valerix.conf

ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    VALERIX_PG_PORT=5432 \
    LANG=C.UTF-8

USER postgres
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=5 \
  CMD pg_isready -q -h /run/valerix-pg -p "$VALERIX_PG_PORT" -U postgres || exit 1
ENTRYPOINT ["/usr/local/bin/valerix-postgres-entrypoint"]
