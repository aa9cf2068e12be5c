#include <valerix/http/service_setup.hpp>

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <boost/asio/ip/address.hpp>

namespace valerix::http {

ServerConfig ServerConfigFromEnv(core::EnvReader& env, unsigned short default_port) {
    ServerConfig config;
    config.host = env.String("VALERIX_HTTP_HOST", "127.0.0.1");
    config.port = static_cast<unsigned short>(env.Int("VALERIX_HTTP_PORT", default_port, 0, 65535));
    config.read_timeout = env.Millis("VALERIX_HTTP_READ_TIMEOUT_MS", 10000, 100, 600000);
    config.idle_timeout = env.Millis("VALERIX_HTTP_IDLE_TIMEOUT_MS", 60000, 100, 3600000);
    config.shutdown_grace = env.Millis("VALERIX_SHUTDOWN_GRACE_MS", 10000, 0, 600000);
    boost::system::error_code bad_address;
    boost::asio::ip::make_address(config.host, bad_address);
    if (bad_address) env.AddProblem("VALERIX_HTTP_HOST='" + config.host + "' is not an IP address");
    return config;
}

core::LogLevel LogLevelFromEnv(core::EnvReader& env) {
    core::LogLevel level = core::LogLevel::kInfo;
    auto text = env.String("VALERIX_LOG_LEVEL", "info");
    if (!core::ParseLogLevel(text, level)) {
        env.AddProblem("VALERIX_LOG_LEVEL='" + text + "' must be one of debug, info, warn, error");
    }
    return level;
}

void WarnIfNoAdminToken(core::Logger& logger, std::string_view admin_token) {
    if (!admin_token.empty()) return;
    logger.Warn("no admin token configured (VALERIX_ADMIN_TOKEN or VALERIX_ADMIN_TOKEN_FILE): admin endpoints will "
                "answer 401");
}

unsigned long long RaiseOpenFileLimit(core::Logger& logger) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    // An unlimited hard limit cannot be the soft one: the most the kernel allows is fs.nr_open (2^20 by default).
    rlim_t most = rlim_t{1} << 20;
    if (std::ifstream nr_open("/proc/sys/fs/nr_open"); nr_open) nr_open >> most;
    const rlim_t wanted = limit.rlim_max == RLIM_INFINITY ? most : limit.rlim_max;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
        const rlim_t before = limit.rlim_cur;
        limit.rlim_cur = wanted;
        if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
            logger.Info("open files limit raised to the hard limit",
                        {{"from", static_cast<long long>(before)}, {"to", static_cast<long long>(wanted)}});
        } else {
            logger.Warn("could not raise the open files limit", {{"limit", static_cast<long long>(before)},
                                                                 {"error", std::strerror(errno)}});
            limit.rlim_cur = before;
        }
    }
    return limit.rlim_cur == RLIM_INFINITY ? most : static_cast<unsigned long long>(limit.rlim_cur);
}

void AddLiveAndMetricsRoutes(Router& router, const metrics::Registry& registry) {
    router.Add("GET", "/live", [](const Request&, RequestContext&) -> boost::asio::awaitable<Response> {
        co_return JsonText(200, R"({"status":"ok"})");
    });
    router.Add("GET", "/metrics", [&registry](const Request&, RequestContext&) -> boost::asio::awaitable<Response> {
        Response response;
        response.content_type = "text/plain; version=0.0.4; charset=utf-8";
        response.body = registry.Expose();
        co_return response;
    });
}

}  // namespace valerix::http
