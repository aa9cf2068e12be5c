#include <valerix/http/router.hpp>

#include <gtest/gtest.h>

namespace valerix::http {
namespace {

Handler Dummy() {
    return [](const Request&, RequestContext&) -> boost::asio::awaitable<Response> { co_return Response{}; };
}

TEST(Router, MatchesLiteralsAndPlaceholders) {
    Router router;
    router.Add("GET", "/api/v1/products", Dummy());
    router.Add("GET", "/api/v1/products/{sku}", Dummy());
    router.Add("PUT", "/api/v1/products/{sku}", Dummy());
    router.Add("POST", "/api/v1/reservations/{id}/commit", Dummy());

    auto list = router.Find("GET", "/api/v1/products");
    ASSERT_NE(list.handler, nullptr);
    EXPECT_EQ(list.route, "/api/v1/products");

    auto one = router.Find("PUT", "/api/v1/products/SKU-1");
    ASSERT_NE(one.handler, nullptr);
    EXPECT_EQ(one.route, "/api/v1/products/{sku}");
    ASSERT_EQ(one.params.size(), 1u);
    EXPECT_EQ(one.params[0].first, "sku");
    EXPECT_EQ(one.params[0].second, "SKU-1");

    auto commit = router.Find("POST", "/api/v1/reservations/abc/commit");
    ASSERT_NE(commit.handler, nullptr);
    EXPECT_EQ(commit.params[0].second, "abc");
}

TEST(Router, DistinguishesNotFoundFromMethodNotAllowed) {
    Router router;
    router.Add("GET", "/api/v1/products/{sku}", Dummy());
    router.Add("PUT", "/api/v1/products/{sku}", Dummy());

    auto wrong_method = router.Find("DELETE", "/api/v1/products/x");
    EXPECT_EQ(wrong_method.handler, nullptr);
    EXPECT_TRUE(wrong_method.path_known);
    EXPECT_EQ(wrong_method.allow, "GET, HEAD, PUT") << "a GET route serves HEAD too";

    auto missing = router.Find("GET", "/api/v1/orders");
    EXPECT_EQ(missing.handler, nullptr);
    EXPECT_FALSE(missing.path_known);

    EXPECT_EQ(router.Find("GET", "/api/v1/products/").handler, nullptr) << "empty segment must not match {sku}";
    EXPECT_EQ(router.Find("GET", "/api/v1/products/a/b").handler, nullptr);

    // Split first, then decoded: an encoded '/' is part of its segment, other escapes decode as usual.
    auto slashed = router.Find("GET", "/api/v1/products/a%2Fb");
    ASSERT_NE(slashed.handler, nullptr);
    EXPECT_EQ(slashed.params[0].second, "a/b");
    auto escaped = router.Find("GET", "/api/v1/%70roducts/caf%C3%A9%20x");
    ASSERT_NE(escaped.handler, nullptr);
    EXPECT_EQ(escaped.params[0].second, "caf\xC3\xA9 x");
}

}  // namespace
}  // namespace valerix::http
