#include "core/records.hpp"

#include "core/error.hpp"
#include "core/session_fields.hpp"

#include <nlohmann/json.hpp>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace loop {

using nlohmann::json;

const char* mode_name(Mode m) {
    return m == Mode::Shared ? "shared" : "exclusive";
}

std::string session_to_json_dom(const SessionRecord& s) {
    json j = {{"id", s.id},
              {"nonce", s.nonce},
              {"kind", s.kind},
              {"host", s.host},
              {"label", s.label},
              {"ttl_ms", s.ttl_ms},
              {"heartbeat_ms", s.heartbeat_ms},
              {"started_ms", s.started_ms},
              {"restarts", s.restarts}};
    if (s.anchor) {
        j["pid"] = s.anchor->pid;
        j["start_ticks"] = s.anchor->start_ticks;
        j["boot_id"] = s.anchor->boot_id;
        if (!s.anchor->machine_id.empty()) j["machine_id"] = s.anchor->machine_id;
        if (!s.anchor->pid_ns.empty()) j["pid_ns"] = s.anchor->pid_ns;
    } else {
        j["pid"] = nullptr;
    }
    j["worker"] = s.worker ? json(*s.worker) : json(nullptr);
    j["replica"] = s.replica ? json(*s.replica) : json(nullptr);
    if (s.pgid) j["pgid"] = *s.pgid;
    if (!s.boot_id.empty()) {
        j["clock_boot_id"] = s.boot_id;
        j["heartbeat_boot_ms"] = s.heartbeat_boot_ms;
    }
    return j.dump() + "\n";
}

namespace {

[[noreturn]] void corrupt(const std::string& origin, const std::string& what) {
    throw Error(Exit::Failure, origin + ": corrupt record (" + what +
                                   "); run 'loop doctor --repair' or remove the file");
}

json parse(const std::string& text, const std::string& origin) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) corrupt(origin, "not a JSON object");
    return j;
}

template <class T> T field(const json& j, const char* key, const std::string& origin) {
    auto it = j.find(key);
    if (it == j.end()) corrupt(origin, std::string("missing '") + key + "'");
    try {
        return it->get<T>();
    } catch (const json::exception&) {
        corrupt(origin, std::string("bad '") + key + "'");
    }
}

template <class T> T field_or(const json& j, const char* key, T dflt, const std::string& origin) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return dflt;
    try {
        return it->get<T>();
    } catch (const json::exception&) {
        corrupt(origin, std::string("bad '") + key + "'");
    }
}

// An integer in [lo, hi]. A fraction, a sign where none belongs or a value
// past the bounds is corrupt, never converted.
int64_t integer(const json& v, const char* key, int64_t lo, int64_t hi, const std::string& origin) {
    int64_t n = 0;
    if (v.is_number_unsigned()) {
        uint64_t u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(INT64_MAX)) corrupt(origin, std::string("bad '") + key + "'");
        n = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
        n = v.get<int64_t>();
    } else {
        corrupt(origin, std::string("bad '") + key + "'");
    }
    if (n < lo || n > hi) corrupt(origin, std::string("'") + key + "' out of range");
    return n;
}

int64_t integer_field(const json& j, const char* key, int64_t lo, int64_t hi,
                      const std::string& origin) {
    auto it = j.find(key);
    if (it == j.end()) corrupt(origin, std::string("missing '") + key + "'");
    return integer(*it, key, lo, hi, origin);
}

int64_t integer_field_or(const json& j, const char* key, int64_t dflt, int64_t lo, int64_t hi,
                         const std::string& origin) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return dflt;
    return integer(*it, key, lo, hi, origin);
}

int64_t time_field_or_zero(const json& j, const char* key, const std::string& origin) {
    return integer_field_or(j, key, 0, 0, kMaxRecordMs, origin);
}

int int_field_or(const json& j, const char* key, int lo, const std::string& origin) {
    return static_cast<int>(integer_field_or(j, key, 0, lo, INT_MAX, origin));
}

// A fence or a start time: any unsigned 64-bit integer, nothing else.
uint64_t unsigned_field(const json& j, const char* key, const std::string& origin) {
    auto it = j.find(key);
    if (it == j.end()) corrupt(origin, std::string("missing '") + key + "'");
    if (!it->is_number_unsigned()) corrupt(origin, std::string("bad '") + key + "'");
    return it->get<uint64_t>();
}

} // namespace

namespace {

// session_from_fields over a document: a field missing, of the wrong type
// or out of range is corrupt, and the message names it.
class DomFields {
  public:
    DomFields(json& j, const std::string& origin) : j_(j), origin_(origin) {}

    bool has(const char* key) const {
        auto it = j_.find(key);
        return it != j_.end() && !it->is_null();
    }
    std::string str(const char* key) { return field<std::string>(j_, key, origin_); }
    std::string str_or(const char* key, const char* dflt) {
        return field_or<std::string>(j_, key, dflt, origin_);
    }
    int64_t integer(const char* key, int64_t lo, int64_t hi) {
        return integer_field(j_, key, lo, hi, origin_);
    }
    int64_t integer_or(const char* key, int64_t dflt, int64_t lo, int64_t hi) {
        return integer_field_or(j_, key, dflt, lo, hi, origin_);
    }
    uint64_t unsigned_int(const char* key) { return unsigned_field(j_, key, origin_); }

  private:
    const json& j_;
    const std::string& origin_;
};

} // namespace

SessionRecord session_from_json_dom(const std::string& text, const std::string& origin) {
    json j = parse(text, origin);
    DomFields f(j, origin);
    return session_from_fields(f);
}

std::string claim_to_json_dom(const ClaimRecord& c) {
    json holders = json::array();
    for (const auto& h : c.holders) {
        json jh = {{"session", h.session},
                   {"nonce", h.nonce},
                   {"pid", h.pid},
                   {"fence", h.fence},
                   {"acquired_ms", h.acquired_ms},
                   {"expires_ms", h.expires_ms},
                   {"ttl_ms", h.ttl_ms},
                   {"reason", h.reason},
                   {"meta", h.meta}};
        if (!h.txn.empty()) jh["txn"] = h.txn;
        if (!h.boot_id.empty()) {
            jh["boot_id"] = h.boot_id;
            jh["expires_boot_ms"] = h.expires_boot_ms;
        }
        holders.push_back(std::move(jh));
    }
    json j = {{"name", c.name}, {"mode", mode_name(c.mode)}, {"holders", std::move(holders)}};
    return j.dump() + "\n";
}

ClaimRecord claim_from_json_text(const std::string& text, const std::string& origin) {
    json j = parse(text, origin);
    ClaimRecord c;
    c.name = field<std::string>(j, "name", origin);
    std::string mode = field<std::string>(j, "mode", origin);
    if (mode == "exclusive") {
        c.mode = Mode::Exclusive;
    } else if (mode == "shared") {
        c.mode = Mode::Shared;
    } else {
        corrupt(origin, "bad 'mode'");
    }
    auto hs = j.find("holders");
    if (hs == j.end() || !hs->is_array()) corrupt(origin, "missing 'holders'");
    for (const auto& jh : *hs) {
        if (!jh.is_object()) corrupt(origin, "bad holder");
        Holder h;
        h.session = field<std::string>(jh, "session", origin);
        h.nonce = field<std::string>(jh, "nonce", origin);
        h.pid = int_field_or(jh, "pid", 0, origin);
        h.fence = unsigned_field(jh, "fence", origin);
        h.acquired_ms = integer_field(jh, "acquired_ms", 0, kMaxRecordMs, origin);
        h.expires_ms = time_field_or_zero(jh, "expires_ms", origin);
        h.ttl_ms = time_field_or_zero(jh, "ttl_ms", origin);
        h.reason = field_or<std::string>(jh, "reason", "", origin);
        h.meta = field_or<std::map<std::string, std::string>>(jh, "meta", {}, origin);
        h.txn = field_or<std::string>(jh, "txn", "", origin);
        h.boot_id = field_or<std::string>(jh, "boot_id", "", origin);
        h.expires_boot_ms = time_field_or_zero(jh, "expires_boot_ms", origin);
        c.holders.push_back(std::move(h));
    }
    if (c.holders.empty()) corrupt(origin, "no holder");
    if (c.mode == Mode::Exclusive && c.holders.size() > 1) corrupt(origin, "two exclusive holders");
    return c;
}

// "PID TICKS BOOT [MACHINE PIDNS]": the host identity fields are optional,
// and "-" stands for an unknown one.
std::string txn_marker_text(const Anchor& owner) {
    auto or_dash = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
    return std::to_string(owner.pid) + " " + std::to_string(owner.start_ticks) + " " +
           or_dash(owner.boot_id) + " " + or_dash(owner.machine_id) + " " + or_dash(owner.pid_ns) +
           "\n";
}

std::optional<Anchor> txn_marker_owner(const std::string& text) {
    Anchor a;
    char boot[64] = {0}, machine[64] = {0}, ns[32] = {0};
    unsigned long long ticks = 0;
    if (std::sscanf(text.c_str(), "%d %llu %63s %63s %31s", &a.pid, &ticks, boot, machine, ns) < 2)
        return std::nullopt;
    auto known = [](const char* v) { return std::strcmp(v, "-") == 0 ? std::string() : v; };
    a.start_ticks = ticks;
    a.boot_id = known(boot);
    a.machine_id = known(machine);
    a.pid_ns = known(ns);
    return a;
}

} // namespace loop
