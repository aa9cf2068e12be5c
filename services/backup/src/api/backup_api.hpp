#pragma once

#include <string>

#include <valerix/http/router.hpp>

#include "jobs/backup_engine.hpp"

namespace valerix::backup {

/// The backup-service HTTP contract (DESIGN.md §6). Handlers only read or queue work in the engine: pgBackRest never
/// runs on the I/O thread.
class BackupApi {
public:
    BackupApi(BackupEngine& engine, std::string admin_token) : engine_(engine), admin_token_(std::move(admin_token)) {}

    void Register(http::Router& router);

private:
    using Awaitable = boost::asio::awaitable<http::Response>;
    Awaitable ListBackups(const http::Request&, http::RequestContext&);
    Awaitable StartBackup(const http::Request&, http::RequestContext&);
    Awaitable ListJobs(const http::Request&, http::RequestContext&);
    Awaitable GetJob(const http::Request&, http::RequestContext&);
    Awaitable GetExternalSync(const http::Request&, http::RequestContext&);
    Awaitable StartExternalSync(const http::Request&, http::RequestContext&);
    Awaitable StartRestoreDrill(const http::Request&, http::RequestContext&);
    Awaitable LatestRestoreDrill(const http::Request&, http::RequestContext&);
    Awaitable Health(const http::Request&, http::RequestContext&);

    BackupEngine& engine_;
    std::string admin_token_;
};

}  // namespace valerix::backup
