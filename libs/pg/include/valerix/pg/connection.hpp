#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <valerix/core/clock.hpp>
#include <valerix/core/deadline.hpp>
#include <valerix/pg/error.hpp>

struct pg_conn;
struct pg_result;

namespace valerix::pg {

/// A named SQL statement; prepared once per connection on first use, then executed by name. Declare statements as
/// constants: the connection remembers `name` by view, so it must outlive the connection (a string literal).
struct Statement {
    std::string_view name;
    std::string_view sql;
};

/// Text-format parameters; nullopt is SQL NULL.
using Params = std::vector<std::optional<std::string>>;

/// Builds Params from strings, string literals or std::nullopt. Use it instead of a braced list inside a co_await
/// expression: g++ 12 fails to compile initializer_list temporaries in coroutine frames ("array used as
/// initializer").
template <class... Args>
Params MakeParams(Args&&... args) {
    Params params;
    params.reserve(sizeof...(args));
    (params.emplace_back(std::forward<Args>(args)), ...);
    return params;
}

/// A one-dimensional PostgreSQL array literal in text form ({"a","b\\"c",NULL}), for passing many values as one
/// parameter ($1::text[], $1::uuid[], $1::jsonb[] ...): every element is quoted and escaped; nullopt is NULL.
class ArrayLiteral {
public:
    void Add(std::string_view element);
    void AddNull();
    std::size_t Size() const { return size_; }
    /// The literal, e.g. {"a","b"}; {} when empty.
    std::string Text() const { return text_ + "}"; }

private:
    std::string text_ = "{";
    std::size_t size_ = 0;
};

/// The rows of one statement, as text.
class Rows {
public:
    Rows() = default;
    explicit Rows(pg_result* result);
    ~Rows();
    Rows(Rows&& other) noexcept;
    Rows& operator=(Rows&& other) noexcept;
    Rows(const Rows&) = delete;
    Rows& operator=(const Rows&) = delete;

    int Size() const;
    bool Empty() const { return Size() == 0; }
    int Affected() const;  ///< rows affected by INSERT/UPDATE/DELETE
    bool IsNull(int row, int column) const;
    std::string_view Text(int row, int column) const;
    long long Int(int row, int column) const;
    bool Bool(int row, int column) const { return Text(row, column) == "t"; }

private:
    pg_result* result_ = nullptr;
};

/// One libpq connection driven by Asio: every wait is an asynchronous wait on the socket, so no thread ever blocks
/// on the database. Use from one thread; one statement at a time.
class Connection {
public:
    /// Connects without blocking. `conninfo` is a libpq connection string or URI.
    static boost::asio::awaitable<Result<std::unique_ptr<Connection>>> Connect(boost::asio::any_io_executor executor,
                                                                               const std::string& conninfo,
                                                                               core::Deadline deadline,
                                                                               const core::Clock& clock);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// Runs a prepared statement (preparing it first on this connection if needed): one round trip when prepared.
    boost::asio::awaitable<Result<Rows>> Execute(const Statement& statement, const Params& params,
                                                 core::Deadline deadline);
    /// Runs SQL text with no parameters (may hold several statements; returns the last result). For migrations and
    /// transaction control only, never with input from outside.
    boost::asio::awaitable<Result<Rows>> ExecuteScript(std::string_view sql, core::Deadline deadline);

    /// False once the connection broke, timed out mid-statement, or was left inside a transaction.
    bool Reusable() const;

    /// For a connection that sat idle: reads, without waiting, what the server sent meanwhile, and answers whether
    /// the connection is still usable. A restarted or failed-over server, or a terminated backend, has closed it; a
    /// statement sent on it would fail. One non-blocking poll when nothing arrived.
    bool StillOpen();

    /// libpq's socket, for inspecting its options; never read, write or close it.
    int Socket() const;

private:
    Connection(boost::asio::any_io_executor executor, pg_conn* conn, const core::Clock& clock);
    boost::asio::awaitable<std::optional<Error>> WaitSocket(bool for_write, core::Deadline deadline);
    boost::asio::awaitable<Result<Rows>> Collect(core::Deadline deadline);
    std::optional<Error> RewrapSocket();
    Error Broken(ErrorKind kind, std::string message);

    boost::asio::any_io_executor executor_;
    pg_conn* conn_;
    const core::Clock& clock_;
    std::optional<boost::asio::posix::stream_descriptor> socket_;
    int socket_fd_ = -1;
    std::unordered_set<std::string_view> prepared_;
    bool broken_ = false;
};

}  // namespace valerix::pg
