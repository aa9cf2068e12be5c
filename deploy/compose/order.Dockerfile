# syntax=docker/dockerfile:1
# order-service image (port 3001): orders, idempotency, breaker, reconciler.
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
 && cmake --build build --target valerix-order \
 && strip --strip-debug build/services/order/valerix-order

FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpq5 libboost-url1.81.0 libboost-json1.81.0 zlib1g curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 valerix \
 && useradd --system --uid 10001 --gid valerix --home-dir /nonexistent --shell /usr/sbin/nologin valerix
COPY --from=build /src/build/services/order/valerix-order /usr/local/bin/valerix-order
COPY deploy/compose/scripts/service-entrypoint.sh /usr/local/bin/valerix-entrypoint
ENV VALERIX_HTTP_HOST=0.0.0.0 \
    VALERIX_HTTP_PORT=3001
USER valerix
EXPOSE 3001
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=5 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${VALERIX_HTTP_PORT}/ready" || exit 1
ENTRYPOINT ["/usr/local/bin/valerix-entrypoint"]
CMD ["/usr/local/bin/valerix-order"]
