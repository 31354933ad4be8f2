// A real redis-server for the tests of the Redis backend: started on
// 127.0.0.1 with a free port and a unix socket in its own temporary
// directory, no persistence unless asked, and always stopped (SIGTERM, then
// reaped) and removed when the handle goes away, also when a test fails.
//
// Tests start with LOOP_REQUIRE_REDIS(): without redis-server installed they
// are skipped with a message (scripts/setup installs it).
#pragma once

#include "store/redis/backend_url.hpp"
#include "store/redis/redis_client.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <stdexcept>

#define LOOP_REQUIRE_REDIS()                                                                       \
    do {                                                                                           \
        if (!::loop::test::RedisServer::available()) {                                             \
            MESSAGE("redis-server is not installed: skipped (scripts/setup installs it)");         \
            return;                                                                                \
        }                                                                                          \
    } while (0)

namespace loop::test {

// A TCP port of 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    struct sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("bind: " + std::string(std::strerror(errno)));
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

class RedisServer {
  public:
    struct Options {
        bool aof = false;               // --appendonly yes (and fsync always)
        std::vector<std::string> extra; // more arguments for redis-server
    };

    static bool available() {
        const char* path = std::getenv("PATH");
        std::string dirs = path ? path : "/usr/bin:/bin";
        size_t start = 0;
        while (start <= dirs.size()) {
            size_t end = dirs.find(':', start);
            if (end == std::string::npos) end = dirs.size();
            std::string candidate = dirs.substr(start, end - start) + "/redis-server";
            if (::access(candidate.c_str(), X_OK) == 0) return true;
            start = end + 1;
        }
        return false;
    }

    RedisServer() : RedisServer(Options{}) {}
    explicit RedisServer(Options o) : opts_(std::move(o)), dir_("loop-redis") { start(); }
    ~RedisServer() { stop(); }
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    int port() const { return port_; }
    std::string socket_path() const { return dir_.sub("redis.sock"); }
    const std::string& dir() const { return dir_.path(); }

    redis::BackendUrl url(const std::string& prefix = "loop:") const {
        redis::BackendUrl u;
        u.kind = redis::BackendKind::Redis;
        u.host = "127.0.0.1";
        u.port = port_;
        u.prefix = prefix;
        u.connect_timeout_ms = 5000;
        return u;
    }
    redis::BackendUrl unix_url(const std::string& prefix = "loop:") const {
        redis::BackendUrl u = url(prefix);
        u.host.clear();
        u.socket_path = socket_path();
        return u;
    }

    // Stops the server (SIGTERM: with AOF it flushes) and starts it again
    // on the same port and directory.
    void restart() {
        stop();
        start_on(port_);
    }

    void stop() {
        if (!child_.valid() || child_.reaped()) return;
        child_.signal(SIGTERM);
        child_.finish(20'000);
    }

    std::string log() const { return read_text(dir_.sub("redis.log")); }

  private:
    void start() {
        for (int attempt = 0;; ++attempt) {
            int port = free_port();
            try {
                start_on(port);
                return;
            } catch (const std::runtime_error&) {
                // Most likely someone took the port meanwhile: another one.
                if (attempt >= 5) throw;
            }
        }
    }

    void start_on(int port) {
        port_ = port;
        std::vector<std::string> args = {"redis-server",
                                         "--port",
                                         std::to_string(port),
                                         "--bind",
                                         "127.0.0.1",
                                         "--unixsocket",
                                         socket_path(),
                                         "--unixsocketperm",
                                         "700",
                                         "--dir",
                                         dir_.path(),
                                         "--daemonize",
                                         "no",
                                         "--save",
                                         "",
                                         "--appendonly",
                                         opts_.aof ? "yes" : "no",
                                         "--appendfsync",
                                         "always"};
        args.insert(args.end(), opts_.extra.begin(), opts_.extra.end());
        const std::string log_path = dir_.sub("redis.log");
        const pid_t parent = ::getpid();
        std::fflush(stdout);
        std::fflush(stderr);
        pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(126);
            int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (out >= 0) {
                ::dup2(out, 1);
                ::dup2(out, 2);
            }
            if (in >= 0) ::dup2(in, 0);
            std::vector<char*> argv;
            for (auto& a : args)
                argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execvp("redis-server", argv.data());
            ::_exit(127);
        }
        child_ = Child(pid);
        // Ready when PING answers on both the port and the socket.
        redis::BackendUrl probe = url();
        probe.connect_timeout_ms = 500;
        redis::BackendUrl probe_unix = unix_url();
        probe_unix.connect_timeout_ms = 500;
        const int64_t deadline = os::monotonic_ms() + 20'000;
        for (int64_t pause_us = 200;; pause_us = std::min<int64_t>(pause_us * 2, 20'000)) {
            if (child_.poll()) throw std::runtime_error("redis-server exited at start: " + log());
            int answered = 0;
            for (const auto* u : {&probe, &probe_unix}) {
                try {
                    redis::RedisClient c(*u);
                    if (c.command({"PING"}).str == "PONG") ++answered;
                } catch (const Error& e) {
                    // With --requirepass the server answers NOAUTH: it is up.
                    if (e.message().find("authentication failed") != std::string::npos) ++answered;
                }
            }
            if (answered == 2) return;
            if (os::monotonic_ms() >= deadline) {
                child_.kill_and_reap();
                throw std::runtime_error("redis-server did not answer PING: " + log());
            }
            sleep_us(pause_us);
        }
    }

    Options opts_;
    TempDir dir_;
    Child child_;
    int port_ = 0;
};

} // namespace loop::test
