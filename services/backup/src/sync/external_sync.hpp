#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "process/run.hpp"

namespace valerix::backup {

/// `url` without what may be a secret: the user and password before '@' become "***", the query (a pre-signed
/// URL's signature) becomes "?***". "https://key:secret@host/path?sig=x" -> "https://***@host/path?***".
std::string RedactedUrl(const std::string& url);

/// Where the daily bundle goes: an HTTP(S) URL (one PUT) or a local folder standing in for the off-site provider.
struct ExternalTarget {
    std::string url;  ///< when set: PUT the bundle here (a URL ending in '/' gets the bundle's file name appended)
    std::string dir;  ///< otherwise: the bundle is written into this folder
    std::chrono::seconds timeout{3600};
    /// For logs, the API and job records: the URL without its credentials (see RedactedUrl).
    std::string Describe() const { return url.empty() ? "folder " + dir : "PUT " + RedactedUrl(url); }
};

/// Every regular file of the repository (relative path -> "size:mtime_ns"), skipping pgBackRest's temporary files.
std::map<std::string, std::string> ScanRepository(const std::string& repo_path);

/// Files that are new or changed since `synced`, in path order.
std::vector<std::string> FilesToSync(const std::map<std::string, std::string>& current,
                                     const std::map<std::string, std::string>& synced);

struct BundleResult {
    bool ok = false;
    std::string error;
    std::string path;  ///< the bundle file
    std::string name;  ///< its file name
    std::int64_t bytes = 0;
};

/// Writes one tar bundle into `work_dir`: the repository `files` (already compressed and encrypted by pgBackRest)
/// at their repository paths, plus VALERIX-BUNDLE.json describing it. `name` is the bundle's file name.
BundleResult BuildBundle(const std::string& repo_path, const std::vector<std::string>& files, const std::string& work_dir,
                         const std::string& name, const std::string& manifest_json);

/// Sends the bundle to the target in one call. The folder target writes NAME.partial, fsyncs, then renames, so a
/// crash never leaves a bundle that looks complete. Returns an empty string on success, else the error.
std::string DeliverBundle(const BundleResult& bundle, const ExternalTarget& target);

}  // namespace valerix::backup
