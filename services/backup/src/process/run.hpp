#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace valerix::backup {

/// What a finished child process left behind.
struct ProcessResult {
    int exit_code = -1;     ///< exit status, or 128 + signal (as a shell reports it); -1 when it could not start
    bool timed_out = false; ///< killed because it ran past the timeout
    bool stopped = false;   ///< killed (or never started) because StopProcesses was called
    std::string out;        ///< stdout (the last `output_cap` bytes)
    std::string err;        ///< stderr (the last `output_cap` bytes), or why the program could not start
    bool out_truncated = false;  ///< stdout was longer than `output_cap`: `out` lacks its beginning
    bool Ok() const { return exit_code == 0 && !timed_out; }
    /// One line for a job record: the exit status and the last line of stderr (or stdout) that names an ERROR, with
    /// the indented lines after it (pgBackRest's HINT), else its last non-empty line.
    std::string Summary() const;
};

struct ProcessOptions {
    std::chrono::milliseconds timeout{std::chrono::hours(6)};
    std::vector<std::pair<std::string, std::string>> extra_env;
    std::string working_dir = "/";
    /// How much of stdout and of stderr is kept (the end of each). A command whose output is parsed whole (a JSON
    /// listing) needs room for all of it, and checks `out_truncated`.
    std::size_t output_cap = 256 * 1024;
    /// Ended by StopProcesses. Only a cleanup that must run during shutdown (stopping a drill's scratch cluster)
    /// sets this false.
    bool stoppable = true;
};

/// Shutdown: every stoppable child running now gets SIGTERM (its whole process group; SIGKILL 10 s later, as on a
/// timeout) within a second, and stoppable children are no longer started. So a SIGTERM to the service ends its
/// pgBackRest, tar, curl and pg_ctl children instead of leaving them to outlive it.
void StopProcesses();
/// Undoes StopProcesses (for tests).
void AllowProcesses();

/// Runs `argv` (argv[0] looked up in PATH) to completion, capturing stdout and stderr, stdin from /dev/null.
/// Blocks the calling thread: call it from a worker thread, never from an I/O thread. On timeout the child gets
/// SIGTERM, then SIGKILL after 10 s. Never throws for a failing program; throws std::system_error only when the
/// process cannot be created at all (pipes, fork).
ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

}  // namespace valerix::backup
