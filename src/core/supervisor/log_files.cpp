#include "core/supervisor/log_files.hpp"

#include "core/supervisor/playbook.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>

namespace loop {

namespace {

bool all_digits(const std::string& s) {
    return !s.empty() && s.size() <= 6 && s.find_first_not_of("0123456789") == std::string::npos;
}

// "indexer.2.log" or "indexer.2.<suffix>.log" (the redis backend's
// session ids): the set's worker and replica.
std::optional<LogTarget> replica_of(const std::string& live) {
    if (live.size() < 5 || live.compare(live.size() - 4, 4, ".log") != 0) return std::nullopt;
    const std::string id = live.substr(0, live.size() - 4);
    size_t dot = id.find('.');
    if (dot == std::string::npos) return std::nullopt;
    size_t end = id.find('.', dot + 1);
    std::string n = id.substr(dot + 1, end == std::string::npos ? end : end - dot - 1);
    std::string worker = id.substr(0, dot);
    if (worker_name_problem(worker) || !all_digits(n) || std::atoi(n.c_str()) < 1)
        return std::nullopt;
    if (end != std::string::npos && end + 1 >= id.size()) return std::nullopt;
    return LogTarget{worker, std::atoi(n.c_str())};
}

// The end of the stream of `files` (descriptor and size, newest first)
// that holds its last `n` lines (and, with `hold_partial`, a last line
// without '\n' besides them), read backwards.
std::string tail_text(const std::vector<std::pair<int, uint64_t>>& files, size_t n,
                      bool hold_partial) {
    // Backwards from the end, until the n+1-th line end (the last byte's
    // own '\n' aside).
    std::vector<std::string> chunks; // newest first
    size_t held = 0, newlines = 0, need = n;
    bool first = true, done = n == 0 && !hold_partial;
    for (size_t f = 0; f < files.size() && !done; ++f) {
        const int fd = files[f].first;
        uint64_t pos = files[f].second;
        while (pos > 0 && !done) {
            size_t len = static_cast<size_t>(std::min<uint64_t>(pos, 65536));
            pos -= len;
            std::string chunk(len, '\0');
            long got = os::read_at(fd, chunk.data(), len, pos);
            if (got < static_cast<long>(len)) chunk.resize(got > 0 ? static_cast<size_t>(got) : 0);
            for (size_t j = chunk.size(); j-- > 0;) {
                const char c = chunk[j];
                if (first) {
                    first = false;
                    if (c != '\n') {
                        // A last line without '\n': held, it is not one of the n.
                        if (hold_partial) need = n + 1;
                        continue;
                    }
                    if (n > 0) continue; // the last line's own end
                } else if (c != '\n') {
                    continue;
                }
                if (++newlines >= need) {
                    chunk.erase(0, j + 1);
                    done = true;
                    break;
                }
            }
            held += chunk.size();
            chunks.push_back(std::move(chunk));
            if (held > kMaxTailBytes) done = true;
        }
    }
    std::string text;
    for (size_t i = chunks.size(); i-- > 0;)
        text += chunks[i];
    return text;
}

} // namespace

std::optional<LogTarget> parse_log_target(const std::string& text) {
    size_t dot = text.find('.');
    LogTarget t;
    t.worker = text.substr(0, dot);
    if (worker_name_problem(t.worker)) return std::nullopt;
    if (dot == std::string::npos) return t;
    const std::string n = text.substr(dot + 1);
    if (!all_digits(n) || std::atoi(n.c_str()) < 1) return std::nullopt;
    t.replica = std::atoi(n.c_str());
    return t;
}

std::vector<LogSet> log_sets(const std::vector<std::string>& names,
                             const std::optional<LogTarget>& target) {
    std::map<std::string, LogSet> sets;
    std::map<std::string, std::map<int, std::string>> rotated;
    for (const std::string& name : names) {
        if (name.empty() || name[0] == '.') continue;
        std::string live = name;
        int k = 0;
        if (size_t at = name.rfind(".log."); at != std::string::npos) {
            const std::string num = name.substr(at + 5);
            if (!all_digits(num)) continue;
            k = std::atoi(num.c_str());
            if (k < 1) continue;
            live = name.substr(0, at + 4);
        }
        auto r = replica_of(live);
        if (!r) continue;
        if (target && (r->worker != target->worker ||
                       (target->replica != 0 && r->replica != target->replica)))
            continue;
        LogSet& s = sets[live];
        s.live = live;
        s.worker = r->worker;
        s.replica = r->replica;
        s.label = r->worker + "." + std::to_string(r->replica);
        if (k > 0) rotated[live][k] = name;
    }
    std::vector<LogSet> out;
    for (auto& [live, s] : sets) {
        for (auto& [k, name] : rotated[live])
            s.rotated.push_back(name);
        out.push_back(std::move(s));
    }
    std::sort(out.begin(), out.end(), [](const LogSet& a, const LogSet& b) {
        if (a.worker != b.worker) return a.worker < b.worker;
        if (a.replica != b.replica) return a.replica < b.replica;
        return a.live < b.live;
    });
    return out;
}

bool LogStream::open_live() {
    return open_file(set_.live);
}

bool LogStream::open_file(const std::string& name) {
    int err = 0;
    os::Fd fd = os::open_log_read(dir_, name, &err);
    if (!fd) return false;
    live_ = std::move(fd);
    live_id_ = os::file_id(live_.get());
    offset_ = 0;
    reopened_ = true;
    return true;
}

std::vector<std::string> LogStream::tail(size_t n, bool hold_partial) {
    struct File {
        os::Fd fd;
        uint64_t size = 0;
    };
    std::vector<File> files; // newest first
    std::vector<os::FileId> seen;
    if (open_live()) {
        offset_ = live_id_.size;
        files.push_back({os::Fd(), live_id_.size});
        seen.push_back(live_id_);
    }
    for (const std::string& name : set_.rotated) {
        int err = 0;
        os::Fd fd = os::open_log_read(dir_, name, &err);
        if (!fd) continue;
        os::FileId id = os::file_id(fd.get());
        // Rotated while we opened them: a file seen under two names is read once.
        if (std::any_of(seen.begin(), seen.end(), [&](const os::FileId& s) { return s == id; }))
            continue;
        seen.push_back(id);
        files.push_back({std::move(fd), id.size});
    }
    std::vector<std::pair<int, uint64_t>> order;
    for (size_t f = 0; f < files.size(); ++f)
        order.push_back({f == 0 && live_ ? live_.get() : files[f].fd.get(), files[f].size});
    partial_ = tail_text(order, n, hold_partial);
    std::vector<std::string> lines = take_lines();
    if (!hold_partial && !partial_.empty()) {
        lines.push_back(partial_);
        partial_.clear();
    }
    if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<long>(n));
    return lines;
}

void LogStream::drain_live() {
    if (!live_) return;
    if (os::file_id(live_.get()).size < offset_) offset_ = 0; // truncated
    char buf[65536];
    long got;
    while ((got = os::read_at(live_.get(), buf, sizeof buf, offset_)) > 0) {
        partial_.append(buf, static_cast<size_t>(got));
        offset_ += static_cast<uint64_t>(got);
    }
}

std::vector<std::string> LogStream::next() {
    // The file being read may have been rotated (once or more): what is
    // left of it, then the files after it in order, then the live one.
    for (int round = 0; round <= kMaxLogKeep + 1; ++round) {
        drain_live();
        os::FileId now = os::file_id_at(dir_, set_.live);
        if (live_ && now.ok && now == live_id_) break;
        if (!live_) {
            if (!now.ok || !open_file(set_.live)) break;
            continue;
        }
        drain_live(); // what was written just before the rename
        int k = 0;    // where it is now: <live>.k
        for (int i = 1; i <= kMaxLogKeep; ++i) {
            os::FileId id = os::file_id_at(dir_, set_.live + "." + std::to_string(i));
            if (!id.ok) break;
            if (id == live_id_) {
                k = i;
                break;
            }
        }
        // Not found: it was rotated away before it could be read on.
        const std::string next = k > 1 ? set_.live + "." + std::to_string(k - 1) : set_.live;
        if (!open_file(next)) break;
    }
    return take_lines();
}

std::vector<std::string> LogStream::take_lines() {
    std::vector<std::string> out;
    size_t start = 0, nl;
    while ((nl = partial_.find('\n', start)) != std::string::npos) {
        out.push_back(partial_.substr(start, nl - start));
        start = nl + 1;
    }
    partial_.erase(0, start);
    return out;
}

} // namespace loop
