#include "valerix/testing/http_client.hpp"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>
#include <cctype>
#include <cerrno>
#include <optional>
#include <thread>

namespace valerix::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kBodyLimit = 64 * 1024 * 1024;

std::string Lower(std::string_view s) {
    std::string lower(s);
    for (char& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return lower;
}

// Runs one asynchronous operation of `ioc` to completion; the stream's expiry bounds it.
template <class Initiation>
boost::system::error_code RunToCompletion(net::io_context& ioc, Initiation&& initiate) {
    boost::system::error_code result = net::error::would_block;
    initiate([&result](boost::system::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
}

beast::tcp_stream Connect(net::io_context& ioc, const std::string& host, int port, Clock::time_point deadline) {
    tcp::resolver resolver(ioc);
    boost::system::error_code ec;
    const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) {
        throw boost::system::system_error(ec, "HttpClient: resolve " + host);
    }
    beast::tcp_stream stream(ioc);
    stream.expires_at(deadline);
    ec = RunToCompletion(ioc, [&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
    if (ec) {
        throw boost::system::system_error(ec, "HttpClient: connect " + host + ":" + std::to_string(port));
    }
    return stream;
}

// Reads one response; `buffer` keeps bytes that arrive after it (there should be none).
boost::system::error_code ReadResponse(net::io_context& ioc, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                       bool head_request, Clock::time_point deadline, HttpResponse& response,
                                       bool& keep_alive) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    parser.skip(head_request);
    stream.expires_at(deadline);
    const auto ec =
        RunToCompletion(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
    if (ec) {
        return ec;
    }
    auto message = parser.release();
    response.status = static_cast<int>(message.result_int());
    response.body = std::move(message.body());
    for (const auto& field : message) {
        auto [it, inserted] = response.headers.emplace(Lower(field.name_string()), std::string(field.value()));
        if (!inserted) {
            it->second += ", ";
            it->second += field.value();
        }
    }
    keep_alive = message.keep_alive();
    return {};
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
    const auto it = headers.find(Lower(name));
    return it == headers.end() ? std::string() : it->second;
}

struct HttpClient::Impl {
    std::string host;
    int port;
    net::io_context ioc;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    // False when the server closed the idle connection (or sent something unasked): it must not be reused.
    bool ConnectionUsable() {
        if (!stream || buffer.size() != 0) {
            return false;
        }
        char byte;
        const ssize_t n = ::recv(stream->socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

    void Drop() {
        stream.reset();
        buffer.clear();
    }
};

HttpClient::HttpClient(std::string host, int port) : impl_(std::make_unique<Impl>()) {
    impl_->host = std::move(host);
    impl_->port = port;
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

HttpResponse HttpClient::Request(std::string method, std::string target, std::string body,
                                 std::vector<std::pair<std::string, std::string>> headers,
                                 std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    Impl& impl = *impl_;

    http::request<http::string_body> request;
    request.method_string(method);
    request.target(target);
    request.version(11);
    request.set(http::field::host, impl.host + ":" + std::to_string(impl.port));
    request.set(http::field::user_agent, "valerix-testing");
    bool has_content_type = false;
    for (const auto& [name, value] : headers) {
        const std::string lower = Lower(name);
        if (lower == "host" || lower == "user-agent") {
            request.set(name, value);  // replaces ours
        } else {
            request.insert(name, value);  // a name given twice is sent twice
        }
        has_content_type = has_content_type || lower == "content-type";
    }
    if (!body.empty() && !has_content_type) {
        request.set(http::field::content_type, "application/json");
    }
    request.body() = std::move(body);
    request.prepare_payload();

    if (!impl.ConnectionUsable()) {
        impl.Drop();
    }
    for (int attempt = 1;; ++attempt) {
        const bool reused = impl.stream.has_value();
        if (!reused) {
            impl.stream.emplace(Connect(impl.ioc, impl.host, impl.port, deadline));
        }
        impl.stream->expires_at(deadline);
        const auto ec = RunToCompletion(
            impl.ioc, [&](auto handler) { http::async_write(*impl.stream, request, std::move(handler)); });
        if (!ec) {
            break;
        }
        impl.Drop();
        // A failed write on a reused connection means the server closed it just now; nothing was processed.
        if (!reused || attempt == 2 || ec == beast::error::timeout) {
            throw boost::system::system_error(ec, "HttpClient: write " + target);
        }
    }

    HttpResponse response;
    bool keep_alive = false;
    const auto ec =
        ReadResponse(impl.ioc, *impl.stream, impl.buffer, Lower(method) == "head", deadline, response, keep_alive);
    if (ec) {
        impl.Drop();
        throw boost::system::system_error(ec, "HttpClient: read response to " + method + " " + target);
    }
    if (!keep_alive) {
        impl.Drop();
    }
    return response;
}

HttpResponse HttpClient::SendRaw(const std::string& raw_bytes, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    net::io_context ioc;
    beast::tcp_stream stream = Connect(ioc, impl_->host, impl_->port, deadline);
    stream.expires_at(deadline);
    const auto write_error = RunToCompletion(
        ioc, [&](auto handler) { net::async_write(stream, net::buffer(raw_bytes), std::move(handler)); });
    // The server may answer a malformed request and close before reading all of it: read anyway.
    beast::flat_buffer buffer;
    HttpResponse response;
    bool keep_alive = false;
    const auto read_error = ReadResponse(ioc, stream, buffer, false, deadline, response, keep_alive);
    if (read_error) {
        throw boost::system::system_error(write_error ? write_error : read_error, "HttpClient: raw request");
    }
    return response;
}

bool WaitUntilLive(const std::string& host, int port, const std::string& path, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    HttpClient client(host, port);
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left <= std::chrono::milliseconds(0)) {
            return false;
        }
        try {
            if (client.Request("GET", path, "", {}, std::min(left, std::chrono::milliseconds(1000))).status == 200) {
                return true;
            }
        } catch (const boost::system::system_error&) {
            // Not listening yet, or a restart in progress: poll again.
        }
        std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(50)));
    }
}

}  // namespace valerix::testing
