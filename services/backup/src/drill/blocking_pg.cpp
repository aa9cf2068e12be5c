#include "drill/blocking_pg.hpp"

#include <libpq-fe.h>

namespace valerix::backup {
namespace {

std::string Quote(const std::string& value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

std::string SqlLiteral(const std::string& value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
}

std::string QuoteIdent(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string Trimmed(const char* message) {
    std::string s = message != nullptr ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

std::string ConnInfo(const std::string& host, int port, const std::string& user, const std::string& dbname) {
    std::string out = "port=" + std::to_string(port) + " user=" + Quote(user) + " dbname=" + Quote(dbname) +
                      " connect_timeout=10 application_name=valerix-backup";
    if (!host.empty()) out = "host=" + Quote(host) + " " + out;
    return out;
}

BlockingPg::BlockingPg(const std::string& conninfo) {
    PGconn* conn = PQconnectdb(conninfo.c_str());
    conn_ = conn;
    if (PQstatus(conn) != CONNECTION_OK) error_ = Trimmed(PQerrorMessage(conn));
}

BlockingPg::~BlockingPg() { PQfinish(static_cast<PGconn*>(conn_)); }

std::optional<std::vector<std::vector<std::string>>> BlockingPg::Query(const std::string& sql) {
    if (!Ok()) return std::nullopt;
    auto* conn = static_cast<PGconn*>(conn_);
    PGresult* result = PQexec(conn, sql.c_str());
    auto status = PQresultStatus(result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        error_ = Trimmed(PQresultErrorMessage(result));
        PQclear(result);
        return std::nullopt;
    }
    std::vector<std::vector<std::string>> rows;
    for (int r = 0; r < PQntuples(result); ++r) {
        std::vector<std::string> row;
        for (int c = 0; c < PQnfields(result); ++c) row.emplace_back(PQgetvalue(result, r, c));
        rows.push_back(std::move(row));
    }
    PQclear(result);
    return rows;
}

std::map<std::string, long long> BlockingPg::CountRows(const std::vector<std::string>& tables) {
    std::map<std::string, long long> counts;
    for (const auto& table : tables) {
        auto exists = Query("SELECT to_regclass(" + SqlLiteral(table) + ") IS NOT NULL");
        if (!exists || exists->empty() || (*exists)[0][0] != "t") continue;
        auto rows = Query("SELECT count(*) FROM " + QuoteIdent(table));
        if (rows && !rows->empty()) counts[table] = std::stoll((*rows)[0][0]);
    }
    return counts;
}

}  // namespace valerix::backup
