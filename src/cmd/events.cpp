// loop events [--follow] [--since DUR] [--json]
#include "cmd/cmd.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "os/file_tail.hpp"
#include "os/fs.hpp"
#include "os/notify.hpp"
#include "os/proc.hpp"
#include "store/redis/backend_url.hpp"
#include "store/redis/redis_events.hpp"

#include <cstdio>
#include <memory>

namespace loop::cmd {

namespace {

struct EventsOpts {
    bool follow = false, json = false;
    std::string since;
};

// Prints complete lines of `buf` that pass the filter; keeps a partial tail.
void emit(std::string& buf, int64_t since_ms, bool json) {
    size_t start = 0, nl;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
        std::string line = buf.substr(start, nl - start);
        start = nl + 1;
        auto j = nlohmann::json::parse(line, nullptr, false);
        // A malformed event is skipped (`loop doctor` reports it).
        if (j.is_discarded() || event_problem(j)) continue;
        if (since_ms > 0) {
            auto ts = parse_time(j.value("ts", ""));
            if (!ts || *ts < since_ms) continue;
        }
        if (json) {
            std::printf("%s\n", line.c_str());
            continue;
        }
        std::string out = j.value("ts", "") + " " + j.value("event", "");
        for (auto& [k, v] : j.items()) {
            if (k == "ts" || k == "event") continue;
            out += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
        }
        std::printf("%s\n", out.c_str());
    }
    buf.erase(0, start);
    std::fflush(stdout);
}

// The fleet's events on the Redis backend (a capped stream).
int run_redis_events(const redis::BackendUrl& url, int64_t since_ms, const EventsOpts& o) {
    redis::RedisClient c(url);
    redis::Keys keys;
    keys.prefix = url.prefix;
    std::string last = "0-0";
    for (;;) {
        redis::EventBatch b = redis::read_events(c, keys, last, o.follow ? 5000 : 0);
        std::string buf;
        for (const auto& l : b.lines)
            buf += l + "\n";
        emit(buf, since_ms, o.json);
        bool more = b.last_id != last;
        last = b.last_id;
        if (!o.follow && !more) return 0;
    }
}

int run_events(const Globals& g, const EventsOpts& o) {
    int64_t since_ms = 0;
    if (!o.since.empty()) {
        int64_t d = parse_duration_or_throw(o.since, "--since");
        since_ms = d == kInfinite ? 0 : os::now_ms() - d;
    }
    const std::string home = Home::resolve(g.home);
    redis::BackendUrl url = redis::parse_backend_url(chosen_backend(home, g.backend));
    if (url.kind == redis::BackendKind::Redis) return run_redis_events(url, since_ms, o);
    Core core(home);
    const std::string path = core.events.path();
    os::ChangeWaiter waiter;
    int err = 0;
    if (o.follow) waiter.watch_dirs({core.home.path()}, &err);
    os::FileTail tail(path);
    bool watching_file = false;
    std::string buf;
    for (;;) {
        int open_err = 0;
        if (tail.open(&open_err)) {
            if (o.follow && !watching_file) watching_file = waiter.watch_file(path, &err);
            tail.read_new([&](std::string_view chunk) {
                buf.append(chunk);
                emit(buf, since_ms, o.json);
            });
        } else if (open_err != 0) {
            throw io_error("cannot read " + path, open_err);
        }
        if (!o.follow) break;
        waiter.wait(-1);
    }
    return 0;
}

} // namespace

void add_events_command(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* e = subcommand(app, g, "events", "Show the event log")) {
        auto o = std::make_shared<EventsOpts>();
        e->add_flag("-f,--follow", o->follow, "Keep printing new events as they come");
        e->add_option("--since", o->since, "Only events newer than DUR (e.g. 10m)");
        e->add_flag("--json", o->json, "Print the raw JSON lines");
        e->callback([&g, &action, o] { action = [&g, o] { return run_events(g, *o); }; });
    }
}

} // namespace loop::cmd
