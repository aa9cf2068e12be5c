#pragma once

#include <string>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace valerix::pg {

/// What went wrong, coarse enough to decide on: retry, map to an HTTP status, or give up.
enum class ErrorKind {
    kConnection,         ///< could not connect, or the connection broke mid-query
    kTimeout,            ///< our deadline passed, or the server cancelled the statement (57014)
    kPoolExhausted,      ///< no connection became free before the deadline
    kSerialization,      ///< 40001: retry the transaction
    kDeadlock,           ///< 40P01: retry the transaction
    kUniqueViolation,    ///< 23505
    kForeignKeyViolation,///< 23503
    kCheckViolation,     ///< 23514
    kInvalidInput,       ///< class 22 (data exception) and 23502 (not null)
    kOther,
};

/// A database failure: kind, SQLSTATE (empty when not from the server) and the server's or libpq's message.
struct Error {
    ErrorKind kind = ErrorKind::kOther;
    std::string sqlstate;
    std::string message;

    /// True when running the same transaction again may succeed.
    bool Transient() const {
        return kind == ErrorKind::kConnection || kind == ErrorKind::kSerialization || kind == ErrorKind::kDeadlock ||
               kind == ErrorKind::kPoolExhausted || kind == ErrorKind::kTimeout;
    }
};

/// Maps a SQLSTATE to its kind.
ErrorKind KindOfSqlState(std::string_view sqlstate);

/// Lets boost::system::result<T, Error>::value() throw on error.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& location);

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace valerix::pg
