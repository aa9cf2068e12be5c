#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace valerix::testing {

/// A real process started by a test, killed and reaped at the latest by the destructor.
///
/// The child inherits the test's environment with `extra_env` overriding or adding variables, reads
/// /dev/null on stdin, and appends stdout and stderr to `log_path`. It gets no other file descriptor of the
/// test (so it cannot hold a test's listening socket open), an empty signal mask and default signal
/// handlers. It stays in the test's process group.
///
/// Not thread-safe: use one object from one thread at a time.
class ChildProcess {
  public:
    /// Starts `path` with `args` (not including argv[0], which is `path`). A `path` without a slash is
    /// looked up in PATH. `working_dir`, when not empty, is the child's current directory.
    /// Throws std::runtime_error when the log cannot be opened or the program cannot be executed
    /// (the exec error of the child is reported, e.g. "No such file or directory").
    ///
    /// `parent_death_signal`, when not 0, is sent to the child by the kernel when the thread that started it ends
    /// (prctl PR_SET_PDEATHSIG), so a test killed alone (not with its tree) does not leave it running. Start such a
    /// child from a thread that lives as long as the child should (the test's main thread).
    ChildProcess(std::string path, std::vector<std::string> args,
                 std::vector<std::pair<std::string, std::string>> extra_env, std::string log_path,
                 std::string working_dir = {}, int parent_death_signal = 0);

    /// Sends SIGKILL if the child still runs, then reaps it.
    ~ChildProcess();

    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;

    /// The child's PID; stays valid (but may name another process) after the child was reaped.
    pid_t Pid() const { return pid_; }

    /// Sends `sig` to the child. Does nothing once the child has been reaped, so it never signals a
    /// recycled PID. Throws std::system_error if kill(2) fails.
    void Signal(int sig);

    /// Waits up to `timeout` for the child to exit and returns its status: the exit code, or 128 + the
    /// signal number when a signal killed it (as a shell reports it). Returns at once when the child
    /// was already reaped. Throws std::runtime_error on timeout; the child keeps running then.
    int Wait(std::chrono::milliseconds timeout);

    /// True until the child has exited (reaps it when it has).
    bool Running();

    /// The log file's content so far.
    std::string Log() const;

    const std::string& LogPath() const { return log_path_; }

  private:
    bool TryReap();
    void KillAndReap() noexcept;

    std::string path_;
    std::string log_path_;
    pid_t pid_ = -1;
    bool reaped_ = true;
    int status_ = -1;
};

}  // namespace valerix::testing
