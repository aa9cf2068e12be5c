#include "api/backup_api.hpp"

#include <boost/json/value.hpp>

#include <valerix/http/message.hpp>
#include <valerix/http/service_setup.hpp>

namespace valerix::backup {
namespace json = boost::json;
using http::Problem;
using http::Response;

namespace {

Response Accepted(const Job& job, std::string_view location) {
    auto response = http::Json(202, job.ToApiJson());
    response.headers.emplace_back("Location", std::string(location) + job.id);
    return response;
}

Response RefusalProblem(const Refusal& refusal) {
    json::object extra;
    if (refusal.next_allowed_at > 0) extra["next_allowed_at_unix"] = refusal.next_allowed_at;
    std::string title = refusal.status == 429 ? "Daily quota used" : refusal.status == 503 ? "Unavailable" : "Invalid request";
    auto response = Problem(refusal.status, refusal.code, title, refusal.detail, extra);
    if (refusal.status == 429 && refusal.next_allowed_at > 0) {
        auto wait = refusal.next_allowed_at -
                    std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                        .count();
        response.headers.emplace_back("Retry-After", std::to_string(std::max<long long>(wait, 1)));
    }
    return response;
}

}  // namespace

void BackupApi::Register(http::Router& router) {
    router.Add("GET", "/api/v1/backups", http::Bind(this, &BackupApi::ListBackups));
    router.Add("POST", "/api/v1/backups", http::Bind(this, &BackupApi::StartBackup));
    router.Add("GET", "/api/v1/backups/jobs", http::Bind(this, &BackupApi::ListJobs));
    router.Add("GET", "/api/v1/backups/jobs/{id}", http::Bind(this, &BackupApi::GetJob));
    router.Add("GET", "/api/v1/external-sync", http::Bind(this, &BackupApi::GetExternalSync));
    router.Add("POST", "/api/v1/external-sync", http::Bind(this, &BackupApi::StartExternalSync));
    router.Add("POST", "/api/v1/restore-drills", http::Bind(this, &BackupApi::StartRestoreDrill));
    router.Add("GET", "/api/v1/restore-drills/latest", http::Bind(this, &BackupApi::LatestRestoreDrill));
    router.Add("GET", "/health", http::Bind(this, &BackupApi::Health));
}

BackupApi::Awaitable BackupApi::ListBackups(const http::Request&, http::RequestContext&) {
    co_return http::Json(200, engine_.Backups());
}

BackupApi::Awaitable BackupApi::StartBackup(const http::Request& request, http::RequestContext&) {
    if (!http::BearerTokenMatches(request, admin_token_)) co_return http::UnauthorizedProblem();
    auto body = http::ParseJsonBody(request);
    if (!body.value) co_return body.problem;
    if (!body.value->is_object()) co_return http::ValidationProblem("", "the body must be a JSON object");
    const auto& o = body.value->as_object();
    auto* type = o.if_contains("type");
    if (type == nullptr || !type->is_string()) {
        co_return http::ValidationProblem("type", "required: \"full\" or \"incr\"");
    }
    std::vector<std::string> stanzas;
    if (auto* s = o.if_contains("stanza"); s != nullptr && !s->is_null()) {
        if (!s->is_string()) co_return http::ValidationProblem("stanza", "a stanza name, e.g. \"order\"");
        stanzas.emplace_back(s->as_string());
    }
    for (const auto& [key, value] : o) {
        if (key != "type" && key != "stanza") {
            co_return http::ValidationProblem(std::string(key), "unknown field (allowed: type, stanza)");
        }
    }
    auto submitted = engine_.SubmitBackup(std::string(type->as_string()), std::move(stanzas), "api");
    if (auto* refusal = std::get_if<Refusal>(&submitted)) co_return RefusalProblem(*refusal);
    co_return Accepted(std::get<Job>(submitted), "/api/v1/backups/jobs/");
}

BackupApi::Awaitable BackupApi::ListJobs(const http::Request&, http::RequestContext&) {
    json::array jobs;
    for (const auto& job : engine_.RecentJobs(50)) jobs.push_back(job.ToApiJson());
    co_return http::Json(200, json::object{{"jobs", std::move(jobs)}});
}

BackupApi::Awaitable BackupApi::GetJob(const http::Request&, http::RequestContext& context) {
    const auto& id = context.Param("id");
    auto job = engine_.FindJob(id);
    if (!job) co_return Problem(404, "job_not_found", "Job not found", "no backup-service job with id " + id);
    co_return http::Json(200, job->ToApiJson());
}

BackupApi::Awaitable BackupApi::GetExternalSync(const http::Request&, http::RequestContext&) {
    co_return http::Json(200, engine_.ExternalSyncStatus());
}

BackupApi::Awaitable BackupApi::StartExternalSync(const http::Request& request, http::RequestContext&) {
    if (!http::BearerTokenMatches(request, admin_token_)) co_return http::UnauthorizedProblem();
    auto submitted = engine_.SubmitExternalSync("api");
    if (auto* refusal = std::get_if<Refusal>(&submitted)) co_return RefusalProblem(*refusal);
    co_return Accepted(std::get<Job>(submitted), "/api/v1/backups/jobs/");
}

BackupApi::Awaitable BackupApi::StartRestoreDrill(const http::Request& request, http::RequestContext&) {
    if (!http::BearerTokenMatches(request, admin_token_)) co_return http::UnauthorizedProblem();
    auto submitted = engine_.SubmitRestoreDrill("api");
    if (auto* refusal = std::get_if<Refusal>(&submitted)) co_return RefusalProblem(*refusal);
    co_return Accepted(std::get<Job>(submitted), "/api/v1/backups/jobs/");
}

BackupApi::Awaitable BackupApi::LatestRestoreDrill(const http::Request&, http::RequestContext&) {
    auto drill = engine_.LatestDrill();
    if (!drill) co_return Problem(404, "no_drill_yet", "No restore drill yet", "no restore drill has finished yet");
    co_return http::Json(200, *drill);
}

BackupApi::Awaitable BackupApi::Health(const http::Request&, http::RequestContext&) {
    auto health = engine_.Health();
    bool ok = health.at("ok").as_bool();
    json::object body{{"status", ok ? "ok" : "fail"}, {"checks", health.at("checks")}};
    co_return http::Json(ok ? 200 : 503, body);
}

}  // namespace valerix::backup
