#include "valerix/testing/free_port.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <mutex>
#include <set>
#include <system_error>

namespace valerix::testing {
namespace {

// Ports of the local dev stack: a test must not take them even if they happen to be free.
constexpr std::array kReservedPorts = {3000, 3001, 3002, 3003, 5432, 5433, 8080, 9090, 9187};
constexpr int kMaxAttempts = 100;

int BindEphemeralPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "FreePort: socket");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const int error = errno;
        ::close(fd);
        throw std::system_error(error, std::generic_category(), "FreePort: bind 127.0.0.1:0");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace

int FreePort() {
    // The kernel may hand the same port to the next bind(0) once it is closed; remembering what this
    // process already handed out keeps two fixtures started in a row from colliding.
    static std::mutex mutex;
    static std::set<int> handed_out;

    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
        const int port = BindEphemeralPort();
        if (std::find(kReservedPorts.begin(), kReservedPorts.end(), port) != kReservedPorts.end()) {
            continue;
        }
        std::lock_guard lock(mutex);
        if (handed_out.insert(port).second) {
            return port;
        }
    }
    throw std::system_error(std::make_error_code(std::errc::address_in_use), "FreePort: no new free port found");
}

}  // namespace valerix::testing
