#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace valerix::testing {

/// One HTTP response as a test sees it.
struct HttpResponse {
    int status = 0;
    std::string body;
    /// Header names lower-cased; repeated headers joined with ", ".
    std::map<std::string, std::string> headers;

    /// The value of header `name` (any case), or "" when absent.
    std::string Header(const std::string& name) const;
};

/// A blocking HTTP/1.1 client for tests, over one keep-alive connection.
///
/// Connects lazily; before reusing the connection it checks that the server has not closed it, and
/// reconnects if it has. A request whose bytes were written is never sent a second time, so a test
/// counting requests on the server side sees exactly what it sent. Not thread-safe: one client per
/// thread.
class HttpClient {
  public:
    HttpClient(std::string host, int port);
    ~HttpClient();
    HttpClient(HttpClient&&) noexcept;
    HttpClient& operator=(HttpClient&&) noexcept;

    /// Sends one request and reads its response, within `timeout` in all (connecting included).
    /// Sets Host, and Content-Type: application/json when `body` is not empty and `headers` has no
    /// Content-Type; Content-Length follows the body. `headers` may override Host and User-Agent; any other name
    /// given twice is sent twice.
    /// Throws boost::system::system_error on a resolve, connect, I/O or parse error, or on timeout
    /// (boost::beast::error::timeout); the connection is dropped then.
    HttpResponse Request(std::string method, std::string target, std::string body = "",
                         std::vector<std::pair<std::string, std::string>> headers = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

    /// Writes `raw_bytes` as they are on a fresh connection (not the keep-alive one), reads one response
    /// and closes. For malformed-request tests. Throws boost::system::system_error when no response
    /// arrives (e.g. the server closed the connection without one) or on timeout.
    HttpResponse SendRaw(const std::string& raw_bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Polls GET `path` on host:port until it answers 200; returns false if `timeout` passes first.
/// Connection errors while the server starts are expected and ignored.
bool WaitUntilLive(const std::string& host, int port, const std::string& path, std::chrono::milliseconds timeout);

}  // namespace valerix::testing
