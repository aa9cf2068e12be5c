#include <gtest/gtest.h>

#include <valerix/core/utc_time.hpp>

namespace valerix::core {
namespace {

TEST(FormatUtc, Rfc3339ByDefaultOrTheGivenFormat) {
    EXPECT_EQ(FormatUtc(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(FormatUtc(1795628162), "2026-11-25T17:36:02Z");
    EXPECT_EQ(FormatUtc(1795628162, "%Y%m%dT%H%M%SZ"), "20261125T173602Z");
}

}  // namespace
}  // namespace valerix::core
