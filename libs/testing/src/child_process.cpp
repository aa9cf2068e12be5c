#include "valerix/testing/child_process.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "valerix/testing/files.hpp"

extern char** environ;

namespace valerix::testing {
namespace {

std::string ResolveProgram(const std::string& path) {
    if (path.find('/') != std::string::npos) {
        return path;
    }
    const char* env_path = std::getenv("PATH");
    std::string dirs = env_path != nullptr ? env_path : "/usr/local/bin:/usr/bin:/bin";
    size_t begin = 0;
    while (begin <= dirs.size()) {
        size_t end = dirs.find(':', begin);
        if (end == std::string::npos) {
            end = dirs.size();
        }
        std::string dir = dirs.substr(begin, end - begin);
        std::string candidate = (dir.empty() ? "." : dir) + "/" + path;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        begin = end + 1;
    }
    return path;  // execve reports ENOENT, which the constructor turns into a clear error
}

std::vector<std::string> BuildEnvironment(const std::vector<std::pair<std::string, std::string>>& extra_env) {
    std::vector<std::string> env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        std::string_view var(*entry);
        const std::string_view name = var.substr(0, var.find('='));
        bool overridden = false;
        for (const auto& [extra_name, value] : extra_env) {
            overridden = overridden || extra_name == name;
        }
        if (!overridden) {
            env.emplace_back(var);
        }
    }
    for (const auto& [name, value] : extra_env) {
        env.push_back(name + "=" + value);
    }
    return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (auto& s : strings) {
        pointers.push_back(s.data());
    }
    pointers.push_back(nullptr);
    return pointers;
}

class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() { Reset(); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int Get() const { return fd_; }
    void Reset() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = -1;
    }

  private:
    int fd_;
};

// In the child: tells the parent why the child could not become the program.
[[noreturn]] void ReportErrnoAndExit(int error_fd) {
    const int error = errno;
    [[maybe_unused]] const ssize_t n = ::write(error_fd, &error, sizeof(error));
    ::_exit(127);
}

// Runs in the vforked child: only async-signal-safe calls until execve (signal dispositions and the mask are the
// child's own: vfork does not share them).
[[noreturn]] void ExecChild(const char* program, char* const* argv, char* const* envp, int stdin_fd, int log_fd,
                            int error_fd, const char* working_dir, int parent_death_signal, pid_t parent) {
    if (parent_death_signal != 0) {
        if (::prctl(PR_SET_PDEATHSIG, parent_death_signal) != 0) ReportErrnoAndExit(error_fd);
        if (::getppid() != parent) ::_exit(127);  // the parent is gone already: no signal will come
    }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            sigaction(sig, &default_action, nullptr);  // fails harmlessly for the signals glibc reserves
        }
    }
    if (::dup2(stdin_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 || ::dup2(log_fd, STDERR_FILENO) < 0) {
        ReportErrnoAndExit(error_fd);
    }
    // Keep the test's other descriptors (listening sockets, pipes of other children) out of the child.
    if (::syscall(SYS_close_range, 3U, UINT_MAX, CLOSE_RANGE_CLOEXEC) != 0) {
        for (int fd = 3; fd < 4096; ++fd) {
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
    }
    if (working_dir != nullptr && ::chdir(working_dir) != 0) {
        ReportErrnoAndExit(error_fd);
    }
    ::execve(program, argv, envp);
    ReportErrnoAndExit(error_fd);
}

}  // namespace

ChildProcess::ChildProcess(std::string path, std::vector<std::string> args,
                           std::vector<std::pair<std::string, std::string>> extra_env, std::string log_path,
                           std::string working_dir, int parent_death_signal)
    : path_(std::move(path)), log_path_(std::move(log_path)) {
    // Everything that allocates happens before vfork: the test may have other threads.
    std::string program = ResolveProgram(path_);
    std::vector<std::string> argv_strings;
    argv_strings.reserve(args.size() + 1);
    argv_strings.push_back(path_);
    for (auto& arg : args) {
        argv_strings.push_back(std::move(arg));
    }
    std::vector<std::string> env_strings = BuildEnvironment(extra_env);
    std::vector<char*> argv = Pointers(argv_strings);
    std::vector<char*> envp = Pointers(env_strings);

    Fd log_fd(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (log_fd.Get() < 0) {
        throw std::system_error(errno, std::generic_category(), "ChildProcess: cannot open log " + log_path_);
    }
    Fd stdin_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (stdin_fd.Get() < 0) {
        throw std::system_error(errno, std::generic_category(), "ChildProcess: cannot open /dev/null");
    }
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "ChildProcess: pipe2");
    }
    Fd error_read(pipe_fds[0]);
    Fd error_write(pipe_fds[1]);

    // vfork, not fork: the child shares our memory until execve instead of copying our page tables, and we write to
    // no page copy-on-write afterwards. A scenario runner holding ~1 GB of records starts `ctl status` every 1.5 s;
    // with fork, those copies and the faults after them took ~40 % of its load thread. ExecChild only makes
    // async-signal-safe calls on its own stack frames and never returns (the pattern posix_spawn uses).
    const pid_t parent = ::getpid();
    const pid_t pid = ::vfork();
    if (pid < 0) {
        throw std::system_error(errno, std::generic_category(), "ChildProcess: vfork");
    }
    if (pid == 0) {
        ExecChild(program.c_str(), argv.data(), envp.data(), stdin_fd.Get(), log_fd.Get(), error_write.Get(),
                  working_dir.empty() ? nullptr : working_dir.c_str(), parent_death_signal, parent);
    }
    pid_ = pid;
    reaped_ = false;
    error_write.Reset();

    // The pipe closes on a successful exec (CLOEXEC) and carries errno when exec or setup failed.
    int child_errno = 0;
    ssize_t n;
    do {
        n = ::read(error_read.Get(), &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        KillAndReap();
        throw std::runtime_error("ChildProcess: cannot execute " + path_ + ": " + std::strerror(child_errno));
    }
}

ChildProcess::~ChildProcess() { KillAndReap(); }

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : path_(std::move(other.path_)),
      log_path_(std::move(other.log_path_)),
      pid_(other.pid_),
      reaped_(other.reaped_),
      status_(other.status_) {
    other.reaped_ = true;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        KillAndReap();
        path_ = std::move(other.path_);
        log_path_ = std::move(other.log_path_);
        pid_ = other.pid_;
        reaped_ = other.reaped_;
        status_ = other.status_;
        other.reaped_ = true;
    }
    return *this;
}

void ChildProcess::Signal(int sig) {
    if (reaped_) {
        return;
    }
    if (::kill(pid_, sig) != 0) {
        throw std::system_error(errno, std::generic_category(), "ChildProcess: kill " + std::to_string(pid_));
    }
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(1);
    while (!TryReap()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            throw std::runtime_error("ChildProcess: " + path_ + " (pid " + std::to_string(pid_) +
                                     ") still running after " + std::to_string(timeout.count()) + " ms");
        }
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
        pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
    return status_;
}

bool ChildProcess::Running() { return !TryReap(); }

std::string ChildProcess::Log() const { return ReadFile(log_path_); }

bool ChildProcess::TryReap() {
    if (reaped_) {
        return true;
    }
    int raw_status = 0;
    pid_t result;
    do {
        result = ::waitpid(pid_, &raw_status, WNOHANG);
    } while (result < 0 && errno == EINTR);
    if (result == 0) {
        return false;
    }
    if (result < 0) {
        // Only ECHILD is possible: someone else reaped it (e.g. SIGCHLD set to SIG_IGN).
        throw std::system_error(errno, std::generic_category(), "ChildProcess: waitpid " + std::to_string(pid_));
    }
    reaped_ = true;
    status_ = WIFEXITED(raw_status) ? WEXITSTATUS(raw_status) : 128 + WTERMSIG(raw_status);
    return true;
}

void ChildProcess::KillAndReap() noexcept {
    if (reaped_) {
        return;
    }
    ::kill(pid_, SIGKILL);
    int raw_status = 0;
    pid_t result;
    do {
        result = ::waitpid(pid_, &raw_status, 0);
    } while (result < 0 && errno == EINTR);
    reaped_ = true;
    if (result != pid_) {
        status_ = 128 + SIGKILL;
    } else {
        status_ = WIFEXITED(raw_status) ? WEXITSTATUS(raw_status) : 128 + WTERMSIG(raw_status);
    }
}

}  // namespace valerix::testing
