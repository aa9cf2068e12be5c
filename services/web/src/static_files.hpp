#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include <valerix/core/logging.hpp>
#include <valerix/http/message.hpp>

namespace valerix::web {

/// Serves the built single-page UI from a folder: correct content types, long-lived caching for Vite's hashed
/// assets and revalidation for index.html, gzip when the client accepts it, index.html for unknown paths (the SPA's
/// own routes). Files are read once and kept in memory with their gzip form; a file is re-read when its
/// modification time changes, so a rebuilt UI is picked up without a restart. Never serves outside the folder.
class StaticFiles {
public:
    StaticFiles(std::filesystem::path root, core::Logger& logger);

    /// The response for a GET/HEAD of `path` (already percent-decoded).
    http::Response Serve(const http::Request& request);

    bool RootExists() const;

private:
    struct File {
        std::filesystem::file_time_type modified;
        std::string content_type;
        std::string body;
        std::string gzipped;  ///< empty when not worth compressing
    };
    const File* Load(const std::filesystem::path& path);

    std::filesystem::path root_;
    core::Logger& logger_;
    std::mutex mutex_;
    std::map<std::string, File> cache_;
};

/// The MIME type for a file name's extension.
std::string ContentTypeFor(const std::filesystem::path& path);

/// gzip-compresses `data` (zlib, level 6).
std::string Gzip(std::string_view data);

}  // namespace valerix::web
