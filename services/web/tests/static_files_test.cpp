#include "static_files.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <zlib.h>

namespace valerix::web {
namespace {

namespace fs = std::filesystem;

std::string Gunzip(const std::string& data) {
    z_stream zs{};
    inflateInit2(&zs, 15 + 16);
    std::string out(1 << 20, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    inflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    inflateEnd(&zs);
    return out;
}

class StaticFilesTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::path(::testing::TempDir()) / ("ui-" + std::to_string(::getpid()));
        fs::create_directories(root_ / "assets");
        std::ofstream(root_ / "index.html") << "<!doctype html><title>Valerix</title>";
        std::ofstream(root_ / "assets" / "app-1234.js") << std::string(4000, 'x');
        std::ofstream(fs::path(root_).parent_path() / "secret.txt") << "do not serve";
    }
    void TearDown() override { fs::remove_all(root_); }

    http::Response Get(const std::string& path, std::string accept_encoding = "") {
        http::Request request;
        request.method = "GET";
        request.path = path;
        if (!accept_encoding.empty()) request.headers.emplace_back("accept-encoding", accept_encoding);
        return files_->Serve(request);
    }
    std::string Header(const http::Response& response, const std::string& name) {
        for (const auto& [key, value] : response.headers) {
            if (key == name) return value;
        }
        return "";
    }

    fs::path root_;
    core::Logger logger_{"test", core::LogLevel::kError, stderr};
    std::unique_ptr<StaticFiles> files_ = nullptr;
};

TEST_F(StaticFilesTest, ServesFilesWithTypesCachingAndGzip) {
    files_ = std::make_unique<StaticFiles>(root_, logger_);
    auto index = Get("/");
    EXPECT_EQ(index.status, 200);
    EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(Header(index, "Cache-Control"), "no-cache");
    auto asset = Get("/assets/app-1234.js", "gzip, br");
    EXPECT_EQ(asset.content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(Header(asset, "Cache-Control"), "public, max-age=31536000, immutable");
    EXPECT_EQ(Header(asset, "Content-Encoding"), "gzip");
    EXPECT_LT(asset.body.size(), 4000u);
    EXPECT_TRUE(Gunzip(asset.body) == std::string(4000, 'x')) << "gzip round trip";
    auto plain = Get("/assets/app-1234.js");
    EXPECT_EQ(plain.body, std::string(4000, 'x'));
}

TEST_F(StaticFilesTest, SpaRoutesGetIndexMissingAssetsGet404AndNothingEscapes) {
    files_ = std::make_unique<StaticFiles>(root_, logger_);
    EXPECT_NE(Get("/control-room").body.find("Valerix"), std::string::npos);
    EXPECT_EQ(Get("/assets/missing.js").status, 404);
    EXPECT_EQ(Get("/../secret.txt").status, 404);
    EXPECT_EQ(Get("/assets/../../secret.txt").status, 404);
}

TEST_F(StaticFilesTest, PicksUpARebuiltFile) {
    files_ = std::make_unique<StaticFiles>(root_, logger_);
    EXPECT_NE(Get("/").body.find("Valerix"), std::string::npos);
    std::ofstream(root_ / "index.html") << "<!doctype html><title>Rebuilt</title>";
    fs::last_write_time(root_ / "index.html", fs::file_time_type::clock::now() + std::chrono::seconds(5));
    EXPECT_NE(Get("/").body.find("Rebuilt"), std::string::npos);
}

TEST_F(StaticFilesTest, MissingUiIsAClear503) {
    fs::remove(root_ / "index.html");
    files_ = std::make_unique<StaticFiles>(root_, logger_);
    EXPECT_EQ(Get("/").status, 503);
    EXPECT_FALSE(files_->RootExists());
}

}  // namespace
}  // namespace valerix::web
