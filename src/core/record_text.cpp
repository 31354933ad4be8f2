// Records written and read in one pass, where their text is plain: the
// claim path writes a claim record and reads a session record on every
// claim, and nlohmann's document costs 40k to 100k instructions for each.
#include "core/flat_json.hpp"
#include "core/records.hpp"
#include "core/session_fields.hpp"

#include <climits>
#include <cstdint>
#include <string_view>

namespace loop {

namespace {

// One JSON object written in key order, as nlohmann's dump() writes it;
// ok() is false once a string is not plain ASCII (then nlohmann writes it,
// or refuses it).
class FlatWriter {
  public:
    void open() {
        out_ += '{';
        first_ = true;
    }
    void close() {
        out_ += '}';
        first_ = false;
    }
    void open_array(const char* key) {
        name(key);
        out_ += '[';
        first_ = true;
    }
    void close_array() {
        out_ += ']';
        first_ = false;
    }
    void item() {
        if (!first_) out_ += ',';
        first_ = true;
    }

    void str(const char* key, std::string_view v) {
        name(key);
        text(v);
    }
    void num(const char* key, int64_t v) {
        name(key);
        out_ += std::to_string(v);
    }
    void unsigned_num(const char* key, uint64_t v) {
        name(key);
        out_ += std::to_string(v);
    }
    void null(const char* key) {
        name(key);
        out_ += "null";
    }
    void object_of(const char* key, const std::map<std::string, std::string>& m) {
        name(key);
        open();
        for (const auto& [k, v] : m) {
            name_text(k);
            text(v);
        }
        close();
    }

    bool ok() const { return ok_; }
    std::string take() { return std::move(out_) + "\n"; }

  private:
    void name(const char* key) { name_text(key); }
    void name_text(std::string_view key) {
        if (!first_) out_ += ',';
        first_ = false;
        text(key);
        out_ += ':';
    }
    void text(std::string_view v) {
        static const char hex[] = "0123456789abcdef";
        out_ += '"';
        for (char ch : v) {
            const auto c = static_cast<unsigned char>(ch);
            switch (c) {
            case '"':
                out_ += "\\\"";
                break;
            case '\\':
                out_ += "\\\\";
                break;
            case '\b':
                out_ += "\\b";
                break;
            case '\f':
                out_ += "\\f";
                break;
            case '\n':
                out_ += "\\n";
                break;
            case '\r':
                out_ += "\\r";
                break;
            case '\t':
                out_ += "\\t";
                break;
            default:
                if (c >= 0x80) {
                    ok_ = false;
                } else if (c < 0x20) {
                    out_ += "\\u00";
                    out_ += hex[c >> 4];
                    out_ += hex[c & 15];
                } else {
                    out_ += ch;
                }
            }
        }
        out_ += '"';
    }

    std::string out_;
    bool first_ = true;
    bool ok_ = true;
};

} // namespace

std::optional<std::string> session_to_flat_json(const SessionRecord& s) {
    FlatWriter w;
    w.open();
    const bool clock = !s.boot_id.empty();
    if (s.anchor) w.str("boot_id", s.anchor->boot_id);
    if (clock) w.str("clock_boot_id", s.boot_id);
    if (clock) w.num("heartbeat_boot_ms", s.heartbeat_boot_ms);
    w.num("heartbeat_ms", s.heartbeat_ms);
    w.str("host", s.host);
    w.str("id", s.id);
    w.str("kind", s.kind);
    w.str("label", s.label);
    if (s.anchor && !s.anchor->machine_id.empty()) w.str("machine_id", s.anchor->machine_id);
    w.str("nonce", s.nonce);
    if (s.pgid) w.num("pgid", *s.pgid);
    if (s.anchor)
        w.num("pid", s.anchor->pid);
    else
        w.null("pid");
    if (s.anchor && !s.anchor->pid_ns.empty()) w.str("pid_ns", s.anchor->pid_ns);
    if (s.replica)
        w.num("replica", *s.replica);
    else
        w.null("replica");
    w.num("restarts", s.restarts);
    if (s.anchor) w.unsigned_num("start_ticks", s.anchor->start_ticks);
    w.num("started_ms", s.started_ms);
    w.num("ttl_ms", s.ttl_ms);
    if (s.worker)
        w.str("worker", *s.worker);
    else
        w.null("worker");
    w.close();
    if (!w.ok()) return std::nullopt;
    return w.take();
}

std::optional<std::string> claim_to_flat_json(const ClaimRecord& c) {
    FlatWriter w;
    w.open();
    w.open_array("holders");
    for (const auto& h : c.holders) {
        w.item();
        w.open();
        w.num("acquired_ms", h.acquired_ms);
        if (!h.boot_id.empty()) {
            w.str("boot_id", h.boot_id);
            w.num("expires_boot_ms", h.expires_boot_ms);
        }
        w.num("expires_ms", h.expires_ms);
        w.unsigned_num("fence", h.fence);
        w.object_of("meta", h.meta);
        w.str("nonce", h.nonce);
        w.num("pid", h.pid);
        w.str("reason", h.reason);
        w.str("session", h.session);
        w.num("ttl_ms", h.ttl_ms);
        if (!h.txn.empty()) w.str("txn", h.txn);
        w.close();
    }
    w.close_array();
    w.str("mode", mode_name(c.mode));
    w.str("name", c.name);
    w.close();
    if (!w.ok()) return std::nullopt;
    return w.take();
}

std::string to_json_text(const SessionRecord& s) {
    if (std::optional<std::string> t = session_to_flat_json(s)) return std::move(*t);
    return session_to_json_dom(s);
}

std::string to_json_text(const ClaimRecord& c) {
    if (std::optional<std::string> t = claim_to_flat_json(c)) return std::move(*t);
    return claim_to_json_dom(c);
}

namespace {

// session_from_fields over a flat object; ok() is false where the document
// would find the record corrupt (it then says why).
class FlatFields {
  public:
    explicit FlatFields(const FlatObject& o) : o_(o) {}
    bool ok() const { return ok_; }

    bool has(const char* key) const {
        const FlatValue* v = flat_find(o_, key);
        return v && v->kind != FlatValue::Kind::Null;
    }
    std::string str(const char* key) {
        const FlatValue* v = flat_find(o_, key);
        if (!v || v->kind != FlatValue::Kind::String) return bad<std::string>();
        return v->text;
    }
    std::string str_or(const char* key, const char* dflt) {
        const FlatValue* v = flat_find(o_, key);
        if (!v || v->kind == FlatValue::Kind::Null) return dflt;
        if (v->kind != FlatValue::Kind::String) return bad<std::string>();
        return v->text;
    }
    int64_t integer(const char* key, int64_t lo, int64_t hi) {
        const FlatValue* v = flat_find(o_, key);
        if (!v) return bad<int64_t>();
        int64_t n = 0;
        if (v->kind == FlatValue::Kind::Unsigned && v->u <= static_cast<uint64_t>(INT64_MAX))
            n = static_cast<int64_t>(v->u);
        else if (v->kind == FlatValue::Kind::Negative)
            n = v->i;
        else
            return bad<int64_t>();
        if (n < lo || n > hi) return bad<int64_t>();
        return n;
    }
    int64_t integer_or(const char* key, int64_t dflt, int64_t lo, int64_t hi) {
        return has(key) ? integer(key, lo, hi) : dflt;
    }
    uint64_t unsigned_int(const char* key) {
        const FlatValue* v = flat_find(o_, key);
        if (!v || v->kind != FlatValue::Kind::Unsigned) return bad<uint64_t>();
        return v->u;
    }

  private:
    template <class T> T bad() {
        ok_ = false;
        return T{};
    }
    const FlatObject& o_;
    bool ok_ = true;
};

} // namespace

std::optional<SessionRecord> session_from_flat_json(const std::string& text) {
    std::optional<FlatObject> o = read_flat_object(text);
    if (!o) return std::nullopt;
    FlatFields f(*o);
    SessionRecord s = session_from_fields(f);
    if (!f.ok()) return std::nullopt;
    return s;
}

SessionRecord session_from_json_text(const std::string& text, const std::string& origin) {
    if (std::optional<SessionRecord> s = session_from_flat_json(text)) return std::move(*s);
    return session_from_json_dom(text, origin);
}

} // namespace loop
