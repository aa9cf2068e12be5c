# syntax=docker/dockerfile:1
# backup-service image (port 3003): drives pgBackRest 2.45 for both databases; runs as postgres.
# Multi-stage: a Debian 12 build stage with the build packages of ./valerix (cmake + Ninja, Boost 1.81, libpq),
# then a slim Debian 12 runtime with only the shared libraries, a non-root user and a health check.
# Build context: the repository root (docker-compose.yml sets it); nothing secret is copied in.
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libboost1.81-all-dev libboost-url1.81-dev libboost-json1.81-dev \
      libpq-dev zlib1g-dev libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY libs/ libs/
COPY services/ services/
COPY tests/ tests/
COPY tools/ tools/
COPY scenarios/ scenarios/
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVALERIX_BUILD_BENCH=OFF \
 && cmake --build build --target valerix-backup \
 && strip --strip-debug build/services/backup/valerix-backup

FROM debian:12-slim
# postgres with the same fixed uid/gid (999) as in postgres.Dockerfile: backup-service reads the data volumes
# and logs in over the shared socket volume as this user (peer authentication). postgresql-15 brings the server
# binaries (/usr/lib/postgresql/15/bin) that restore drills start scratch clusters with.
RUN groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --shell /bin/bash postgres \
 && install -d -m 0755 /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/valerix.conf \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpq5 libboost-url1.81.0 libboost-json1.81.0 zlib1g curl ca-certificates tini \
      postgresql-15 postgresql-client-15 pgbackrest tar zstd \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 0750 /var/lib/pgbackrest /var/log/pgbackrest /var/spool/pgbackrest \
      /etc/pgbackrest /run/valerix-pg /tmp/pgbackrest /var/lib/valerix-backup /var/lib/valerix-backup/state \
      /var/lib/valerix-backup/scratch /var/lib/valerix-backup/external
COPY --from=build /src/build/services/backup/valerix-backup /usr/local/bin/valerix-backup
COPY deploy/compose/scripts/backup-entrypoint.sh /usr/local/bin/valerix-backup-entrypoint
COPY deploy/compose/scripts/render-pgbackrest-conf.sh /usr/local/bin/valerix-render-pgbackrest-conf
COPY deploy/compose/pgbackrest/pgbackrest.conf.template /etc/pgbackrest/pgbackrest.conf.template
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    LANG=C.UTF-8 \
    VALERIX_HTTP_HOST=0.0.0.0 \
    VALERIX_HTTP_PORT=3003 \
    VALERIX_BACKUP_PGBACKREST_CONFIG=/etc/pgbackrest/pgbackrest.conf \
    VALERIX_BACKUP_STATE_DIR=/var/lib/valerix-backup/state \
    VALERIX_BACKUP_SCRATCH_DIR=/var/lib/valerix-backup/scratch \
    VALERIX_BACKUP_EXTERNAL_DIR=/var/lib/valerix-backup/external
USER postgres
EXPOSE 3003
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=5 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${VALERIX_HTTP_PORT}/health" || exit 1
# tini reaps the pgbackrest and scratch-postgres children that backup-service starts.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/valerix-backup-entrypoint"]
CMD ["/usr/local/bin/valerix-backup"]
