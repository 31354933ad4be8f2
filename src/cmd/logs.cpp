// loop logs WORKER[.N] [--follow] [-n N]: a worker's captured output.
#include "cmd/cmd.hpp"
#include "core/error.hpp"
#include "core/home.hpp"
#include "core/supervisor/log_files.hpp"
#include "os/fs.hpp"
#include "os/notify.hpp"

#include <cstdio>
#include <memory>
#include <set>

namespace loop::cmd {

namespace {

struct LogsOpts {
    std::string target;
    bool follow = false;
    long long lines = 10;
};

// Every line, with "W.N | " (aligned) when several replicas are shown.
struct Printer {
    bool prefixed = false;
    size_t width = 0;
    void line(const LogSet& s, const std::string& text) const {
        if (prefixed) std::printf("%-*s | ", static_cast<int>(width), s.label.c_str());
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fputc('\n', stdout);
    }
};

std::vector<LogSet> find_sets(int dir, const LogTarget& t) {
    int err = 0;
    std::vector<std::string> names = os::list_dir(dir, &err);
    return log_sets(names, t);
}

int run_logs(const Globals& g, const LogsOpts& o) {
    auto target = parse_log_target(o.target);
    if (!target)
        throw Error(Exit::Usage, "'" + o.target +
                                     "' is not WORKER or WORKER.N (a worker name, then an "
                                     "optional replica number from 1)");
    if (o.lines < 0) throw Error(Exit::Usage, "-n: must be a number of lines >= 0");
    Home home(Home::resolve(g.home));
    const int dir = home.logs();
    std::vector<LogSet> sets = find_sets(dir, *target);
    if (sets.empty()) {
        int err = 0;
        std::set<std::string> labels;
        for (const LogSet& s : log_sets(os::list_dir(dir, &err), std::nullopt))
            labels.insert(s.label);
        std::string known;
        for (const std::string& l : labels)
            known += (known.empty() ? " " : ", ") + l;
        throw Error(Exit::Usage, "no logs of '" + o.target + "' in " + home.sub_path("logs") +
                                     (known.empty() ? " (none has been written yet)"
                                                    : " (there are logs of:" + known + ")"));
    }
    Printer p;
    p.prefixed = target->replica == 0;
    for (const LogSet& s : sets)
        p.width = std::max(p.width, s.label.size());
    std::vector<std::unique_ptr<LogStream>> streams;
    const size_t n = static_cast<size_t>(o.lines);
    for (LogSet& s : sets) {
        auto st = std::make_unique<LogStream>(dir, s);
        for (const std::string& l : st->tail(n, o.follow))
            p.line(st->set(), l);
        streams.push_back(std::move(st));
    }
    std::fflush(stdout);
    if (!o.follow) return 0;

    os::ChangeWaiter waiter;
    int err = 0;
    waiter.watch_dirs({home.sub_path("logs")}, &err);
    for (;;) {
        // Replicas that start writing after us (all of a worker's only).
        if (target->replica == 0) {
            for (LogSet& s : find_sets(dir, *target)) {
                bool known = false;
                for (auto& st : streams)
                    known = known || st->set().live == s.live;
                if (known) continue;
                p.width = std::max(p.width, s.label.size());
                streams.push_back(std::make_unique<LogStream>(dir, s));
            }
        }
        for (auto& st : streams) {
            for (const std::string& l : st->next())
                p.line(st->set(), l);
            if (st->take_reopened())
                waiter.watch_file(home.sub_path("logs") + "/" + st->set().live, &err);
        }
        std::fflush(stdout);
        // Woken by a change; the timeout is a safety net for a missed one.
        waiter.wait(1000);
    }
}

} // namespace

void add_logs_command(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* l = subcommand(app, g, "logs", "Show the captured output of a worker")) {
        auto o = std::make_shared<LogsOpts>();
        l->add_option("worker", o->target, "WORKER (every replica) or WORKER.N")->required();
        l->add_flag("-f,--follow", o->follow, "Keep printing new lines as they come");
        l->add_option("-n,--lines", o->lines, "How many of the last lines to print (default 10)");
        l->callback([&g, &action, o] { action = [&g, o] { return run_logs(g, *o); }; });
    }
}

} // namespace loop::cmd
