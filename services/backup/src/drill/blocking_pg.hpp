#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace valerix::backup {

/// A short blocking libpq session for the worker thread (counts before/after a backup, checks of a restored
/// cluster). Never use it on an I/O thread.
class BlockingPg {
public:
    /// Connects with `conninfo` (connect_timeout 10 s). On failure Ok() is false and Error() says why.
    explicit BlockingPg(const std::string& conninfo);
    ~BlockingPg();
    BlockingPg(const BlockingPg&) = delete;
    BlockingPg& operator=(const BlockingPg&) = delete;

    bool Ok() const { return error_.empty(); }
    const std::string& Error() const { return error_; }

    /// Rows of `sql` as text (NULL as ""); nullopt on error (then Error() says why).
    std::optional<std::vector<std::vector<std::string>>> Query(const std::string& sql);

    /// count(*) of each table that exists; a missing table is left out.
    std::map<std::string, long long> CountRows(const std::vector<std::string>& tables);

private:
    void* conn_ = nullptr;
    std::string error_;
};

/// "host=H port=P user=U dbname=D connect_timeout=10" with values quoted as libpq wants.
std::string ConnInfo(const std::string& host, int port, const std::string& user, const std::string& dbname);

}  // namespace valerix::backup
