#pragma once

#include <valerix/http/router.hpp>
#include <valerix/metrics/registry.hpp>

#include "static_files.hpp"
#include "system_monitor.hpp"
#include "upstream.hpp"

namespace valerix::web {

/// The gateway's routes (DESIGN.md §4): the UI at /, the public /api/v1 routes proxied unchanged to the service that
/// owns them, /api/v1/chaos to inventory's /admin/chaos, and the gateway's own /api/v1/system and /api/v1/events.
class Gateway {
public:
    Gateway(Upstream& order, Upstream& inventory, Upstream* backup, SystemMonitor& monitor, StaticFiles& files);

    void Register(http::Router& router, metrics::Registry& registry);

private:
    Upstream& order_;
    Upstream& inventory_;
    Upstream* backup_;
    SystemMonitor& monitor_;
    StaticFiles& files_;
};

}  // namespace valerix::web
