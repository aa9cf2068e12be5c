#include "pgbackrest/pgbackrest.hpp"

#include <charconv>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <valerix/core/text.hpp>

namespace valerix::backup {
namespace {

std::int64_t IntAt(const boost::json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (v == nullptr) return 0;
    if (auto* i = v->if_int64()) return *i;
    if (auto* u = v->if_uint64()) return static_cast<std::int64_t>(*u);
    return 0;
}

std::string StringAt(const boost::json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) return {};
    return std::string(v->as_string());
}

const boost::json::object& ObjectAt(const boost::json::object& o, std::string_view key) {
    static const boost::json::object empty;
    auto* v = o.if_contains(key);
    return v != nullptr && v->is_object() ? v->as_object() : empty;
}

}  // namespace

RepoSettings ParsePgBackRestConfig(const std::string& text, const std::string& path, std::vector<std::string>& problems) {
    RepoSettings settings;
    settings.config_path = path;
    std::map<std::string, std::map<std::string, std::string>> sections;
    std::vector<std::string> order;
    std::string section;
    std::istringstream in(text);
    std::string raw;
    int line_no = 0;
    while (std::getline(in, raw)) {
        ++line_no;
        std::string line(core::Trim(raw));
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        if (line.front() == '[') {
            if (line.back() != ']') {
                problems.push_back(path + ":" + std::to_string(line_no) + ": unterminated section header");
                continue;
            }
            section = core::Trim(std::string_view(line).substr(1, line.size() - 2));
            if (!sections.contains(section)) order.push_back(section);
            sections[section];
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string::npos || section.empty()) {
            problems.push_back(path + ":" + std::to_string(line_no) + ": expected key=value inside a section");
            continue;
        }
        sections[section][std::string(core::Trim(std::string_view(line).substr(0, eq)))] =
            core::Trim(std::string_view(line).substr(eq + 1));
    }
    auto& global = sections["global"];
    settings.repo_path = global["repo1-path"];
    if (settings.repo_path.empty()) problems.push_back(path + ": [global] has no repo1-path");
    auto cipher = global["repo1-cipher-type"];
    settings.encrypted = !cipher.empty() && cipher != "none";
    for (const auto& name : order) {
        if (name.rfind("global", 0) == 0 || name.find(':') != std::string::npos) continue;
        auto& keys = sections[name];
        StanzaSettings stanza;
        stanza.name = name;
        stanza.pg_path = keys["pg1-path"];
        stanza.pg_host = keys["pg1-host"];
        stanza.pg_socket_path = keys["pg1-socket-path"];
        if (!keys["pg1-user"].empty()) stanza.pg_user = keys["pg1-user"];
        if (auto port = keys["pg1-port"]; !port.empty()) {
            auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), stanza.pg_port);
            if (ec != std::errc() || p != port.data() + port.size() || stanza.pg_port < 1 || stanza.pg_port > 65535) {
                problems.push_back(path + ": [" + name + "] pg1-port is not a port: " + port);
            }
        }
        if (stanza.pg_path.empty()) problems.push_back(path + ": [" + name + "] has no pg1-path");
        settings.stanzas.push_back(std::move(stanza));
    }
    if (settings.stanzas.empty()) problems.push_back(path + ": no stanza section");
    return settings;
}

std::optional<std::vector<StanzaInfo>> ParseInfoJson(const std::string& json, std::string& error) {
    boost::system::error_code ec;
    auto value = boost::json::parse(json, ec);
    if (ec || !value.is_array()) {
        error = "pgbackrest info: output is not a JSON array";
        return std::nullopt;
    }
    std::vector<StanzaInfo> out;
    for (const auto& item : value.as_array()) {
        if (!item.is_object()) continue;
        const auto& s = item.as_object();
        StanzaInfo info;
        info.name = StringAt(s, "name");
        const auto& status = ObjectAt(s, "status");
        info.status_code = static_cast<int>(IntAt(status, "code"));
        info.status_message = StringAt(status, "message");
        if (auto* backups = s.if_contains("backup"); backups != nullptr && backups->is_array()) {
            for (const auto& b : backups->as_array()) {
                if (!b.is_object()) continue;
                const auto& o = b.as_object();
                BackupEntry entry;
                entry.label = StringAt(o, "label");
                entry.type = StringAt(o, "type");
                entry.started_at = IntAt(ObjectAt(o, "timestamp"), "start");
                entry.finished_at = IntAt(ObjectAt(o, "timestamp"), "stop");
                entry.size_bytes = IntAt(ObjectAt(o, "info"), "size");
                entry.repo_size_bytes = IntAt(ObjectAt(ObjectAt(o, "info"), "repository"), "delta");
                entry.wal_start = StringAt(ObjectAt(o, "archive"), "start");
                entry.wal_stop = StringAt(ObjectAt(o, "archive"), "stop");
                info.backups.push_back(std::move(entry));
            }
        }
        if (auto* archives = s.if_contains("archive"); archives != nullptr && archives->is_array()) {
            for (const auto& a : archives->as_array()) {
                if (!a.is_object()) continue;
                info.archive_min = StringAt(a.as_object(), "min");
                info.archive_max = StringAt(a.as_object(), "max");
            }
        }
        out.push_back(std::move(info));
    }
    return out;
}

ProcessResult PgBackRest::Run(const std::string& stanza, std::vector<std::string> args,
                              std::chrono::milliseconds timeout, std::size_t output_cap) const {
    std::vector<std::string> argv{binary_, "--config=" + config_path_, "--log-level-console=warn",
                                  "--log-level-stderr=warn"};
    if (!stanza.empty()) argv.push_back("--stanza=" + stanza);
    for (auto& a : args) argv.push_back(std::move(a));
    ProcessOptions options;
    options.timeout = timeout;
    options.output_cap = output_cap;
    return RunProcess(argv, options);
}

ProcessResult PgBackRest::StanzaCreate(const std::string& stanza) const {
    return Run(stanza, {"stanza-create"}, std::chrono::minutes(5));
}

ProcessResult PgBackRest::Check(const std::string& stanza) const {
    return Run(stanza, {"--archive-timeout=15", "check"}, std::chrono::minutes(3));
}

ProcessResult PgBackRest::Backup(const std::string& stanza, const std::string& type) const {
    return Run(stanza, {"--type=" + type, "backup"}, std::chrono::hours(12));
}

ProcessResult PgBackRest::Info(const std::string& stanza) const {
    return Run(stanza, {"--output=json", "info"}, std::chrono::minutes(2), kListingCap);
}

ProcessResult PgBackRest::RestoreImmediate(const std::string& stanza, const std::string& label,
                                           const std::string& pg_path) const {
    // --reset-pg1-host: where backups are taken from a database on another host (the k8s component's TLS server),
    // the configuration names it, and pgBackRest refuses a restore there ("restore command must be run on the
    // PostgreSQL host"). The drill restores here, into a scratch folder; without pg1-host the flag changes nothing.
    return Run(stanza,
               {"--pg1-path=" + pg_path, "--reset-pg1-host", "--set=" + label, "--type=immediate",
                "--target-action=promote", "--archive-mode=off", "--log-level-file=off", "restore"},
               std::chrono::hours(12));
}

}  // namespace valerix::backup
