#include "load_run.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <exception>
#include <iomanip>
#include <ostream>
#include <valerix/core/clock.hpp>
#include <valerix/http/client.hpp>

#include "workload.hpp"

namespace valerix::loadgen {
namespace {

namespace asio = boost::asio;
using Clock = core::Clock;
using std::chrono::nanoseconds;

constexpr std::size_t kErrorSamples = 5;

http::ClientConfig ClientConfigOf(const LoadOptions& options) {
    http::ClientConfig config;
    config.host = options.host;
    config.port = options.port;
    config.max_connections = options.max_connections;
    config.connect_timeout = std::min(options.timeout, std::chrono::milliseconds(3000));
    return config;
}

/// One run: the schedule (open loop) or the workers (closed loop), the requests in flight and their results. Lives
/// on the stack of RunLoad; every coroutine it spawns finishes before io_.run() returns.
class LoadRun {
  public:
    LoadRun(const LoadOptions& options, core::Random& random, std::ostream* progress)
        : options_(options),
          progress_(progress),
          client_(io_, ClientConfigOf(options), clock_),
          factory_(options, random),
          progress_timer_(io_) {}

    RunResult Run() {
        start_ = clock_.Now();
        measure_start_ = start_ + options_.warmup;
        if (options_.duration) issue_end_ = measure_start_ + *options_.duration;
        last_completion_ = measure_start_;
        if (options_.mode == LoopMode::kOpen) {
            Spawn(OpenLoop());
        } else {
            workers_left_ = options_.concurrency;
            for (int i = 0; i < options_.concurrency; ++i) Spawn(ClosedWorker());
        }
        if (progress_) Spawn(Progress());
        io_.run();
        result_.completion_span = std::max(nanoseconds::zero(), last_completion_ - measure_start_);
        return std::move(result_);
    }

  private:
    void Spawn(asio::awaitable<void> work) {
        asio::co_spawn(io_, std::move(work), [this](std::exception_ptr error) {
            if (!error) return;
            std::string message;
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                message = e.what();
            } catch (...) {
                message = "unknown exception";
            }
            ++result_.errors;
            ++result_.error_kinds["exception"];
            if (result_.error_samples.size() < kErrorSamples) result_.error_samples.push_back(message);
        });
    }

    bool MayStart(Clock::TimePoint when) const {
        if (issue_end_ && when >= *issue_end_) return false;
        return !options_.requests || result_.sent < *options_.requests;
    }

    void StoppedIssuing() {
        issuing_done_ = true;
        result_.window = std::max(
            nanoseconds::zero(), std::min(clock_.Now(), issue_end_.value_or(Clock::TimePoint::max())) - measure_start_);
        progress_timer_.cancel();
    }

    asio::awaitable<void> OpenLoop() {
        asio::steady_timer timer(io_);
        double period_ns = 1e9 / options_.rate;
        for (std::uint64_t i = 0;; ++i) {
            auto when = start_ + nanoseconds(std::llround(static_cast<double>(i) * period_ns));
            if (!MayStart(when)) break;
            if (when > clock_.Now()) {
                timer.expires_at(when);
                boost::system::error_code ignored;
                co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
            } else if (i % 16 == 0) {
                // Behind schedule: let the requests already started make progress instead of only starting more.
                co_await asio::post(io_.get_executor(), asio::use_awaitable);
            }
            bool measured = when >= measure_start_;
            if (measured) {
                ++result_.sent;
                result_.start_lag_ns.push_back((clock_.Now() - when).count());
            }
            Spawn(Fire(when, measured));
        }
        StoppedIssuing();
    }

    asio::awaitable<void> ClosedWorker() {
        for (;;) {
            auto now = clock_.Now();
            if (!MayStart(now)) break;
            bool measured = now >= measure_start_;
            if (measured) ++result_.sent;
            co_await Fire(now, measured);
        }
        if (--workers_left_ == 0) StoppedIssuing();
    }

    /// Sends one request; `intended` is when it should have started (latency counts from there).
    asio::awaitable<void> Fire(Clock::TimePoint intended, bool measured) {
        http::ClientRequest request = factory_.Next();
        auto deadline = core::Deadline::After(clock_, options_.timeout);
        ++in_flight_;
        result_.max_in_flight = std::max(result_.max_in_flight, in_flight_);
        auto response = co_await client_.Send(std::move(request), deadline);
        --in_flight_;
        result_.connections_opened_max = std::max(result_.connections_opened_max, client_.Open());
        auto done = clock_.Now();
        if (!measured) co_return;
        last_completion_ = std::max(last_completion_, done);
        if (response) {
            ++result_.responses;
            ++result_.statuses[response->status];
            result_.samples.push_back(
                {(done - intended).count(), response->status, (intended - measure_start_).count()});
        } else {
            ++result_.errors;
            ++result_.error_kinds[std::string(http::ToString(response.error().kind))];
            if (result_.error_samples.size() < kErrorSamples) result_.error_samples.push_back(response.error().message);
        }
    }

    asio::awaitable<void> Progress() {
        while (!issuing_done_) {
            progress_timer_.expires_after(std::chrono::seconds(1));
            boost::system::error_code ignored;
            co_await progress_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
            if (issuing_done_) break;
            double elapsed = std::chrono::duration<double>(clock_.Now() - start_).count();
            *progress_ << "  " << std::fixed << std::setprecision(1) << std::setw(6) << elapsed << " s  sent "
                       << result_.sent << "  answered " << result_.responses << "  errors " << result_.errors
                       << "  in flight " << in_flight_ << "  connections " << client_.Open()
                       << (clock_.Now() < measure_start_ ? "  (warm-up)" : "") << "\n"
                       << std::flush;
        }
    }

    const LoadOptions& options_;
    std::ostream* progress_;
    asio::io_context io_{1};
    core::SteadyClock clock_;
    http::Client client_;
    RequestFactory factory_;
    asio::steady_timer progress_timer_;

    Clock::TimePoint start_{};
    Clock::TimePoint measure_start_{};
    std::optional<Clock::TimePoint> issue_end_;
    Clock::TimePoint last_completion_{};
    int workers_left_ = 0;
    std::size_t in_flight_ = 0;
    bool issuing_done_ = false;
    RunResult result_;
};

}  // namespace

RunResult RunLoad(const LoadOptions& options, core::Random& random, std::ostream* progress) {
    LoadRun run(options, random, progress);
    return run.Run();
}

}  // namespace valerix::loadgen
