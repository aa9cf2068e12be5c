#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <valerix/core/clock.hpp>
#include <valerix/core/deadline.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/pg/connection.hpp>

namespace valerix::pg {

struct PoolConfig {
    std::string conninfo;          ///< libpq connection string (never logged: it may hold a password)
    std::size_t max_size = 8;      ///< connections at most
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds statement_timeout{5000};  ///< server-side statement_timeout of every session
};

class Pool;

/// A connection on loan from the pool; returned on destruction (or dropped when no longer reusable). Move-only.
class PooledConnection {
public:
    PooledConnection() = default;
    PooledConnection(Pool* pool, std::unique_ptr<Connection> connection);
    ~PooledConnection();
    PooledConnection(PooledConnection&& other) noexcept;
    PooledConnection& operator=(PooledConnection&& other) noexcept;

    Connection* operator->() const { return connection_.get(); }
    Connection& operator*() const { return *connection_; }

private:
    void Return();
    Pool* pool_ = nullptr;
    std::unique_ptr<Connection> connection_;
};

/// A bounded pool of asynchronous connections. Acquire waits (without blocking the thread) until a connection is
/// free, a new one can be opened, or the deadline passes. Use from the io_context's single thread.
class Pool {
public:
    Pool(boost::asio::io_context& io, PoolConfig config, core::Logger& logger, const core::Clock& clock);
    boost::asio::any_io_executor Executor() { return io_.get_executor(); }
    ~Pool();

    boost::asio::awaitable<Result<PooledConnection>> Acquire(core::Deadline deadline);

    /// Shorthand: acquire, run one statement, return the connection.
    boost::asio::awaitable<Result<Rows>> Execute(const Statement& statement, const Params& params,
                                                 core::Deadline deadline);

    std::size_t Open() const { return open_; }
    std::size_t Idle() const { return idle_.size(); }
    std::size_t Waiting() const { return waiters_.size(); }
    std::size_t MaxSize() const { return config_.max_size; }

    /// Closes idle connections and refuses new loans (shutdown).
    void Close();

private:
    friend class PooledConnection;
    struct Waiter;
    void Release(std::unique_ptr<Connection> connection);
    /// Wakes the longest waiter with `connection`, or with none (it then opens one itself: a slot is free).
    /// Returns `connection` when nobody waits.
    std::unique_ptr<Connection> Hand(std::unique_ptr<Connection> connection);

    boost::asio::io_context& io_;
    PoolConfig config_;
    std::string conninfo_;  ///< config_.conninfo plus the session options
    core::Logger& logger_;
    const core::Clock& clock_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::list<Waiter*> waiters_;
    std::size_t open_ = 0;
    bool closed_ = false;
};

}  // namespace valerix::pg
