// Helpers shared by the multi-process tests: a temporary home directory,
// forked children that are always killed and reaped, a start gate for
// races, shared memory, and running the built `loop` binary.
//
// Children never run doctest assertions: they do their work, report through
// shared memory or their exit code, and leave with _exit().
#pragma once

#include "core/claims/claims.hpp"
#include "core/claims/reaper.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "core/events.hpp"
#include "core/home.hpp"
#include "core/sessions/sessions.hpp"
#include "os/proc.hpp"
#include "store/file/file_store.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace loop::test {

namespace fs = std::filesystem;

// An acquisition request, as the tests write them.
inline AcquireRequest req(std::vector<std::string> names, Mode mode = Mode::Exclusive,
                          int64_t ttl_ms = 0) {
    AcquireRequest r;
    r.names = std::move(names);
    r.mode = mode;
    r.ttl_ms = ttl_ms;
    return r;
}

inline void sleep_ms(int64_t ms) {
    if (ms <= 0) return;
    struct timespec ts {
        static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000)
    };
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

inline void sleep_us(int64_t us) {
    if (us <= 0) return;
    struct timespec ts {
        static_cast<time_t>(us / 1000000), static_cast<long>((us % 1000000) * 1000)
    };
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

// A temporary directory, removed with everything in it when it goes away.
class TempDir {
  public:
    explicit TempDir(const char* tag = "loop-test") {
        std::string tmpl = (fs::temp_directory_path() / (std::string(tag) + ".XXXXXX")).string();
        if (::mkdtemp(tmpl.data()) == nullptr)
            throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
        path_ = tmpl;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    std::string sub(const std::string& rel) const { return path_ + "/" + rel; }

  private:
    std::string path_;
};

// Shell convention: exit code, or 128 + signal number.
inline int code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// A child process of this test. Killed (SIGKILL) and reaped when the handle
// goes away without having been waited for, so a failing test leaves no
// process behind.
class Child {
  public:
    Child() = default;
    explicit Child(pid_t pid) : pid_(pid) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    Child(Child&& o) noexcept
        : pid_(std::exchange(o.pid_, -1)), status_(o.status_), reaped_(o.reaped_) {}
    Child& operator=(Child&& o) noexcept {
        if (this != &o) {
            kill_and_reap();
            pid_ = std::exchange(o.pid_, -1);
            status_ = o.status_;
            reaped_ = o.reaped_;
        }
        return *this;
    }
    ~Child() { kill_and_reap(); }

    pid_t pid() const { return pid_; }
    bool valid() const { return pid_ > 0; }
    bool reaped() const { return reaped_; }
    int status() const { return status_; }

    // Non-blocking: true once the child has exited (and been reaped).
    bool poll() {
        if (pid_ <= 0 || reaped_) return reaped_;
        int st = 0;
        pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
            status_ = st;
            reaped_ = true;
        }
        return reaped_;
    }

    // Waits up to `timeout_ms` for the child to exit. Returns its exit code
    // (128 + signal when killed), or nullopt on timeout (the child is then
    // still running).
    std::optional<int> wait(int64_t timeout_ms = 20'000) {
        if (pid_ <= 0) return std::nullopt;
        const int64_t deadline = os::monotonic_ms() + timeout_ms;
        int64_t pause_us = 50;
        while (!poll()) {
            if (os::monotonic_ms() >= deadline) return std::nullopt;
            sleep_us(pause_us);
            if (pause_us < 2000) pause_us *= 2;
        }
        return code_of(status_);
    }

    // Exit code, killing the child first if it does not finish in time
    // (then -1).
    int finish(int64_t timeout_ms = 20'000) {
        auto c = wait(timeout_ms);
        if (c) return *c;
        kill_and_reap();
        return -1;
    }

    void signal(int sig) {
        if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
    }

    void kill_and_reap() {
        if (pid_ <= 0 || reaped_) return;
        ::kill(pid_, SIGKILL);
        int st = 0;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
        status_ = st;
        reaped_ = true;
    }

  private:
    pid_t pid_ = -1;
    int status_ = 0;
    bool reaped_ = false;
};

class Gate;
inline std::vector<Gate*>& open_gates() {
    static std::vector<Gate*> gates;
    return gates;
}

// A start gate: children block in pass() until the parent calls open(),
// which releases all of them at once (the pipe's write end closes). Every
// forked child drops its copies of the write ends at once, so a gate opens
// as soon as the parent opens it, whichever children exist.
class Gate {
  public:
    Gate() {
        if (::pipe2(fds_, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
        open_gates().push_back(this);
    }
    Gate(const Gate&) = delete;
    Gate& operator=(const Gate&) = delete;
    ~Gate() {
        open();
        if (fds_[0] >= 0) ::close(fds_[0]);
    }
    // In a child: waits for the parent to open the gate.
    void pass() {
        char c;
        while (::read(fds_[0], &c, 1) < 0 && errno == EINTR) {
        }
    }
    // In the parent.
    void open() {
        auto& g = open_gates();
        g.erase(std::remove(g.begin(), g.end(), this), g.end());
        if (fds_[1] >= 0) ::close(fds_[1]);
        fds_[1] = -1;
    }
    // In a new child: this process will never open it.
    void drop_write_end() {
        if (fds_[1] >= 0) ::close(fds_[1]);
        fds_[1] = -1;
    }

  private:
    int fds_[2] = {-1, -1};
};

// Runs `fn` in a forked child; its return value becomes the exit code. An
// exception is printed on stderr and gives exit code 10 + its Exit code for
// an Error, 98 for another exception.
template <class F> Child fork_child(F&& fn) {
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
    if (pid == 0) {
        for (Gate* g : open_gates())
            g->drop_write_end();
        open_gates().clear();
        int rc = 99;
        try {
            rc = fn();
        } catch (const Error& e) {
            std::fprintf(stderr, "child %d: loop::Error(%d): %s\n", static_cast<int>(::getpid()),
                         static_cast<int>(e.code()), e.message().c_str());
            rc = 10 + static_cast<int>(e.code());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child %d: exception: %s\n", static_cast<int>(::getpid()),
                         e.what());
            rc = 98;
        } catch (...) {
            rc = 97;
        }
        std::fflush(stdout);
        std::fflush(stderr);
        ::_exit(rc);
    }
    return Child(pid);
}

// A T in memory shared with forked children (MAP_SHARED | MAP_ANONYMOUS).
// T must be usable across processes: trivially copyable, lock-free atomics.
template <class T> class Shared {
  public:
    Shared() {
        void* p =
            ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap: " + std::string(std::strerror(errno)));
        ptr_ = new (p) T();
    }
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;
    ~Shared() {
        ptr_->~T();
        ::munmap(ptr_, sizeof(T));
    }
    T* operator->() { return ptr_; }
    T& operator*() { return *ptr_; }

  private:
    T* ptr_ = nullptr;
};

// The pieces of loop over one home, like loop::Core, with a process probe
// of the test's choosing.
struct ProbedCore {
    ProbedCore(const std::string& home_path, ProcessProbe probe)
        : home(home_path), store(home), registry(home), events(home),
          sessions(registry, events, std::move(probe)), claims(store, sessions, events),
          reaper(claims, sessions) {}

    Home home;
    FileClaimStore store;
    FileSessionRegistry registry;
    EventLog events;
    Sessions sessions;
    Claims claims;
    Reaper reaper;
};

// Files.

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

inline bool exists(const std::string& path) {
    std::error_code ec;
    return fs::symlink_status(path, ec).type() != fs::file_type::not_found;
}

// Every entry of a directory (dot files included), sorted; empty when absent.
inline std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(path, ec))
        out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

// Running the loop binary.

struct Run {
    int code = -1; // exit code, 128 + signal, -1 when it had to be killed
    std::string out, err;
};

using Env = std::vector<std::pair<std::string, std::string>>;

namespace detail {

// In a forked child: sets up the environment and execs loop. Never returns.
// It dies with the process that started it, so that no `loop` outlives a
// killed test worker.
[[noreturn]] inline void exec_loop(const std::vector<std::string>& args, const Env& env,
                                   pid_t parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::unsetenv("LOOP_SESSION_ID");
    ::unsetenv("LOOP_HOME");
    ::setenv("NO_COLOR", "1", 1);
    for (const auto& [k, v] : env)
        ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    static std::string bin = LOOP_BINARY;
    argv.push_back(bin.data());
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
}

} // namespace detail

// Starts `loop ARGS...` with `env` added (LOOP_SESSION_ID and LOOP_HOME are
// cleared first); its output goes to /dev/null. The caller waits or kills.
inline Child spawn_loop(const std::vector<std::string>& args, const Env& env) {
    const pid_t parent = ::getpid();
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
    if (pid == 0) {
        int null = ::open("/dev/null", O_RDWR);
        if (null >= 0) {
            ::dup2(null, 0);
            ::dup2(null, 1);
            ::dup2(null, 2);
        }
        detail::exec_loop(args, env, parent);
    }
    return Child(pid);
}

// Runs `loop ARGS...` to completion and captures its output. Killed after
// `timeout_ms` (code -1).
inline Run run_loop(const std::vector<std::string>& args, const Env& env,
                    int64_t timeout_ms = 20'000) {
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        throw std::runtime_error("pipe failed");
    }
    const pid_t parent = ::getpid();
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = ::fork();
    if (pid < 0) {
        for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
            ::close(fd);
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        int null = ::open("/dev/null", O_RDONLY);
        if (null >= 0) ::dup2(null, 0);
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        detail::exec_loop(args, env, parent);
    }
    Child child(pid);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    Run r;
    struct pollfd pfd[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&r.out, &r.err};
    int open_fds = 2;
    const int64_t deadline = os::monotonic_ms() + timeout_ms;
    bool timed_out = false;
    while (open_fds > 0) {
        int64_t left = deadline - os::monotonic_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int n = ::poll(pfd, 2, static_cast<int>(left));
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (pfd[i].fd < 0 || pfd[i].revents == 0) continue;
            char buf[4096];
            ssize_t got = ::read(pfd[i].fd, buf, sizeof buf);
            if (got > 0) {
                sinks[i]->append(buf, static_cast<size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                ::close(pfd[i].fd);
                pfd[i].fd = -1;
                --open_fds;
            }
        }
    }
    for (auto& p : pfd)
        if (p.fd >= 0) ::close(p.fd);
    if (timed_out) {
        child.kill_and_reap();
        r.code = -1;
        return r;
    }
    auto left = std::max<int64_t>(deadline - os::monotonic_ms(), 1000);
    r.code = child.finish(left);
    return r;
}

// Seeds: a fixed one from $LOOP_TEST_SEED (to replay a run), else random.
inline uint64_t test_seed() {
    if (const char* s = std::getenv("LOOP_TEST_SEED"); s && *s) return std::strtoull(s, nullptr, 0);
    return os::random_u64();
}

// A small, fast, reproducible generator (splitmix64).
class Rng {
  public:
    explicit Rng(uint64_t seed) : s_(seed) {}
    uint64_t next() {
        uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n).
    uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }

  private:
    uint64_t s_;
};

// A session whose process has exited: forks a child that records its
// process session in `home`, takes `names` (when any) and exits; the child
// is reaped before this returns. Returns the dead child's session.
inline SessionRecord dead_session(const std::string& home, std::vector<std::string> names = {},
                                  Mode mode = Mode::Exclusive) {
    struct Out {
        char id[128];
        int acquired;
    };
    Shared<Out> out;
    Child c = fork_child([&] {
        Core core(home);
        SessionRecord s = core.sessions.process_session(::getpid());
        std::snprintf(out->id, sizeof out->id, "%s", s.id.c_str());
        if (!names.empty()) {
            AcquireRequest req;
            req.names = names;
            req.mode = mode;
            out->acquired = core.claims.try_acquire(s, req).acquired ? 1 : 0;
        }
        return 0;
    });
    if (c.finish() != 0) throw std::runtime_error("child making a session failed");
    if (!names.empty() && out->acquired != 1)
        throw std::runtime_error("child could not take its claims");
    Core core(home);
    auto s = core.registry.read(out->id);
    if (!s) throw std::runtime_error("session of the dead child not found");
    return *s;
}

// Polls `pred` until it holds or `timeout_ms` passes.
template <class Pred> bool wait_until(Pred&& pred, int64_t timeout_ms = 20'000) {
    const int64_t deadline = os::monotonic_ms() + timeout_ms;
    int64_t pause_us = 20;
    while (!pred()) {
        if (os::monotonic_ms() >= deadline) return false;
        sleep_us(pause_us);
        if (pause_us < 1000) pause_us *= 2;
    }
    return true;
}

// A child process that takes claims under its own process session and
// keeps them (and itself) alive until exit() or kill().
class HoldingChild {
  public:
    HoldingChild(const std::string& home, std::vector<std::string> names,
                 Mode mode = Mode::Exclusive, int64_t ttl_ms = 0) {
        child_ = fork_child([&] {
            Core core(home);
            SessionRecord s = core.sessions.process_session(::getpid());
            std::snprintf(out_->id, sizeof out_->id, "%s", s.id.c_str());
            AcquireRequest req;
            req.names = names;
            req.mode = mode;
            req.ttl_ms = ttl_ms;
            AcquireOutcome o = core.claims.try_acquire(s, req);
            out_->acquired = o.acquired ? 1 : 0;
            for (size_t i = 0; i < o.granted.size() && i < 16; ++i)
                out_->fences[i] = o.granted[i].holder.fence;
            out_->state.store(1);
            gate_.pass();
            return 0;
        });
        if (!wait_until([&] { return out_->state.load() != 0 || child_.poll(); }))
            throw std::runtime_error("holding child did not start");
        if (out_->state.load() != 1) throw std::runtime_error("holding child failed");
        Core core(home);
        auto s = core.registry.read(out_->id);
        if (!s) throw std::runtime_error("holding child's session not found");
        session = *s;
        acquired = out_->acquired == 1;
        for (size_t i = 0; i < names.size() && i < 16; ++i)
            fences.push_back(out_->fences[i]);
    }

    // Lets the child exit normally (its claims stay behind, now stale).
    int exit() {
        gate_.open();
        return child_.finish();
    }
    // SIGKILL, then reaped.
    void kill() { child_.kill_and_reap(); }
    int pid() const { return child_.pid(); }

    SessionRecord session;
    bool acquired = false;
    std::vector<uint64_t> fences; // in sorted-name order

  private:
    struct Out {
        std::atomic<int> state{0};
        int acquired = 0;
        char id[128] = {};
        uint64_t fences[16] = {};
    };
    Shared<Out> out_;
    Gate gate_;
    Child child_;
};

} // namespace loop::test
