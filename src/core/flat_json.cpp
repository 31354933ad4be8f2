#include "core/flat_json.hpp"

namespace loop {

namespace {

class Reader {
  public:
    explicit Reader(std::string_view t) : t_(t) {}

    std::optional<FlatObject> object() {
        FlatObject o;
        skip_space();
        if (!eat('{')) return std::nullopt;
        skip_space();
        if (eat('}')) return end(std::move(o));
        for (;;) {
            std::string key;
            skip_space();
            if (!string(key)) return std::nullopt;
            for (const auto& [k, v] : o)
                if (k == key) return std::nullopt; // nlohmann keeps the last
            skip_space();
            if (!eat(':')) return std::nullopt;
            skip_space();
            FlatValue v;
            if (!value(v)) return std::nullopt;
            o.emplace_back(std::move(key), std::move(v));
            skip_space();
            if (eat('}')) return end(std::move(o));
            if (!eat(',')) return std::nullopt;
        }
    }

  private:
    std::optional<FlatObject> end(FlatObject o) {
        skip_space();
        if (at_ != t_.size()) return std::nullopt;
        return o;
    }

    bool eat(char c) {
        if (at_ < t_.size() && t_[at_] == c) {
            ++at_;
            return true;
        }
        return false;
    }

    bool word(std::string_view w) {
        if (t_.substr(at_, w.size()) != w) return false;
        at_ += w.size();
        return true;
    }

    void skip_space() {
        while (at_ < t_.size() &&
               (t_[at_] == ' ' || t_[at_] == '\n' || t_[at_] == '\r' || t_[at_] == '\t'))
            ++at_;
    }

    bool string(std::string& out) {
        if (!eat('"')) return false;
        for (;;) {
            if (at_ >= t_.size()) return false;
            const auto c = static_cast<unsigned char>(t_[at_++]);
            if (c == '"') return true;
            if (c < 0x20 || c >= 0x80) return false;
            if (c != '\\') {
                out.push_back(static_cast<char>(c));
                continue;
            }
            if (at_ >= t_.size()) return false;
            switch (t_[at_++]) {
            case '"':
                out.push_back('"');
                break;
            case '\\':
                out.push_back('\\');
                break;
            case '/':
                out.push_back('/');
                break;
            case 'b':
                out.push_back('\b');
                break;
            case 'f':
                out.push_back('\f');
                break;
            case 'n':
                out.push_back('\n');
                break;
            case 'r':
                out.push_back('\r');
                break;
            case 't':
                out.push_back('\t');
                break;
            default:
                return false; // \u and anything invalid
            }
        }
    }

    bool number(FlatValue& v) {
        const bool negative = eat('-');
        if (at_ >= t_.size() || t_[at_] < '0' || t_[at_] > '9') return false;
        uint64_t n = 0;
        if (t_[at_] == '0') {
            ++at_;
        } else {
            while (at_ < t_.size() && t_[at_] >= '0' && t_[at_] <= '9') {
                const auto d = static_cast<uint64_t>(t_[at_++] - '0');
                if (n > (UINT64_MAX - d) / 10) return false; // nlohmann: a float
                n = n * 10 + d;
            }
        }
        // A fraction, an exponent, a leading zero: not an integer read here.
        if (at_ < t_.size() && (t_[at_] == '.' || t_[at_] == 'e' || t_[at_] == 'E' ||
                                (t_[at_] >= '0' && t_[at_] <= '9')))
            return false;
        if (negative) {
            if (n > static_cast<uint64_t>(INT64_MAX) + 1) return false;
            v.kind = FlatValue::Kind::Negative;
            v.i = n == static_cast<uint64_t>(INT64_MAX) + 1 ? INT64_MIN : -static_cast<int64_t>(n);
        } else {
            v.kind = FlatValue::Kind::Unsigned;
            v.u = n;
        }
        return true;
    }

    bool value(FlatValue& v) {
        if (at_ >= t_.size()) return false;
        switch (t_[at_]) {
        case '"':
            v.kind = FlatValue::Kind::String;
            return string(v.text);
        case 't':
            v.kind = FlatValue::Kind::True;
            return word("true");
        case 'f':
            v.kind = FlatValue::Kind::False;
            return word("false");
        case 'n':
            v.kind = FlatValue::Kind::Null;
            return word("null");
        default:
            return number(v);
        }
    }

    std::string_view t_;
    size_t at_ = 0;
};

} // namespace

std::optional<FlatObject> read_flat_object(std::string_view text) {
    return Reader(text).object();
}

const FlatValue* flat_find(const FlatObject& o, std::string_view key) {
    for (const auto& [k, v] : o)
        if (k == key) return &v;
    return nullptr;
}

} // namespace loop
