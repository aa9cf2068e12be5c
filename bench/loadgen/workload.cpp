#include "workload.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace valerix::loadgen {

ItemMix::ItemMix(const std::vector<std::string>& skus, const LoadOptions& options, core::Random& random)
    : skus_(skus),
      hot_(options.hot),
      hot_skus_(static_cast<std::size_t>(options.hot_skus)),
      hot_share_(options.hot_share),
      max_items_(options.max_items),
      max_quantity_(options.max_quantity),
      random_(random) {}

std::size_t ItemMix::Uniform(std::size_t bound) { return static_cast<std::size_t>(random_.NextUpTo(bound - 1)); }

std::vector<OrderItem> ItemMix::Next() {
    auto count = static_cast<std::size_t>(1 + random_.NextUpTo(static_cast<std::uint64_t>(max_items_ - 1)));
    std::vector<std::size_t> chosen;
    chosen.reserve(count);
    if (hot_ && random_.NextUnit() < hot_share_) chosen.push_back(Uniform(hot_skus_));
    while (chosen.size() < count) {
        auto index = Uniform(skus_.size());
        if (std::find(chosen.begin(), chosen.end(), index) == chosen.end()) chosen.push_back(index);
    }
    std::vector<OrderItem> items;
    items.reserve(count);
    for (auto index : chosen) {
        items.push_back(
            {&skus_[index], 1 + static_cast<int>(random_.NextUpTo(static_cast<std::uint64_t>(max_quantity_ - 1)))});
    }
    return items;
}

RequestFactory::RequestFactory(const LoadOptions& options, core::Random& random)
    : options_(options), random_(random), mix_(options.skus, options, random) {}

http::ClientRequest RequestFactory::Next() {
    switch (options_.scenario) {
        case Scenario::kOrders:
            return Order();
        case Scenario::kReservations:
            return Reservation();
        case Scenario::kSeedProducts:
            return SeedProduct();
    }
    return Order();
}

void RequestFactory::AppendItems(std::string& body) {
    body += R"("items":[)";
    bool first = true;
    for (const auto& item : mix_.Next()) {
        if (!first) body += ',';
        first = false;
        body += R"({"sku":)";
        body += JsonQuote(*item.sku);
        body += R"(,"quantity":)";
        body += std::to_string(item.quantity);
        body += '}';
    }
    body += ']';
}

http::ClientRequest RequestFactory::Order() {
    http::ClientRequest request;
    request.method = "POST";
    request.target = "/api/v1/orders";
    request.headers.emplace_back("Idempotency-Key", core::RandomUuid(random_));
    auto customer = 1 + random_.NextUpTo(static_cast<std::uint64_t>(options_.customers - 1));
    request.body = R"({"customer_id":"bench-)" + std::to_string(customer) + R"(",)";
    AppendItems(request.body);
    request.body += '}';
    return request;
}

http::ClientRequest RequestFactory::Reservation() {
    http::ClientRequest request;
    request.method = "POST";
    request.target = "/api/v1/reservations";
    request.body = R"({"reservation_id":")" + core::RandomUuid(random_) + R"(",)";
    AppendItems(request.body);
    request.body += '}';
    return request;
}

http::ClientRequest RequestFactory::SeedProduct() {
    const auto& sku = options_.skus[next_seed_index_ % options_.skus.size()];
    ++next_seed_index_;
    http::ClientRequest request;
    request.method = "PUT";
    request.target = "/api/v1/products/" + PathSegment(sku);
    request.headers.emplace_back("Authorization", "Bearer " + options_.admin_token);
    request.body = R"({"name":)" + JsonQuote("Bench item " + sku) + R"(,"price_cents":)" +
                   std::to_string(options_.price_cents) + R"(,"on_hand":)" + std::to_string(options_.stock) + "}";
    return request;
}

std::string JsonQuote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string PathSegment(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        bool unreserved = std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out += c;
        } else {
            out += '%';
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        }
    }
    return out;
}

}  // namespace valerix::loadgen
