// The log writer of each worker incarnation (core/supervisor/log_writer.hpp): started
// before the worker, with the write end of its pipe given to the worker as
// stdout and stderr. It is the supervisor's child but in its own session,
// so it goes on when the supervisor is killed, and ends by itself at the
// end of the worker's output.
#include "core/supervisor/supervisor.hpp"
#include "os/log_pipe.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>

namespace loop {

os::Fd Supervisor::start_log_writer(const Replica& r, int* err) {
    core_.home.logs();
    const LogSettings& s = r.spec.logs;
    std::vector<std::string> argv = {"loop",
                                     "_",
                                     "log-writer",
                                     "--dir",
                                     core_.home.sub_path("logs"),
                                     "--name",
                                     r.id + ".log",
                                     "--max-size",
                                     std::to_string(s.max_size),
                                     "--keep",
                                     std::to_string(s.keep)};
    if (s.timestamps) argv.emplace_back("--timestamps");
    os::LogWriterProcess w = os::start_log_writer(argv);
    if (w.pid < 0) {
        *err = w.err ? w.err : EIO;
        return {};
    }
    log_writers_.insert(w.pid);
    spdlog::debug("{}: log writer pid {}", r.id, w.pid);
    return std::move(w.output);
}

} // namespace loop
