#pragma once

#include <string_view>

#include <valerix/core/config.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/http/router.hpp>
#include <valerix/http/server.hpp>
#include <valerix/metrics/registry.hpp>

namespace valerix::http {

/// The listen settings every service reads the same way: VALERIX_HTTP_HOST (an IP address), VALERIX_HTTP_PORT,
/// VALERIX_HTTP_READ_TIMEOUT_MS, VALERIX_HTTP_IDLE_TIMEOUT_MS, VALERIX_SHUTDOWN_GRACE_MS. Problems go to `env`.
ServerConfig ServerConfigFromEnv(core::EnvReader& env, unsigned short default_port);

/// VALERIX_LOG_LEVEL (debug|info|warn|error, default info).
core::LogLevel LogLevelFromEnv(core::EnvReader& env);

/// Logs a warning at start-up when no admin token is configured (admin endpoints will answer 401).
void WarnIfNoAdminToken(core::Logger& logger, std::string_view admin_token);

/// Raises the soft limit of open files to the hard one (to the kernel's fs.nr_open when the hard one is unlimited), as
/// a server that holds a connection per client should: a shell's or systemd's soft limit of 1,024 would stop
/// accepting, or connecting, at ~1,000 sockets (order-service keeps up to 1,024 connections to inventory). Logs what
/// it did; returns the soft limit now in force.
unsigned long long RaiseOpenFileLimit(core::Logger& logger);

/// GET /live (the process answers) and GET /metrics (Prometheus text exposition of `registry`).
void AddLiveAndMetricsRoutes(Router& router, const metrics::Registry& registry);

/// Adapts a member function `awaitable<Response> (T::*)(const Request&, RequestContext&)` to a Handler.
template <class T>
Handler Bind(T* self, boost::asio::awaitable<Response> (T::*method)(const Request&, RequestContext&)) {
    return [self, method](const Request& request, RequestContext& context) { return (self->*method)(request, context); };
}

}  // namespace valerix::http
