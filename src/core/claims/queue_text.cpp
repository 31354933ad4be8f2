#include "core/claims/queue_text.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace loop {

namespace {

void append_num(std::string& out, uint64_t v, bool negative = false) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    if (negative) out += '-';
    out.append(buf, r.ptr);
    out += ' ';
}

void append_signed(std::string& out, int64_t v) {
    if (v < 0)
        append_num(out, 0 - static_cast<uint64_t>(v), true);
    else
        append_num(out, static_cast<uint64_t>(v));
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// The next whitespace-separated token of `line` from *at; empty at its end.
std::string_view next_token(std::string_view line, size_t* at) {
    size_t i = *at;
    while (i < line.size() && is_space(line[i]))
        ++i;
    size_t start = i;
    while (i < line.size() && !is_space(line[i]))
        ++i;
    *at = i;
    return line.substr(start, i - start);
}

// The whole token as a number of type T (no sign for an unsigned one).
template <typename T> bool number(std::string_view tok, T* out) {
    if (tok.empty() || tok[0] == '+') return false;
    auto r = std::from_chars(tok.data(), tok.data() + tok.size(), *out);
    return r.ec == std::errc() && r.ptr == tok.data() + tok.size();
}

bool is_token(std::string_view s) {
    return !s.empty() && s.size() <= 200 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

bool parse_line(std::string_view line, WaitTicket* t) {
    size_t at = 0;
    std::string_view tok[8];
    for (auto& x : tok)
        if ((x = next_token(line, &at)).empty()) return false;
    if (!next_token(line, &at).empty()) return false; // more than a ticket
    const std::string_view mode = tok[1];
    if (mode.size() != 1 || std::string_view("xsXS").find(mode[0]) == std::string_view::npos)
        return false;
    if (!number(tok[0], &t->seq) || !number(tok[2], &t->pid) || !number(tok[3], &t->start_ticks) ||
        !number(tok[4], &t->since_ms) || !number(tok[5], &t->seen_ms))
        return false;
    t->mode = mode[0] == 's' || mode[0] == 'S' ? Mode::Shared : Mode::Exclusive;
    t->alone = mode[0] == 'X' || mode[0] == 'S';
    if (t->pid <= 0 || !is_token(tok[6]) || !is_token(tok[7])) return false;
    t->id = tok[6];
    t->session = tok[7];
    return true;
}

} // namespace

std::string queue_to_text(const std::vector<WaitTicket>& q) {
    std::string out;
    out.reserve(q.size() * 96);
    for (const auto& t : q) {
        append_num(out, t.seq);
        out += t.mode == Mode::Shared ? (t.alone ? "S " : "s ") : (t.alone ? "X " : "x ");
        append_signed(out, t.pid);
        append_num(out, t.start_ticks);
        append_signed(out, t.since_ms);
        append_signed(out, t.seen_ms);
        out += t.id;
        out += ' ';
        out += t.session;
        out += '\n';
    }
    return out;
}

std::vector<WaitTicket> queue_from_text(const std::string& text) {
    std::vector<WaitTicket> q;
    const std::string_view all(text);
    size_t at = 0;
    while (at < all.size()) {
        size_t end = all.find('\n', at);
        if (end == std::string_view::npos) return {}; // torn
        WaitTicket t;
        if (!parse_line(all.substr(at, end - at), &t)) return {};
        q.push_back(std::move(t));
        at = end + 1;
    }
    std::stable_sort(q.begin(), q.end(),
                     [](const WaitTicket& a, const WaitTicket& b) { return a.seq < b.seq; });
    return q;
}

} // namespace loop
