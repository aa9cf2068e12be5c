#include "sync/external_sync.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace valerix::backup {
namespace fs = std::filesystem;
namespace {

bool IsTemporary(const std::string& name) {
    auto ends_with = [&](std::string_view suffix) {
        return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    return ends_with(".tmp") || ends_with(".partial") || name.find(".pgbackrest.tmp") != std::string::npos;
}

bool FsyncPath(const std::string& path, int flags) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

std::map<std::string, std::string> ScanRepository(const std::string& repo_path) {
    std::map<std::string, std::string> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(repo_path, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        auto rel = fs::relative(it->path(), repo_path, ec).string();
        if (ec || IsTemporary(rel)) continue;
        struct stat st {};
        if (::stat(it->path().c_str(), &st) != 0) continue;
        auto mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
        files[rel] = std::to_string(st.st_size) + ":" + std::to_string(mtime_ns);
    }
    return files;
}

std::vector<std::string> FilesToSync(const std::map<std::string, std::string>& current,
                                     const std::map<std::string, std::string>& synced) {
    std::vector<std::string> out;
    for (const auto& [path, signature] : current) {
        auto it = synced.find(path);
        if (it == synced.end() || it->second != signature) out.push_back(path);
    }
    return out;
}

BundleResult BuildBundle(const std::string& repo_path, const std::vector<std::string>& files, const std::string& work_dir,
                         const std::string& name, const std::string& manifest_json) {
    BundleResult bundle;
    bundle.name = name;
    bundle.path = work_dir + "/" + name;
    std::error_code ec;
    fs::create_directories(work_dir, ec);
    std::string meta_dir = work_dir + "/" + name + ".meta";
    fs::remove_all(meta_dir, ec);
    fs::create_directories(meta_dir, ec);
    std::string list_path = meta_dir + "/files";
    {
        std::ofstream list(list_path, std::ios::binary);
        for (const auto& f : files) list << f << '\0';
        std::ofstream manifest(meta_dir + "/VALERIX-BUNDLE.json", std::ios::binary);
        manifest << manifest_json << '\n';
        if (!list || !manifest) {
            bundle.error = "cannot write the bundle's file list in " + meta_dir;
            return bundle;
        }
    }
    // Files are already compressed and encrypted by pgBackRest: a plain tar adds nothing to decrypt or to trust.
    auto result = RunProcess({"tar", "--create", "--file=" + bundle.path, "--format=posix", "--directory=" + meta_dir,
                              "VALERIX-BUNDLE.json", "--directory=" + repo_path, "--null",
                              "--files-from=" + list_path});
    fs::remove_all(meta_dir, ec);
    if (!result.Ok()) {
        bundle.error = "tar: " + result.Summary();
        fs::remove(bundle.path, ec);
        return bundle;
    }
    bundle.bytes = static_cast<std::int64_t>(fs::file_size(bundle.path, ec));
    bundle.ok = true;
    return bundle;
}

std::string RedactedUrl(const std::string& url) {
    // Userinfo is there when the first '@' comes before any '/', '?' or '#' (as RFC 3986 has it), or when what
    // precedes it holds a ':' (a secret with an unencoded '/', '?' or '#': AWS-style keys have '/'). It ends at the
    // last '@' before the first '/' that follows that first '@' (a password may hold an '@' too). Anything else is
    // a path with an '@' and is kept; hiding a path by mistake is harmless, showing a secret is not.
    auto authority = url.find("://");
    authority = authority == std::string::npos ? 0 : authority + 3;
    std::string out = url;
    std::size_t rest = authority;
    if (auto first_at = url.find('@', authority); first_at != std::string::npos) {
        const auto before = std::string_view(url).substr(authority, first_at - authority);
        if (before.find_first_of("/?#") == std::string_view::npos || before.find(':') != std::string_view::npos) {
            auto end = url.rfind('@', url.find('/', first_at));
            out = url.substr(0, authority) + "***" + url.substr(end);
            rest = authority + 3;
        }
    }
    if (auto query = out.find('?', rest); query != std::string::npos) out = out.substr(0, query) + "?***";
    return out;
}

std::string DeliverBundle(const BundleResult& bundle, const ExternalTarget& target) {
    if (!target.url.empty()) {
        std::string url = target.url;
        if (!url.empty() && url.back() == '/') url += bundle.name;
        // The URL may carry credentials: it goes to curl in a config file only this user can read, never on the
        // command line (which `ps` shows every user).
        const std::string config = bundle.path + ".curl";
        {
            std::error_code ignored;
            fs::remove(config, ignored);
            int fd = ::open(config.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0) return "cannot write " + config + ": " + std::strerror(errno);
            std::string quoted;
            for (char c : url) {
                if (c == '"' || c == '\\') quoted += '\\';
                quoted += c;
            }
            std::string text = "url = \"" + quoted + "\"\n";
            bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
            ::close(fd);
            if (!written) return "cannot write " + config;
        }
        ProcessOptions options;
        options.timeout = target.timeout + std::chrono::seconds(30);
        auto result = RunProcess({"curl", "--silent", "--show-error", "--fail", "--upload-file", bundle.path,
                                  "--header", "Content-Type: application/x-tar", "--max-time",
                                  std::to_string(target.timeout.count()), "--config", config},
                                 options);
        std::error_code ignored;
        fs::remove(config, ignored);
        return result.Ok() ? std::string() : "PUT " + RedactedUrl(url) + " failed: " + result.Summary();
    }
    std::error_code ec;
    fs::create_directories(target.dir, ec);
    if (ec) return "cannot create " + target.dir + ": " + ec.message();
    std::string partial = target.dir + "/" + bundle.name + ".partial";
    fs::copy_file(bundle.path, partial, fs::copy_options::overwrite_existing, ec);
    if (ec) return "cannot write " + partial + ": " + ec.message();
    if (!FsyncPath(partial, O_RDONLY)) return "cannot fsync " + partial;
    fs::rename(partial, target.dir + "/" + bundle.name, ec);
    if (ec) return "cannot rename " + partial + ": " + ec.message();
    FsyncPath(target.dir, O_RDONLY | O_DIRECTORY);
    return {};
}

}  // namespace valerix::backup
