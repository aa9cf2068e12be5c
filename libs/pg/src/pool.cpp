#include <valerix/pg/pool.hpp>

#include "conninfo.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace valerix::pg {

namespace asio = boost::asio;

struct Pool::Waiter {
    asio::steady_timer timer;
    std::unique_ptr<Connection> handed;  ///< set by Release; empty when woken because capacity was freed
    bool woken = false;
};

PooledConnection::PooledConnection(Pool* pool, std::unique_ptr<Connection> connection)
    : pool_(pool), connection_(std::move(connection)) {}
PooledConnection::~PooledConnection() { Return(); }
PooledConnection::PooledConnection(PooledConnection&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}
PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
    if (this != &other) {
        Return();
        pool_ = std::exchange(other.pool_, nullptr);
        connection_ = std::move(other.connection_);
    }
    return *this;
}
void PooledConnection::Return() {
    if (pool_ && connection_) pool_->Release(std::move(connection_));
    pool_ = nullptr;
}

Pool::Pool(asio::io_context& io, PoolConfig config, core::Logger& logger, const core::Clock& clock)
    : io_(io), config_(std::move(config)), logger_(logger), clock_(clock) {
    // After the connection string's own `options` (a search_path, say), which setting them would replace: a later
    // `-c` of the same name wins, so the pool's limits hold.
    std::string options;
    if (auto given = detail::GivenConnParams(config_.conninfo)) {
        if (auto own = given->find("options"); own != given->end() && !own->second.empty()) options = own->second + ' ';
    }
    options += "-c statement_timeout=" + std::to_string(config_.statement_timeout.count()) +
               " -c TimeZone=UTC -c idle_in_transaction_session_timeout=" +
               std::to_string(std::max<long long>(config_.statement_timeout.count() * 2, 10000));
    conninfo_ = detail::WithConnParam(config_.conninfo, "options", options);
    conninfo_ = detail::WithConnParam(std::move(conninfo_), "connect_timeout",
                                      std::to_string(std::max<long long>(1, config_.connect_timeout.count() / 1000)));
}

Pool::~Pool() = default;

void Pool::Close() {
    closed_ = true;
    open_ -= idle_.size();
    idle_.clear();
    for (auto* waiter : waiters_) {
        waiter->woken = true;
        waiter->timer.cancel();
    }
    waiters_.clear();  // woken waiters are no longer ours to hand connections to
}

asio::awaitable<Result<PooledConnection>> Pool::Acquire(core::Deadline deadline) {
    for (;;) {
        if (closed_) co_return Error{ErrorKind::kConnection, "", "the pool is closed"};
        while (!idle_.empty()) {
            auto connection = std::move(idle_.back());
            idle_.pop_back();
            if (connection->StillOpen()) co_return PooledConnection(this, std::move(connection));
            --open_;  // closed by the server while idle (a restart, say): its slot opens a new one below
        }
        if (open_ < config_.max_size) {
            ++open_;
            auto connect_deadline = deadline.Capped(clock_, config_.connect_timeout);
            auto connected = co_await Connection::Connect(io_.get_executor(), conninfo_, connect_deadline, clock_);
            if (!connected) {
                // The slot is free again: a caller queued while this connect ran may try its own (the database
                // may be back by then), rather than sleep until its deadline beside a free slot.
                --open_;
                Hand(nullptr);
                logger_.Warn("database connection failed", {{"error", connected.error().message}});
                co_return connected.error();
            }
            co_return PooledConnection(this, std::move(*connected));
        }
        if (deadline.Expired(clock_)) {
            co_return Error{ErrorKind::kPoolExhausted, "", "no database connection became free in time"};
        }
        Waiter waiter{asio::steady_timer(io_), nullptr, false};
        if (deadline.IsInfinite()) waiter.timer.expires_after(std::chrono::hours(24));
        else waiter.timer.expires_at(deadline.When());
        auto position = waiters_.insert(waiters_.end(), &waiter);
        boost::system::error_code ec;
        co_await waiter.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!waiter.woken) waiters_.erase(position);
        if (waiter.handed) co_return PooledConnection(this, std::move(waiter.handed));
        if (!waiter.woken) {
            co_return Error{ErrorKind::kPoolExhausted, "", "no database connection became free in time"};
        }
        // Woken because a slot was freed (a broken connection dropped, a connect failed): loop and open one.
    }
}

void Pool::Release(std::unique_ptr<Connection> connection) {
    bool reusable = connection->Reusable() && !closed_;
    if (!reusable) {
        connection.reset();
        --open_;
    }
    connection = Hand(std::move(connection));
    if (connection) idle_.push_back(std::move(connection));
}

std::unique_ptr<Connection> Pool::Hand(std::unique_ptr<Connection> connection) {
    if (waiters_.empty()) return connection;
    Waiter* waiter = waiters_.front();
    waiters_.pop_front();
    waiter->woken = true;
    waiter->handed = std::move(connection);
    waiter->timer.cancel();
    return nullptr;
}

asio::awaitable<Result<Rows>> Pool::Execute(const Statement& statement, const Params& params,
                                            core::Deadline deadline) {
    auto connection = co_await Acquire(deadline);
    if (!connection) co_return connection.error();
    co_return co_await (*connection)->Execute(statement, params, deadline);
}

}  // namespace valerix::pg
