#pragma once

#include <cstdint>
#include <string>
#include <valerix/core/random.hpp>
#include <valerix/http/client.hpp>
#include <vector>

#include "options.hpp"

namespace valerix::loadgen {

struct OrderItem {
    const std::string* sku = nullptr;  ///< points into the catalog
    int quantity = 1;
};

/// Draws the items of one order: 1..max_items distinct SKUs, quantities 1..max_quantity. Uniform over the catalog,
/// or (hot) with probability hot_share the first item is one of the first hot_skus SKUs.
class ItemMix {
  public:
    /// `skus` must outlive the mix and hold at least max_items SKUs (ParseOptions checks).
    ItemMix(const std::vector<std::string>& skus, const LoadOptions& options, core::Random& random);

    std::vector<OrderItem> Next();

  private:
    std::size_t Uniform(std::size_t bound);  ///< in [0, bound)

    const std::vector<std::string>& skus_;
    bool hot_;
    std::size_t hot_skus_;
    double hot_share_;
    int max_items_;
    int max_quantity_;
    core::Random& random_;
};

/// Builds the next request of a scenario. Not thread-safe (one per io_context thread).
class RequestFactory {
  public:
    RequestFactory(const LoadOptions& options, core::Random& random);

    http::ClientRequest Next();

  private:
    http::ClientRequest Order();
    http::ClientRequest Reservation();
    http::ClientRequest SeedProduct();
    void AppendItems(std::string& body);

    const LoadOptions& options_;
    core::Random& random_;
    ItemMix mix_;
    std::size_t next_seed_index_ = 0;
};

/// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);
/// `text` percent-encoded for one path segment (RFC 3986 unreserved characters kept).
std::string PathSegment(std::string_view text);

}  // namespace valerix::loadgen
