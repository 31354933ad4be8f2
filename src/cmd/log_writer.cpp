// loop _ log-writer: a worker incarnation's log writer (core/supervisor/log_writer.hpp),
// started by the supervisor with the worker's output on its stdin; not for
// users to run.
#include "core/supervisor/log_writer.hpp"
#include "cmd/cmd.hpp"
#include "core/error.hpp"
#include "core/supervisor/playbook.hpp"
#include "os/process.hpp"

#include <memory>

namespace loop::cmd {

namespace {

struct WriterOpts {
    std::string dir, name;
    int64_t max_size = 0;
    int keep = 0;
    bool timestamps = false;
};

} // namespace

void add_log_writer_command(CLI::App& u, Globals& g, Action& action) {
    if (CLI::App* w = subcommand(u, g, "log-writer", "Write a worker's output to its log")) {
        w->group(""); // hidden: started by the supervisor, not by users
        auto o = std::make_shared<WriterOpts>();
        w->add_option("--dir", o->dir, "The logs directory")->required();
        w->add_option("--name", o->name, "The log file's name")->required();
        w->add_option("--max-size", o->max_size, "Bytes before a rotation")
            ->required()
            ->check(CLI::Range(kMinLogMaxSize, kMaxLogMaxSize));
        w->add_option("--keep", o->keep, "Rotated files kept")
            ->required()
            ->check(CLI::Range(1, kMaxLogKeep));
        w->add_flag("--timestamps", o->timestamps, "A timestamp per line");
        w->callback([&action, o] {
            action = [o]() -> int {
                if (o->name.find('/') != std::string::npos || o->name.empty() || o->name[0] == '.')
                    throw Error(Exit::Usage, "loop _ log-writer: --name must be a file name");
                LogSettings s;
                s.max_size = o->max_size;
                s.keep = o->keep;
                s.timestamps = o->timestamps;
                // Every byte went out with write(2) and the files are
                // closed: nothing is left for exit handlers, and a helper
                // with no environment must not stay behind in one (a leak
                // checker's stop-the-world at exit was seen spinning in a
                // detached writer).
                os::exit_now(run_log_writer(0, o->dir, o->name, s));
            };
        });
    }
}

} // namespace loop::cmd
