#include "state/state_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <valerix/core/utc_time.hpp>

namespace valerix::backup {
namespace json = boost::json;
namespace {

double NumberAt(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (v == nullptr) return 0;
    if (v->is_double()) return v->as_double();
    if (v->is_int64()) return static_cast<double>(v->as_int64());
    if (v->is_uint64()) return static_cast<double>(v->as_uint64());
    return 0;
}

std::string StringAt(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<std::int64_t> OptionalInt(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    return static_cast<std::int64_t>(NumberAt(o, key));
}

json::value OptionalJson(const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }

void WriteAll(int fd, const std::string& data, const std::string& path) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace

json::object Job::ToJson() const {
    json::array stanza_list;
    for (const auto& s : stanzas) stanza_list.emplace_back(s);
    json::object o{{"job_id", id},          {"kind", kind},
                   {"type", type.empty() ? json::value(nullptr) : json::value(type)},
                   {"stanzas", stanza_list}, {"trigger", trigger},   {"status", status},
                   {"queued_at", queued_at},  {"started_at", started_at > 0 ? json::value(started_at) : json::value(nullptr)},
                   {"finished_at", finished_at > 0 ? json::value(finished_at) : json::value(nullptr)},
                   {"error", error.empty() ? json::value(nullptr) : json::value(error)},
                   {"steps", steps},          {"result", result}};
    return o;
}

json::object Job::ToApiJson() const {
    // The state file keeps Unix seconds (fractions included); people and clients get the RFC 3339 times every other
    // answer of this service gives, and the duration the fractions were for.
    json::object o = ToJson();
    auto utc = [](double t) { return t > 0 ? json::value(core::FormatUtc(static_cast<std::int64_t>(t))) : nullptr; };
    o["queued_at"] = utc(queued_at);
    o["started_at"] = utc(started_at);
    o["finished_at"] = utc(finished_at);
    o["duration_s"] = started_at > 0 && finished_at >= started_at
                          ? json::value(std::round((finished_at - started_at) * 1000) / 1000)
                          : json::value(nullptr);
    return o;
}

Job Job::FromJson(const json::object& o) {
    Job job;
    job.id = StringAt(o, "job_id");
    job.kind = StringAt(o, "kind");
    job.type = StringAt(o, "type");
    if (auto* s = o.if_contains("stanzas"); s != nullptr && s->is_array()) {
        for (const auto& v : s->as_array()) {
            if (v.is_string()) job.stanzas.emplace_back(v.as_string());
        }
    }
    job.trigger = StringAt(o, "trigger");
    job.status = StringAt(o, "status");
    job.queued_at = NumberAt(o, "queued_at");
    job.started_at = NumberAt(o, "started_at");
    job.finished_at = NumberAt(o, "finished_at");
    job.error = StringAt(o, "error");
    if (auto* v = o.if_contains("steps"); v != nullptr && v->is_array()) job.steps = v->as_array();
    if (auto* v = o.if_contains("result"); v != nullptr && v->is_object()) job.result = v->as_object();
    return job;
}

StateStore::StateStore(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/state.json") {
    std::filesystem::create_directories(dir_);
}

PersistentState StateStore::Load() {
    PersistentState state;
    std::ifstream in(path_);
    if (!in) {
        if (std::filesystem::exists(path_)) throw std::runtime_error("cannot read " + path_);
        return state;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    boost::system::error_code ec;
    auto value = json::parse(buffer.str(), ec);
    if (ec || !value.is_object()) {
        throw std::runtime_error(path_ + " is not valid JSON; move it away to start with an empty state");
    }
    const auto& root = value.as_object();
    std::optional<Job> interrupted_sync;  // the latest sync that started and did not finish
    if (auto* jobs = root.if_contains("jobs"); jobs != nullptr && jobs->is_array()) {
        for (const auto& j : jobs->as_array()) {
            if (!j.is_object()) continue;
            Job job = Job::FromJson(j.as_object());
            if (!job.Finished()) {
                job.status = "interrupted";
                job.error = "the backup service stopped before this job finished";
                job.finished_at = job.started_at > 0 ? job.started_at : job.queued_at;
                if (job.kind == "backup") {
                    for (const auto& stanza : job.stanzas) {
                        state.backup_failures[stanza] = static_cast<std::int64_t>(job.finished_at);
                    }
                }
                if (job.kind == "external_sync" && job.started_at > 0) interrupted_sync = job;
            }
            state.jobs.push_back(std::move(job));
        }
    }
    if (auto* q = root.if_contains("quota"); q != nullptr && q->is_object()) {
        state.quota.day = static_cast<std::int64_t>(NumberAt(q->as_object(), "day"));
        state.quota.calls = static_cast<int>(NumberAt(q->as_object(), "calls"));
    }
    state.last_sync_success_at = OptionalInt(root, "last_sync_success_at");
    if (auto* v = root.if_contains("last_sync_result"); v != nullptr && v->is_object()) {
        state.last_sync_result = v->as_object();
    }
    if (interrupted_sync) {
        // It started, so its call was spent and may have reached the provider: reported as failed, not retried that
        // day (a sync that never started spent nothing; the quota is spent when one starts).
        state.last_sync_result = json::object{
            {"status", "failed"},
            {"at", core::FormatUtc(static_cast<std::int64_t>(interrupted_sync->started_at))},
            {"job_id", interrupted_sync->id},
            {"error", "interrupted: the backup service stopped during this sync; whether the target received its "
                      "bundle is unknown, and the next sync sends everything not confirmed as sent"}};
    }
    if (auto* files = root.if_contains("synced_files"); files != nullptr && files->is_object()) {
        for (const auto& [k, v] : files->as_object()) {
            if (v.is_string()) state.synced_files[std::string(k)] = std::string(v.as_string());
        }
    }
    if (auto* f = root.if_contains("backup_failures"); f != nullptr && f->is_object()) {
        for (const auto& [k, v] : f->as_object()) {
            if (v.is_int64()) state.backup_failures[std::string(k)] = v.as_int64();
        }
    }
    state.last_drill_at = OptionalInt(root, "last_drill_at");
    if (auto* v = root.if_contains("last_drill"); v != nullptr && v->is_object()) state.last_drill = v->as_object();
    return state;
}

void StateStore::Save(const PersistentState& state) {
    json::array jobs;
    std::size_t skip = state.jobs.size() > PersistentState::kMaxJobs ? state.jobs.size() - PersistentState::kMaxJobs : 0;
    for (std::size_t i = skip; i < state.jobs.size(); ++i) jobs.push_back(state.jobs[i].ToJson());
    json::object files;
    for (const auto& [k, v] : state.synced_files) files[k] = v;
    json::object failures;
    for (const auto& [k, v] : state.backup_failures) failures[k] = v;
    json::object root{{"version", 1},
                      {"jobs", std::move(jobs)},
                      {"quota", json::object{{"day", state.quota.day}, {"calls", state.quota.calls}}},
                      {"last_sync_success_at", OptionalJson(state.last_sync_success_at)},
                      {"last_sync_result", state.last_sync_result},
                      {"synced_files", std::move(files)},
                      {"backup_failures", std::move(failures)},
                      {"last_drill_at", OptionalJson(state.last_drill_at)},
                      {"last_drill", state.last_drill}};
    std::string text = json::serialize(root);
    std::string tmp = path_ + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
    try {
        WriteAll(fd, text, tmp);
        if (::fsync(fd) != 0) throw std::runtime_error("cannot fsync " + tmp + ": " + std::strerror(errno));
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
        throw std::runtime_error("cannot replace " + path_ + ": " + std::strerror(errno));
    }
    int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        ::fsync(dir_fd);
        ::close(dir_fd);
    }
}

}  // namespace valerix::backup
