#include <valerix/pg/connection.hpp>

#include "conninfo.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <libpq-fe.h>

namespace valerix::pg {
namespace {

namespace asio = boost::asio;

Error ErrorFromResult(const PGresult* result, const PGconn* conn) {
    const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    if (state == nullptr) return Error{ErrorKind::kConnection, "", message};
    return Error{KindOfSqlState(state), state, message};
}

/// The host of a connection string (`given`, its parsed keys) when reaching it takes a DNS lookup: one host, named
/// (not an address literal, not a socket folder), and no `hostaddr`. Empty otherwise, and for a string libpq cannot parse (PQconnectStart reports that).
/// Where the string gives no host or hostaddr, libpq takes them from a service file (`service=` or PGSERVICE), else
/// from PGHOST and PGHOSTADDR: so does this, except that with a service file the lookup is left to libpq.
std::string HostToResolve(const std::optional<detail::ConnParams>& given) {
    if (!given) return "";
    const char* service_env = std::getenv("PGSERVICE");
    const bool service = given->contains("service") || (service_env != nullptr && *service_env != '\0');
    auto param = [&](const char* key, const char* variable) -> std::optional<std::string> {
        if (auto it = given->find(key); it != given->end()) return it->second;
        if (service) return std::nullopt;  // the service file may give it
        const char* from_env = std::getenv(variable);
        return std::string(from_env != nullptr ? from_env : "");
    };
    const auto given_host = param("host", "PGHOST");
    const auto given_hostaddr = param("hostaddr", "PGHOSTADDR");
    if (!given_host || !given_hostaddr) return "";
    const std::string& host = *given_host;
    const std::string& hostaddr = *given_hostaddr;
    if (host.empty() || !hostaddr.empty() || host.front() == '/' || host.front() == '@' ||
        host.find(',') != std::string::npos) {
        return "";
    }
    boost::system::error_code not_an_address;
    asio::ip::make_address(host, not_an_address);
    return not_an_address ? host : "";
}

/// `conninfo` with TCP keepalives that notice a vanished server (a lost node, a cut network) in about 30 s, where it
/// does not set them itself. libpq turns keepalives on but leaves their timing to the system: two hours of silence
/// before the first probe. A connection whose statements have a deadline gives up at the deadline anyway; one idle
/// in the pool, or a migrator waiting for the migration lock (no deadline), would wait those hours. Keepalives are
/// not sent while data waits for its acknowledgement, so a statement sent just as the server vanished was
/// retransmitted for ~15 minutes (tcp_retries2) instead: `tcp_user_timeout` (TCP_USER_TIMEOUT) ends that after 30 s
/// without an acknowledgement. A server that is merely slow to answer is not affected: its kernel acknowledges the
/// statement at once. Unix sockets ignore these settings.
std::string WithKeepalives(std::string conninfo, const std::optional<detail::ConnParams>& given) {
    constexpr std::pair<std::string_view, std::string_view> kKeepalives[] = {
        {"keepalives_idle", "15"}, {"keepalives_interval", "5"}, {"keepalives_count", "3"},
        {"tcp_user_timeout", "30000"}};
    if (!given) return conninfo;  // libpq reports what it cannot parse
    for (auto [key, value] : kKeepalives) {
        if (!given->contains(key)) conninfo = detail::WithConnParam(std::move(conninfo), key, value);
    }
    return conninfo;
}

/// `conninfo` told to try `addresses` in turn, as libpq tries every address of a name it looked up itself; libpq
/// keeps using the host name for authentication and messages.
std::string WithHostAddrs(const std::string& conninfo, const std::string& host,
                          const std::vector<std::string>& addresses) {
    std::string hosts, hostaddrs;
    for (const auto& address : addresses) {
        hosts += (hosts.empty() ? "" : ",") + host;
        hostaddrs += (hostaddrs.empty() ? "" : ",") + address;
    }
    return detail::WithConnParam(detail::WithConnParam(conninfo, "host", hosts), "hostaddr", hostaddrs);
}

/// Looks `host` up on Asio's resolver thread. libpq would call getaddrinfo inside PQconnectStart/PQconnectPoll, on
/// this (the only) I/O thread: a slow DNS server (compose's, a cluster's) would stall every request of the service,
/// its health checks too, for as long as the lookup takes.
asio::awaitable<Result<std::vector<std::string>>> ResolveHost(asio::any_io_executor executor,
                                                             const std::string& host, core::Deadline deadline) {
    struct Lookup {
        explicit Lookup(asio::any_io_executor executor) : resolver(std::move(executor)) {}
        asio::ip::tcp::resolver resolver;
        bool settled = false;
        bool expired = false;
    };
    auto lookup = std::make_shared<Lookup>(executor);
    std::optional<asio::steady_timer> timer;
    if (!deadline.IsInfinite()) {
        timer.emplace(executor, deadline.When());
        timer->async_wait([lookup](boost::system::error_code timer_ec) {
            if (timer_ec || lookup->settled) return;
            lookup->expired = true;
            lookup->resolver.cancel();
        });
    }
    boost::system::error_code ec;
    auto results = co_await lookup->resolver.async_resolve(host, "", asio::redirect_error(asio::use_awaitable, ec));
    lookup->settled = true;
    if (timer) timer->cancel();
    if (lookup->expired) co_return Error{ErrorKind::kTimeout, "", "deadline passed resolving host \"" + host + "\""};
    if (ec || results.empty()) {
        co_return Error{ErrorKind::kConnection, "",
                        "could not resolve host \"" + host + "\": " + (ec ? ec.message() : "no address")};
    }
    std::vector<std::string> addresses;
    for (const auto& entry : results) {
        auto address = entry.endpoint().address().to_string();
        if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) addresses.push_back(address);
    }
    co_return addresses;
}

}  // namespace

ErrorKind KindOfSqlState(std::string_view sqlstate) {
    if (sqlstate == "40001") return ErrorKind::kSerialization;
    if (sqlstate == "40P01") return ErrorKind::kDeadlock;
    if (sqlstate == "23505") return ErrorKind::kUniqueViolation;
    if (sqlstate == "23503") return ErrorKind::kForeignKeyViolation;
    if (sqlstate == "23514") return ErrorKind::kCheckViolation;
    if (sqlstate == "23502" || sqlstate.starts_with("22")) return ErrorKind::kInvalidInput;
    if (sqlstate == "57014") return ErrorKind::kTimeout;
    if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
        return ErrorKind::kConnection;
    }
    return ErrorKind::kOther;
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
    throw std::runtime_error("database error " + error.sqlstate + ": " + error.message);
}

void ArrayLiteral::Add(std::string_view element) {
    if (size_++ > 0) text_ += ',';
    text_ += '"';
    // Copies the runs between the characters that need a backslash in one append each: per character, an append
    // is a capacity check, and this runs for every value of every batched statement (callgrind: 4.8 % of the order
    // service's instructions when it appended character by character).
    std::size_t run = 0;
    for (std::size_t i = 0; i < element.size(); ++i) {
        if (element[i] == '"' || element[i] == '\\') {
            text_.append(element.data() + run, i - run);
            text_ += '\\';
            run = i;  // the character itself starts the next run
        }
    }
    text_.append(element.data() + run, element.size() - run);
    text_ += '"';
}

void ArrayLiteral::AddNull() {
    if (size_++ > 0) text_ += ',';
    text_ += "NULL";
}

Rows::Rows(PGresult* result) : result_(result) {}
Rows::~Rows() {
    if (result_) PQclear(result_);
}
Rows::Rows(Rows&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
Rows& Rows::operator=(Rows&& other) noexcept {
    if (this != &other) {
        if (result_) PQclear(result_);
        result_ = std::exchange(other.result_, nullptr);
    }
    return *this;
}
int Rows::Size() const { return result_ ? PQntuples(result_) : 0; }
int Rows::Affected() const {
    if (!result_) return 0;
    const char* text = PQcmdTuples(result_);
    return text && *text ? std::atoi(text) : 0;
}
bool Rows::IsNull(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
std::string_view Rows::Text(int row, int column) const {
    return {PQgetvalue(result_, row, column), static_cast<std::size_t>(PQgetlength(result_, row, column))};
}
long long Rows::Int(int row, int column) const {
    auto text = Text(row, column);
    long long value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

Connection::Connection(asio::any_io_executor executor, PGconn* conn, const core::Clock& clock)
    : executor_(std::move(executor)), conn_(conn), clock_(clock) {}

Connection::~Connection() {
    socket_.reset();  // closes our dup of the socket, never libpq's own descriptor
    if (conn_) PQfinish(conn_);
}

std::optional<Error> Connection::RewrapSocket() {
    int fd = PQsocket(conn_);
    if (fd < 0) return Error{ErrorKind::kConnection, "", "libpq has no socket"};
    if (fd == socket_fd_ && socket_) return std::nullopt;
    socket_.reset();
    int copy = ::dup(fd);
    if (copy < 0) return Error{ErrorKind::kConnection, "", std::string("dup failed: ") + std::strerror(errno)};
    socket_.emplace(executor_, copy);
    socket_fd_ = fd;
    return std::nullopt;
}

Error Connection::Broken(ErrorKind kind, std::string message) {
    broken_ = true;
    return Error{kind, "", std::move(message)};
}

bool Connection::Reusable() const {
    return !broken_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

int Connection::Socket() const { return PQsocket(conn_); }

bool Connection::StillOpen() {
    if (!Reusable()) return false;
    // While idle the server sends only notices, parameter changes, or its end: an error, then the closed stream.
    // libpq reads once per call, so the end may take a second round after the error.
    for (int round = 0; round < 8 && !broken_; ++round) {
        pollfd ready{socket_fd_, POLLIN, 0};
        if (::poll(&ready, 1, 0) <= 0) break;  // nothing (more) arrived; a failed poll leaves it to the statement
        if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) broken_ = true;
    }
    return !broken_;
}

asio::awaitable<std::optional<Error>> Connection::WaitSocket(bool for_write, core::Deadline deadline) {
    auto wait_type = for_write ? asio::posix::stream_descriptor::wait_write : asio::posix::stream_descriptor::wait_read;
    // A deadline cancels the socket wait from a plain timer handler. Not `socket wait || timer wait`: the awaitable
    // operators co_spawn both waits, and the one that loses (nearly always the timer) ends by throwing
    // operation_aborted — an exception and three coroutine frames per database round trip, on the hot path.
    // Connections live on one single-threaded executor, so the handler and this coroutine never run at once; the
    // shared state lets a handler that runs after this wait ended (its timer already expired) do nothing.
    struct WaitState {
        bool settled = false;
        bool expired = false;
    };
    std::shared_ptr<WaitState> state;
    std::optional<asio::steady_timer> timer;
    if (!deadline.IsInfinite()) {
        state = std::make_shared<WaitState>();
        timer.emplace(executor_, deadline.When());
        timer->async_wait([state, socket = &*socket_](boost::system::error_code timer_ec) {
            if (timer_ec || state->settled) return;
            state->expired = true;
            boost::system::error_code ignored;  // a handler must not throw: it would leave the event loop
            socket->cancel(ignored);
        });
    }
    boost::system::error_code ec;
    co_await socket_->async_wait(wait_type, asio::redirect_error(asio::use_awaitable, ec));
    if (timer) {
        state->settled = true;
        timer->cancel();
    }
    if (!ec) co_return std::nullopt;  // ready, even if the deadline passed meanwhile
    if (state && state->expired) co_return Broken(ErrorKind::kTimeout, "deadline passed waiting for the database");
    co_return Broken(ErrorKind::kConnection, "socket wait failed: " + ec.message());
}

asio::awaitable<Result<std::unique_ptr<Connection>>> Connection::Connect(asio::any_io_executor executor,
                                                                        const std::string& conninfo,
                                                                        core::Deadline deadline,
                                                                        const core::Clock& clock) {
    const auto given = detail::GivenConnParams(conninfo);
    std::string target = WithKeepalives(conninfo, given);
    if (auto host = HostToResolve(given); !host.empty()) {
        auto addresses = co_await ResolveHost(executor, host, deadline);
        if (!addresses) {
            Error error = addresses.error();
            error.message = "connecting: " + error.message;
            co_return error;
        }
        target = WithHostAddrs(target, host, *addresses);
    }
    PGconn* raw = PQconnectStart(target.c_str());
    if (raw == nullptr) co_return Error{ErrorKind::kConnection, "", "out of memory starting a connection"};
    std::unique_ptr<Connection> connection(new Connection(executor, raw, clock));
    if (PQstatus(raw) == CONNECTION_BAD) co_return ErrorFromResult(nullptr, raw);
    PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
    while (poll != PGRES_POLLING_OK) {
        if (poll == PGRES_POLLING_FAILED) co_return ErrorFromResult(nullptr, raw);
        // The socket can change while connecting (e.g. trying the next host), so wrap it anew each round.
        if (auto error = connection->RewrapSocket()) co_return *error;
        if (auto error = co_await connection->WaitSocket(poll == PGRES_POLLING_WRITING, deadline)) {
            error->message = "connecting: " + error->message;
            co_return *error;
        }
        poll = PQconnectPoll(raw);
    }
    if (auto error = connection->RewrapSocket()) co_return *error;
    if (PQsetnonblocking(raw, 1) != 0) co_return ErrorFromResult(nullptr, raw);
    co_return std::move(connection);
}

asio::awaitable<Result<Rows>> Connection::Collect(core::Deadline deadline) {
    // Send everything libpq has buffered.
    for (;;) {
        int flushed = PQflush(conn_);
        if (flushed == 0) break;
        if (flushed < 0) co_return Broken(ErrorKind::kConnection, PQerrorMessage(conn_));
        if (auto error = co_await WaitSocket(true, deadline)) co_return *error;
    }
    // Read until every result of the command is in.
    Rows last;
    std::optional<Error> failure;
    for (;;) {
        while (PQisBusy(conn_)) {
            if (auto error = co_await WaitSocket(false, deadline)) co_return *error;
            if (PQconsumeInput(conn_) == 0) co_return Broken(ErrorKind::kConnection, PQerrorMessage(conn_));
        }
        PGresult* result = PQgetResult(conn_);
        if (result == nullptr) break;
        auto status = PQresultStatus(result);
        if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) {
            if (!failure) failure = ErrorFromResult(result, conn_);
            PQclear(result);
        } else {
            last = Rows(result);
        }
    }
    if (PQstatus(conn_) != CONNECTION_OK) broken_ = true;
    if (failure) co_return *failure;
    co_return std::move(last);
}

asio::awaitable<Result<Rows>> Connection::Execute(const Statement& statement, const Params& params,
                                                  core::Deadline deadline) {
    if (broken_) co_return Error{ErrorKind::kConnection, "", "connection is broken"};
    // Past its deadline a statement is not sent: its caller would be told "timed out" while the server commits it,
    // and the connection (the wait abandoned) would be dropped. Nothing sent, the connection stays reusable.
    if (deadline.Expired(clock_)) {
        co_return Error{ErrorKind::kTimeout, "", "the deadline passed before the statement was sent"};
    }
    if (!prepared_.contains(statement.name)) {
        std::string name(statement.name), sql(statement.sql);
        if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) == 0) {
            co_return Broken(ErrorKind::kConnection, PQerrorMessage(conn_));
        }
        auto prepared = co_await Collect(deadline);
        if (!prepared) co_return prepared.error();
        prepared_.insert(statement.name);
    }
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
    std::string name(statement.name);
    if (PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr,
                            0) == 0) {
        co_return Broken(ErrorKind::kConnection, PQerrorMessage(conn_));
    }
    co_return co_await Collect(deadline);
}

asio::awaitable<Result<Rows>> Connection::ExecuteScript(std::string_view sql, core::Deadline deadline) {
    if (broken_) co_return Error{ErrorKind::kConnection, "", "connection is broken"};
    if (deadline.Expired(clock_)) {
        co_return Error{ErrorKind::kTimeout, "", "the deadline passed before the statement was sent"};
    }
    std::string text(sql);
    if (PQsendQuery(conn_, text.c_str()) == 0) co_return Broken(ErrorKind::kConnection, PQerrorMessage(conn_));
    co_return co_await Collect(deadline);
}

}  // namespace valerix::pg
