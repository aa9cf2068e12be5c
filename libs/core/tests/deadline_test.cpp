#include <valerix/core/deadline.hpp>
#include <valerix/core/random.hpp>

#include <gtest/gtest.h>

namespace valerix::core {
namespace {

using namespace std::chrono_literals;

class ManualClock final : public Clock {
public:
    TimePoint Now() const override { return now_; }
    void Advance(std::chrono::nanoseconds d) { now_ += d; }

private:
    TimePoint now_{std::chrono::seconds(1000)};
};

TEST(Deadline, RemainingShrinksAndExpires) {
    ManualClock clock;
    auto deadline = Deadline::After(clock, 5s);
    EXPECT_EQ(deadline.Remaining(clock), 5s);
    clock.Advance(3s);
    EXPECT_EQ(deadline.Remaining(clock), 2s);
    EXPECT_FALSE(deadline.Expired(clock));
    clock.Advance(2s);
    EXPECT_TRUE(deadline.Expired(clock));
    clock.Advance(1s);
    EXPECT_EQ(deadline.Remaining(clock), 0s);
}

TEST(Deadline, CappedTakesTheEarlier) {
    ManualClock clock;
    auto overall = Deadline::After(clock, 5s);
    EXPECT_EQ(overall.Capped(clock, 1s).Remaining(clock), 1s);
    clock.Advance(4500ms);
    EXPECT_EQ(overall.Capped(clock, 1s), overall);
}

TEST(Deadline, EarlierIsTheFirstToExpireAndLaterTheLast) {
    ManualClock clock;
    auto soon = Deadline::After(clock, 1s), later = Deadline::After(clock, 5s);
    EXPECT_EQ(soon.Earlier(later), soon);
    EXPECT_EQ(later.Earlier(soon), soon);
    EXPECT_EQ(Deadline::Infinite().Earlier(later), later);
    EXPECT_EQ(soon.Later(later), later);
    EXPECT_EQ(later.Later(soon), later);
    EXPECT_EQ(later.Later(Deadline::Infinite()), Deadline::Infinite());
}

TEST(Deadline, InfiniteNeverExpires) {
    ManualClock clock;
    auto deadline = Deadline::Infinite();
    EXPECT_FALSE(deadline.Expired(clock));
    EXPECT_EQ(RemainingMillis(deadline, clock, 30000), 30000);
    EXPECT_EQ(deadline.Capped(clock, 2s).Remaining(clock), 2s);
}

TEST(Deadline, RemainingMillisClamps) {
    ManualClock clock;
    auto deadline = Deadline::After(clock, 2500ms);
    EXPECT_EQ(RemainingMillis(deadline, clock, 1000), 1000);
    EXPECT_EQ(RemainingMillis(deadline, clock, 10000), 2500);
}

TEST(Random, SeededIsReproducible) {
    SeededRandom a(42), b(42);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(a.NextU64(), b.NextU64());
    for (int i = 0; i < 1000; ++i) {
        double u = a.NextUnit();
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        ASSERT_LE(a.NextUpTo(7), 7u);
    }
}

TEST(Random, UuidShape) {
    SeededRandom random(7);
    std::string uuid = RandomUuid(random);
    ASSERT_EQ(uuid.size(), 36u);
    EXPECT_EQ(uuid[8], '-');
    EXPECT_EQ(uuid[14], '4');
    EXPECT_NE(std::string("89ab").find(uuid[19]), std::string::npos);
    EXPECT_EQ(RandomHex(random, 16).size(), 32u);
}

TEST(Random, TimeOrderedUuidCarriesTheTimeAndSortsByIt) {
    SeededRandom random(7);
    // 2026-12-05T19:30:00Z = 1796499000000 ms = 0x01a2_47af_4ac0 -> "01a247af-4ac0-7..."
    std::string uuid = TimeOrderedUuid(random, 1796499000000);
    ASSERT_EQ(uuid.size(), 36u);
    EXPECT_EQ(uuid.substr(0, 13), "01a247af-4ac0");
    EXPECT_EQ(uuid[14], '7');
    EXPECT_NE(std::string("89ab").find(uuid[19]), std::string::npos);
    EXPECT_TRUE(CanonicalUuid(uuid).has_value());
    EXPECT_LT(TimeOrderedUuid(random, 1796499000000), TimeOrderedUuid(random, 1796499000001));
    EXPECT_NE(TimeOrderedUuid(random, 1796499000000), TimeOrderedUuid(random, 1796499000000)) << "74 random bits";
}

}  // namespace
}  // namespace valerix::core
