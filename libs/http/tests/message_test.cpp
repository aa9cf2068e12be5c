#include <valerix/http/message.hpp>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace valerix::http {
namespace {

TEST(Problem, HasRfc9457MembersAndStableCode) {
    auto response = Problem(409, "insufficient_stock", "Insufficient stock", "only 2 left", {{"sku", "A"}});
    EXPECT_EQ(response.status, 409);
    EXPECT_EQ(response.content_type, "application/problem+json");
    auto body = boost::json::parse(response.body).as_object();
    EXPECT_EQ(body.at("status").as_int64(), 409);
    EXPECT_EQ(body.at("code").as_string(), "insufficient_stock");
    EXPECT_EQ(body.at("title").as_string(), "Insufficient stock");
    EXPECT_EQ(body.at("detail").as_string(), "only 2 left");
    EXPECT_EQ(body.at("type").as_string(), "urn:valerix:problem:insufficient_stock");
    EXPECT_EQ(body.at("sku").as_string(), "A");
}

TEST(ParseJsonBody, RejectsMalformedAndWrongMediaType) {
    Request request;
    request.body = R"({"a": 1)";
    auto malformed = ParseJsonBody(request);
    EXPECT_FALSE(malformed.value);
    EXPECT_EQ(malformed.problem.status, 400);

    request.body = R"({"a": 1})";
    request.headers = {{"content-type", "text/plain"}};
    EXPECT_EQ(ParseJsonBody(request).problem.status, 415);

    request.headers = {{"content-type", "application/json; charset=utf-8"}};
    auto ok = ParseJsonBody(request);
    ASSERT_TRUE(ok.value);
    EXPECT_EQ(ok.value->as_object().at("a").as_int64(), 1);

    for (const char* media : {"Application/JSON", " application/json ", "application/Merge-Patch+JSON;charset=utf-8"}) {
        request.headers = {{"content-type", media}};
        EXPECT_TRUE(ParseJsonBody(request).value) << media << ": media types ignore case";
    }
    request.headers = {{"content-type", "application/jsonx"}};
    EXPECT_EQ(ParseJsonBody(request).problem.status, 415);
}

TEST(ParseJsonBody, RefusesAContentCodedBodyAsUnsupportedNotMalformed) {
    Request request;
    request.body = std::string("\x1f\x8b\x08\x00", 4);  // the start of a gzip stream
    request.headers = {{"content-type", "application/json"}, {"content-encoding", "gzip"}};
    auto coded = ParseJsonBody(request);
    ASSERT_FALSE(coded.value);
    EXPECT_EQ(coded.problem.status, 415);
    EXPECT_EQ(boost::json::parse(coded.problem.body).at("code").as_string(), "unsupported_media_type");
    EXPECT_EQ(coded.problem.headers, (Headers{{"accept-encoding", "identity"}}));

    request.body = R"({"a": 1})";
    request.headers = {{"content-type", "application/json"}, {"content-encoding", " Identity "}};
    EXPECT_TRUE(ParseJsonBody(request).value) << "identity is no coding at all";
}

TEST(Problem, ExtraMembersNeverReplaceTheStandardOnes) {
    auto response = Problem(409, "invalid_transition", "Invalid transition", "no",
                            {{"status", "SHIPPED"}, {"code", "other"}, {"current_status", "SHIPPED"}});
    auto body = boost::json::parse(response.body).as_object();
    EXPECT_EQ(body.at("status").as_int64(), 409);
    EXPECT_EQ(body.at("code").as_string(), "invalid_transition");
    EXPECT_EQ(body.at("current_status").as_string(), "SHIPPED");
}

TEST(BearerToken, TheSchemeIsMatchedWithoutRegardToCase) {
    Request request;
    for (const char* given : {"bearer secret", "BEARER secret", "Bearer  secret", "Bearer\tsecret"}) {
        request.headers = {{"authorization", given}};
        EXPECT_TRUE(BearerTokenMatches(request, "secret")) << given;
    }
    for (const char* refused : {"Bearersecret", "Basic secret", "Bearer ", "Bearer", "bearer Secret"}) {
        request.headers = {{"authorization", refused}};
        EXPECT_FALSE(BearerTokenMatches(request, "secret")) << refused;
    }
}

TEST(BearerToken, MatchesOnlyTheExactToken) {
    Request request;
    EXPECT_FALSE(BearerTokenMatches(request, "secret"));
    request.headers = {{"authorization", "Bearer secret"}};
    EXPECT_TRUE(BearerTokenMatches(request, "secret"));
    EXPECT_FALSE(BearerTokenMatches(request, "secret2"));
    EXPECT_FALSE(BearerTokenMatches(request, "secre"));
    EXPECT_FALSE(BearerTokenMatches(request, ""));
    request.headers = {{"authorization", "Basic secret"}};
    EXPECT_FALSE(BearerTokenMatches(request, "secret"));
}

TEST(Request, QueryParamsAreDecoded) {
    Request request;
    request.query = "status=PENDING&limit=10&name=a%20b";
    EXPECT_EQ(request.QueryParam("status"), "PENDING");
    EXPECT_EQ(request.QueryParam("name"), "a b");
    EXPECT_EQ(request.QueryParam("cursor"), std::nullopt);
}

}  // namespace
}  // namespace valerix::http
