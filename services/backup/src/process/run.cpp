#include "process/run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>
#include <vector>

#include <valerix/core/text.hpp>

extern char** environ;

namespace valerix::backup {
namespace {

std::atomic<bool> g_stopping{false};  // StopProcesses: shutdown

/// Appends, keeping the last `cap` bytes; true when something had to go.
bool AppendCapped(std::string& to, const char* data, std::size_t n, std::size_t cap) {
    to.append(data, n);
    if (to.size() <= cap) return false;
    to.erase(0, to.size() - cap);
    return true;
}

std::string LastLine(const std::string& text) {
    std::size_t end = text.find_last_not_of(" \t\r\n");
    if (end == std::string::npos) return {};
    std::size_t begin = text.rfind('\n', end);
    return text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1) + 1);
}

// pgBackRest ends a failure with "ERROR: [056]: unable to find primary cluster - cannot proceed" and, indented
// below it, "HINT: are all available clusters in recovery?": the last line alone is the hint, which points the
// wrong way when the database is simply down. The last ERROR line, with the indented lines that follow it, says
// what happened; text without one gives its last line.
std::string ErrorOrLastLine(const std::string& text) {
    std::vector<std::string_view> lines;
    for (std::size_t at = 0; at < text.size();) {
        const auto end = std::min(text.find('\n', at), text.size());
        lines.emplace_back(text.data() + at, end - at);
        at = end + 1;
    }
    for (std::size_t i = lines.size(); i-- > 0;) {
        if (lines[i].find("ERROR:") == std::string_view::npos) continue;
        std::string paragraph(core::Trim(lines[i]));
        for (std::size_t j = i + 1;
             j < lines.size() && !lines[j].empty() && (lines[j][0] == ' ' || lines[j][0] == '\t'); ++j) {
            paragraph += ' ';
            paragraph += core::Trim(lines[j]);
        }
        return paragraph;
    }
    return LastLine(text);
}

}  // namespace

void StopProcesses() { g_stopping = true; }
void AllowProcesses() { g_stopping = false; }

std::string ProcessResult::Summary() const {
    std::string line = ErrorOrLastLine(err);
    if (line.empty()) line = ErrorOrLastLine(out);
    std::string head = stopped     ? "stopped: the service is shutting down"
                       : timed_out ? "timed out"
                       : exit_code < 0 ? "could not start"
                                       : "exit " + std::to_string(exit_code);
    return line.empty() ? head : head + ": " + line;
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
    ProcessResult result;
    if (argv.empty()) {
        result.err = "no program given";
        return result;
    }
    if (options.stoppable && g_stopping) {
        result.stopped = true;
        result.err = argv[0] + ": not started, the service is shutting down";
        return result;
    }
    // Everything that allocates happens before fork: this process has other threads.
    std::vector<std::string> env_strings;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view var(*e);
        auto name = var.substr(0, var.find('='));
        bool overridden = false;
        for (const auto& [k, v] : options.extra_env) overridden = overridden || k == name;
        if (!overridden) env_strings.emplace_back(var);
    }
    for (const auto& [k, v] : options.extra_env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argvp;
    for (auto& s : args) argvp.push_back(s.data());
    argvp.push_back(nullptr);

    int out_pipe[2], err_pipe[2], exec_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    if (::pipe2(exec_pipe, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    const char* dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();

    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        sigset_t empty;
        sigemptyset(&empty);
        sigprocmask(SIG_SETMASK, &empty, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        ::setpgid(0, 0);  // its own group: a timeout kills the program and whatever it started
        // Ended with the service, even when it is killed: an orphaned upload (curl) would go on sending, holding the
        // credentials file it reads. SIGTERM, so pgBackRest and curl end cleanly. (Sent when the forking thread ends:
        // only the service's long-lived threads run programs.) A parent already gone before this: end now.
        if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent) ::_exit(127);
        int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out_pipe[1], 1) < 0 || ::dup2(err_pipe[1], 2) < 0 ||
            (dir != nullptr && ::chdir(dir) != 0)) {
            int e = errno;
            [[maybe_unused]] auto n = ::write(exec_pipe[1], &e, sizeof e);
            ::_exit(127);
        }
        ::execvpe(argvp[0], argvp.data(), envp.data());
        int e = errno;
        [[maybe_unused]] auto n = ::write(exec_pipe[1], &e, sizeof e);
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    ::close(exec_pipe[1]);
    int exec_errno = 0;
    if (::read(exec_pipe[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno) {
        ::close(exec_pipe[0]);
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        ::waitpid(pid, nullptr, 0);
        result.err = argv[0] + ": " + std::strerror(exec_errno);
        return result;
    }
    ::close(exec_pipe[0]);

    auto deadline = std::chrono::steady_clock::now() + options.timeout;
    bool term_sent = false;
    auto kill_at = deadline;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    char buffer[16384];
    int status = 0;
    bool reaped = false;
    // Reads until both pipes close; a daemon the program left behind may keep them open, so stop reading once the
    // program itself has exited and the pipes have nothing more right now.
    while (open_fds > 0) {
        if (!reaped && ::waitpid(pid, &status, WNOHANG) == pid) reaped = true;
        auto now = std::chrono::steady_clock::now();
        const bool stop = options.stoppable && g_stopping;
        if (!term_sent && (now >= deadline || stop)) {
            ::kill(-pid, SIGTERM);
            term_sent = true;
            (stop ? result.stopped : result.timed_out) = true;
            kill_at = now + std::chrono::seconds(10);
        } else if (term_sent && now >= kill_at) {
            ::kill(-pid, SIGKILL);
            kill_at = now + std::chrono::hours(1);
        }
        auto wait_until = term_sent ? kill_at : deadline;
        auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait_until - now).count();
        int n = ::poll(fds, 2, reaped ? 50 : static_cast<int>(std::clamp<long long>(wait_ms, 0, 1000)));
        if (n < 0 && errno != EINTR) break;
        if (n == 0 && reaped) break;
        for (auto& fd : fds) {
            if (fd.fd < 0 || fd.revents == 0) continue;
            ssize_t got = ::read(fd.fd, buffer, sizeof buffer);
            if (got > 0) {
                const bool is_out = fd.fd == out_pipe[0];
                bool cut = AppendCapped(is_out ? result.out : result.err, buffer, static_cast<std::size_t>(got),
                                        options.output_cap);
                if (is_out && cut) result.out_truncated = true;
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                ::close(fd.fd);
                fd.fd = -1;
                --open_fds;
            }
        }
    }
    for (auto& fd : fds) {
        if (fd.fd >= 0) ::close(fd.fd);
    }
    while (!reaped && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    return result;
}

}  // namespace valerix::backup
