#include "store/redis/keeper.hpp"

#include "core/error.hpp"
#include "core/sessions/liveness.hpp"
#include "core/sessions/sessions.hpp"
#include "core/text.hpp"
#include "os/detach.hpp"
#include "os/fs.hpp"
#include "os/proc.hpp"
#include "os/spawn.hpp"
#include "store/redis/host_identity.hpp"
#include "store/redis/lua_scripts.hpp"
#include "store/redis/redis_client.hpp"
#include "store/redis/redis_scripts.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

namespace loop::redis {

namespace {

// The command line a keeper runs with (is_keeper knows one by it).
std::vector<std::string> keeper_argv(const std::string& home) {
    return {"loop", "--home", home, "_", "keeper"};
}

void say(const std::string& what) {
    std::fprintf(stderr, "%s loop keeper[%d]: %s\n", format_time(os::now_ms()).c_str(),
                 os::self_pid(), what.c_str());
    std::fflush(stderr);
}

bool flag_of(RedisClient& c, const lua::Script& s, const std::vector<std::string>& keys,
             const std::vector<std::string>& args, const char* field) {
    Value v = c.eval(s, keys, args);
    auto j = nlohmann::json::parse(v.str, nullptr, false);
    return j.is_object() && j.value(field, false);
}

// The lock file that makes the keeper one per home, backend and host (a
// home bind-mounted into a container or pid namespace is another host).
std::string lock_name(const BackendUrl& url, const HostIdentity& host) {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char ch :
         url.endpoint() + "/" + std::to_string(url.db) + "/" + url.prefix + "/" + host.key) {
        h ^= ch;
        h *= 1099511628211ull;
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "keeper-%016llx.lock", static_cast<unsigned long long>(h));
    return buf;
}

struct Keeper {
    RedisClient* c = nullptr;
    Keys k;
    HostIdentity host;
    ProcessProbe probe;
    int64_t session_ttl_ms = 0;
    int64_t tick_ms = 0; // between passes

    // A session looked after: its anchor's pid, watched unless the anchor
    // is gone and the session lives by its process group (then the next
    // pass looks again: a pidfd of a zombie would wake at once, forever).
    struct Kept {
        int pid = 0; // 0: not kept
        bool watch = true;
    };
    std::map<std::string, Kept> kept;

    // One look at every session of the host: heartbeats the live, ends the
    // dead, drops those that hold nothing.
    void pass() {
        kept.clear();
        Value members = c->command({"SMEMBERS", k.host(host.key)});
        for (const auto& m : members.elements)
            if (Kept s = look_after(m.str); s.pid) kept[m.str] = s;
    }

    // Between passes (a new session was announced, a watched anchor
    // exited): judges again only the sessions whose anchor exited, takes up
    // the new ones, and forgets those that left the host's set (a with
    // ends its own session). The rest waits for the next pass.
    void update(const std::vector<int>& exited) {
        Value members = c->command({"SMEMBERS", k.host(host.key)});
        std::set<std::string> now;
        for (const auto& m : members.elements)
            now.insert(m.str);
        for (auto it = kept.begin(); it != kept.end();) {
            const bool gone =
                std::find(exited.begin(), exited.end(), it->second.pid) != exited.end();
            Kept s = !now.count(it->first) ? Kept{} : gone ? look_after(it->first) : it->second;
            if (s.pid) {
                it->second = s;
                ++it;
            } else {
                it = kept.erase(it);
            }
        }
        for (const auto& id : now)
            if (!kept.count(id))
                if (Kept s = take_up(id); s.pid) kept[id] = s;
    }

    std::vector<int> pids() const {
        std::vector<int> out;
        for (const auto& [id, s] : kept)
            if (s.watch) out.push_back(s.pid);
        return out;
    }

    // Drops session `id` from the host when its claim index, checked
    // against the claim records, is empty (lua/keeper_drop.lua).
    bool holds_nothing(const std::string& id) {
        Value index = c->command({"SMEMBERS", k.session_claims(id)});
        std::vector<std::string> keys = {k.host(host.key), k.session_claims(id)};
        nlohmann::json names = nlohmann::json::array();
        for (const auto& m : index.elements) {
            keys.push_back(k.claim(m.str));
            names.push_back(m.str);
        }
        return flag_of(*c, lua::keeper_drop, keys, {id, names.dump()}, "dropped");
    }

    // A session new in the host's set: its claim stored or refreshed its
    // key, or the key is older (a shell's session dropped while it held
    // nothing claims again): heartbeaten now when less than two ticks are
    // left. It holds what it just claimed.
    Kept take_up(const std::string& id) { return look_after(id, true); }

    Kept look_after(const std::string& id, bool new_here = false) {
        Value raw = c->command({"GET", k.session(id)});
        std::optional<SessionRecord> s;
        if (raw.type == Value::Type::String) {
            try {
                s = session_from_json_text(raw.str, k.session(id));
            } catch (const Error& e) {
                say(e.message());
            }
        }
        if (!s || !s->anchor || !anchored_here(*s->anchor, probe)) {
            c->command({"SREM", k.host(host.key), id}); // not this host's to keep
            return {};
        }
        SessionRecord process_only = *s;
        process_only.ttl_ms = 0;
        Verdict v = session_verdict(process_only, probe.wall_ms(), probe);
        if (v.life == Life::Dead) {
            SessionEnd e = session_end(*c, k, {s->id, s->nonce});
            c->command({"SREM", k.host(host.key), id});
            say("session " + id + " is dead (" + v.why + "): ended, released " +
                std::to_string(e.released.size()) + " claim(s)");
            return {};
        }
        if (!new_here && (s->kind == "process" || s->kind == "with") && holds_nothing(id))
            return {};
        Kept out{s->anchor->pid, !s->pgid || anchor_verdict(*s->anchor, probe).life != Life::Dead};
        // The next pass comes within a tick; it must still find a tick left.
        if (new_here && c->command({"PTTL", k.session(id)}).integer > 2 * tick_ms) return out;
        // Undecidable here (it should not be: same host) is held.
        if (s->ttl_ms == 0 && !session_heartbeat(*c, k, {s->id, s->nonce}, session_ttl_ms))
            c->command({"SREM", k.host(host.key), id});
        return out;
    }
};

bool claim_keeper_key(RedisClient& c, const Keys& k, const HostIdentity& host,
                      const std::string& value, int64_t ttl_ms) {
    Value set = c.command({"SET", k.keeper(host.key), value, "PX", std::to_string(ttl_ms), "NX"});
    if (set.type == Value::Type::Status) return true;
    Value cur = c.command({"GET", k.keeper(host.key)});
    int other = cur.type == Value::Type::String ? std::atoi(cur.str.c_str()) : 0;
    if (other > 0 && other != os::self_pid() && !os::process_gone(other))
        return false; // it looks after this host
    c.command({"SET", k.keeper(host.key), value, "PX", std::to_string(ttl_ms)});
    return true;
}

} // namespace

bool is_keeper(int pid) {
    // By its command line alone, whichever file it runs: a keeper started
    // by another copy of loop (a second build, or the binary an upgrade
    // replaced) keeps this host's sessions all the same.
    const std::vector<std::string> argv = os::command_line(pid);
    return argv.size() == 5 && argv == keeper_argv(argv[2]);
}

void ensure_keeper(Home& home, const std::string& url_text, const std::string& keeper_value,
                   bool added) {
    const int pid = keeper_value.empty() ? 0 : std::atoi(keeper_value.c_str());
    // A keeper killed with SIGKILL leaves its key until it expires: one
    // whose process is gone is replaced at once (the new one takes the key).
    if (!os::process_gone(pid)) {
        if (added) os::send_signal(pid, SIGUSR1);
        return;
    }
    try {
        home.logs();
        os::spawn_detached(os::self_exe(), keeper_argv(home.path()), {{"LOOP_BACKEND", url_text}},
                           home.sub_path("logs") + "/keeper.log");
    } catch (const Error&) {
        // The claim stands; the session lives by its TTL until a keeper runs.
    }
}

int run_keeper(Home& home, const BackendUrl& url) {
    Keeper kp;
    kp.k.prefix = url.prefix;
    kp.probe = ProcessProbe::system();
    kp.host = host_identity(kp.probe);
    const std::string name = lock_name(url, kp.host);
    int err = 0;
    os::Fd lock = os::open_lock_file(home.root(), name, &err);
    if (!lock) throw io_error("cannot open " + home.path() + "/" + name, err);
    // A keeper that just left (keeper_leave) holds the lock until it has
    // exited: wait for it a little rather than leave the host without one.
    bool locked = false;
    for (int i = 0; i < 100 && !(locked = os::try_lock_exclusive(lock.get()).ok()); ++i)
        os::sleep_ms(20);
    if (!locked) return 0; // one runs for this home
    (void)os::replace_contents(lock.get(), std::to_string(os::self_pid()) + "\n");
    // The pid goes with the keeper: a stale one could name another process.
    struct ClearPid {
        int fd;
        ~ClearPid() { (void)os::replace_contents(fd, ""); }
    } clear_pid{lock.get()};

    os::HelperWaiter waiter({SIGUSR1, SIGTERM, SIGINT, SIGHUP});
    kp.session_ttl_ms = url.session_ttl_ms;
    const std::string value = std::to_string(os::self_pid()) + " " + new_nonce();
    const int tick = static_cast<int>(std::clamp<int64_t>(url.session_ttl_ms / 3, 50, 10'000));

    kp.tick_ms = tick;
    std::unique_ptr<RedisClient> client;
    bool joined = false;
    int64_t failing_since = 0;
    int64_t next_pass = 0; // monotonic ms: 0 now
    os::HelperWaiter::Wake w;
    for (;;) {
        try {
            if (!client) {
                client = std::make_unique<RedisClient>(url);
                next_pass = 0;
            }
            kp.c = client.get();
            // A whole pass every tick (the heartbeats); in between, only
            // what a wake-up is about.
            const bool between = next_pass != 0 && os::monotonic_ms() < next_pass;
            if (between) {
                kp.update(w.exited);
            } else {
                if (!joined) {
                    if (!claim_keeper_key(*client, kp.k, kp.host, value, url.session_ttl_ms))
                        return 0;
                    joined = true;
                    say("looking after host " + kp.host.name + " (" + kp.host.key + ") on " +
                        url.redacted());
                } else {
                    Value cur = client->command({"GET", kp.k.keeper(kp.host.key)});
                    if (cur.type == Value::Type::String && cur.str != value) {
                        say("another keeper took over");
                        return 0;
                    }
                    client->command({"SET", kp.k.keeper(kp.host.key), value, "PX",
                                     std::to_string(url.session_ttl_ms)});
                }
                kp.pass();
                next_pass = os::monotonic_ms() + tick;
            }
            std::vector<int> pids = kp.pids();
            // It leaves after a whole pass only: a host whose claims come
            // and go (a loop of `with`) keeps one keeper.
            if (!between && pids.empty() &&
                flag_of(*client, lua::keeper_leave,
                        {kp.k.host(kp.host.key), kp.k.keeper(kp.host.key)}, {value}, "left")) {
                say("nothing local holds a claim: done");
                return 0;
            }
            waiter.watch(pids);
            failing_since = 0;
        } catch (const Error& e) {
            say(e.message());
            client.reset();
            if (failing_since == 0) failing_since = os::monotonic_ms();
            if (os::monotonic_ms() - failing_since > url.session_ttl_ms) {
                say("redis unreachable for a whole session ttl: the sessions it kept have "
                    "expired; exiting");
                return 3;
            }
        }
        w = waiter.wait(next_pass == 0 ? tick
                                       : static_cast<int>(std::clamp<int64_t>(
                                             next_pass - os::monotonic_ms(), 0, tick)));
        for (int sig : w.signals) {
            if (sig == SIGUSR1) continue;
            // Stopped: the sessions live on their TTL; the next claim starts another.
            if (client) {
                try {
                    Value cur = client->command({"GET", kp.k.keeper(kp.host.key)});
                    if (cur.type == Value::Type::String && cur.str == value)
                        client->command({"DEL", kp.k.keeper(kp.host.key)});
                } catch (const Error&) {
                }
            }
            say("stopped by signal " + std::to_string(sig));
            return 0;
        }
    }
}

} // namespace loop::redis
