#include "static_files.hpp"

#include <fstream>
#include <sstream>

#include <zlib.h>

namespace valerix::web {
namespace fs = std::filesystem;

std::string ContentTypeFor(const fs::path& path) {
    static const std::map<std::string, std::string> kTypes = {
        {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},           {".svg", "image/svg+xml"},
        {".png", "image/png"},                   {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},                {".webmanifest", "application/manifest+json"},
        {".woff2", "font/woff2"},                {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
    };
    auto it = kTypes.find(path.extension().string());
    return it == kTypes.end() ? "application/octet-stream" : it->second;
}

std::string Gzip(std::string_view data) {
    z_stream zs{};
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
    std::string out(deflateBound(&zs, data.size()) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int result = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return result == Z_STREAM_END ? out : std::string();
}

StaticFiles::StaticFiles(fs::path root, core::Logger& logger) : root_(std::move(root)), logger_(logger) {}

bool StaticFiles::RootExists() const {
    std::error_code ec;
    return fs::is_regular_file(root_ / "index.html", ec);
}

const StaticFiles::File* StaticFiles::Load(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return nullptr;
    auto modified = fs::last_write_time(path, ec);
    if (ec) return nullptr;
    auto key = path.string();
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.modified == modified) return &it->second;
    std::ifstream in(path, std::ios::binary);
    if (!in) return nullptr;
    std::stringstream content;
    content << in.rdbuf();
    File file{modified, ContentTypeFor(path), content.str(), {}};
    bool compressible = file.content_type.starts_with("text/") || file.content_type.starts_with("application/json") ||
                        file.content_type.starts_with("image/svg");
    if (compressible && file.body.size() > 1024) {
        auto gzipped = Gzip(file.body);
        if (!gzipped.empty() && gzipped.size() < file.body.size()) file.gzipped = std::move(gzipped);
    }
    return &(cache_[key] = std::move(file));
}

http::Response StaticFiles::Serve(const http::Request& request) {
    if (request.method != "GET" && request.method != "HEAD") {
        http::Response response = http::Problem(405, "method_not_allowed", "Method not allowed",
                                                "only GET and HEAD are served here");
        response.headers.emplace_back("Allow", "GET, HEAD");
        return response;
    }
    fs::path relative = fs::path(request.path).relative_path().lexically_normal();
    bool escapes = !relative.empty() && (*relative.begin() == "..");
    if (escapes || request.path.find('\0') != std::string::npos) {
        return http::Problem(404, "not_found", "Not found", "no such file");
    }
    std::lock_guard lock(mutex_);
    const File* file = nullptr;
    bool is_index = false;
    if (!relative.empty() && relative != ".") file = Load(root_ / relative);
    if (file == nullptr) {
        // Unknown paths without an extension are the SPA's own routes; a missing asset is a real 404.
        if (relative.has_extension() && relative.extension() != ".html") {
            return http::Problem(404, "not_found", "Not found", "no file at " + request.path);
        }
        file = Load(root_ / "index.html");
        is_index = true;
        if (file == nullptr) {
            return http::Problem(503, "ui_not_built", "UI not built",
                                 "the web UI has not been built (run ./valerix up or npm run build in web/)");
        }
    }
    http::Response response;
    response.content_type = file->content_type;
    bool hashed_asset = !is_index && relative.string().starts_with("assets/");
    response.headers.emplace_back("Cache-Control", hashed_asset ? "public, max-age=31536000, immutable" : "no-cache");
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    response.headers.emplace_back("Vary", "Accept-Encoding");
    bool gzip = !file->gzipped.empty() && request.Header("accept-encoding").find("gzip") != std::string_view::npos;
    if (gzip) response.headers.emplace_back("Content-Encoding", "gzip");
    response.body = gzip ? file->gzipped : file->body;  // for HEAD the server sends the headers only
    return response;
}

}  // namespace valerix::web
