#include "core/strict_json.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <vector>

namespace loop {

namespace {

using json = nlohmann::json;

std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

// A first pass over the text with a SAX handler: finds where a syntax error
// is (the DOM parser does not say) and refuses duplicate keys, which a DOM
// would silently collapse to the last one.
class Scanner {
  public:
    using number_integer_t = json::number_integer_t;
    using number_unsigned_t = json::number_unsigned_t;
    using number_float_t = json::number_float_t;
    using string_t = json::string_t;
    using binary_t = json::binary_t;

    bool null() { return value(); }
    bool boolean(bool) { return value(); }
    bool number_integer(number_integer_t) { return value(); }
    bool number_unsigned(number_unsigned_t) { return value(); }
    bool number_float(number_float_t, const string_t&) { return value(); }
    bool string(string_t&) { return value(); }
    bool binary(binary_t&) { return value(); }
    bool start_object(std::size_t) { return open(true); }
    bool start_array(std::size_t) { return open(false); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(string_t& k) {
        Frame& f = stack_.back();
        f.key = k;
        if (!f.keys.insert(k).second) {
            duplicate = path();
            return false;
        }
        return true;
    }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::detail::exception& e) {
        error_at = position;
        out_of_range = e.id == 406; // a number too large for a double
        return false;
    }

    std::optional<size_t> error_at;
    bool out_of_range = false;
    std::optional<std::string> duplicate; // key path of the first duplicate key

  private:
    struct Frame {
        bool object;
        std::set<std::string> keys;
        std::string key;
        size_t count = 0;
    };

    std::string path() const {
        std::string out;
        for (size_t i = 0; i < stack_.size(); ++i) {
            const Frame& f = stack_[i];
            if (f.object) {
                out = join(out, printable(f.key, true));
            } else {
                out += "[" + std::to_string(f.count) + "]";
            }
        }
        return out;
    }
    bool value() {
        if (!stack_.empty() && !stack_.back().object) ++stack_.back().count;
        return true;
    }
    bool open(bool object) {
        stack_.push_back(Frame{object, {}, {}, 0});
        return true;
    }
    bool close() {
        stack_.pop_back();
        return value();
    }

    std::vector<Frame> stack_;
};

[[noreturn]] void syntax_error(const std::string& origin, const std::string& text, size_t position,
                               bool out_of_range) {
    // `position` counts the bytes read, the offending one included.
    std::string where;
    if (position == 0 || position > text.size()) {
        where = "unexpected end of input";
    } else {
        size_t at = position - 1;
        size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + at, '\n'));
        size_t line_start = at == 0 ? std::string::npos : text.rfind('\n', at - 1);
        line_start = line_start == std::string::npos ? 0 : line_start + 1;
        unsigned char c = static_cast<unsigned char>(text[at]);
        char what[32];
        if (out_of_range)
            std::snprintf(what, sizeof what, "number out of range");
        else if (c > 0x20 && c < 0x7f)
            std::snprintf(what, sizeof what, "'%c'", c);
        else
            std::snprintf(what, sizeof what, "byte 0x%02x", c);
        where = "line " + std::to_string(line) + ", column " + std::to_string(at - line_start + 1) +
                " (byte " + std::to_string(at + 1) + "): " + (out_of_range ? "" : "unexpected ") +
                what;
    }
    throw Error(Exit::Usage, origin + ": invalid JSON at " + where);
}

} // namespace

nlohmann::json parse_strict_json(const std::string& text, const std::string& origin) {
    Scanner scan;
    json::sax_parse(text, &scan, json::input_format_t::json, true, false);
    if (scan.duplicate)
        throw Error(Exit::Usage, origin + ": " + *scan.duplicate + ": duplicate key");
    if (scan.error_at) syntax_error(origin, text, *scan.error_at, scan.out_of_range);
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) throw Error(Exit::Usage, origin + ": invalid JSON");
    return doc;
}

} // namespace loop
