#include "core/supervisor/log_writer.hpp"

#include "core/text.hpp"
#include "os/log_file.hpp"
#include "os/proc.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace loop {

LogWriter::LogWriter(LogSink& sink, const LogSettings& settings, uint64_t size, bool torn)
    : sink_(sink), settings_(settings), size_(size),
      limit_(static_cast<uint64_t>(settings.max_size)) {
    if (torn) out_ = "\n";
}

void LogWriter::flush() {
    if (out_.empty()) return;
    if (int err = sink_.write(out_); err != 0) {
        // Never blocks the worker: what cannot be written is counted, and
        // said in the log once it can be written again.
        lost_ += out_.size();
        lost_total_ += out_.size();
        lost_err_ = err;
    } else {
        size_ += out_.size();
    }
    out_.clear();
}

void LogWriter::rotate_now() {
    flush();
    const uint64_t max = static_cast<uint64_t>(settings_.max_size);
    uint64_t now = 0;
    if (sink_.rotate(&now) == 0) {
        size_ = now;
        limit_ = std::max(max, now);
    } else {
        // Retried once the file has grown by another log_max_size.
        limit_ = size_ + max;
    }
}

void LogWriter::feed(std::string_view d, int64_t now_ms) {
    if (settings_.timestamps && now_ms != stamp_ms_) {
        stamp_ = format_time(now_ms) + " ";
        stamp_ms_ = now_ms;
    }
    const uint64_t max = static_cast<uint64_t>(settings_.max_size);
    size_t i = 0;
    while (i < d.size()) {
        size_t nl = d.find('\n', i);
        size_t end = nl == std::string_view::npos ? d.size() : nl + 1;
        if (!mid_line_) {
            if (lost_ > 0) {
                char note[160];
                std::snprintf(note, sizeof note,
                              "loop: %llu bytes of output lost: cannot write the log: %s\n",
                              static_cast<unsigned long long>(lost_), std::strerror(lost_err_));
                lost_ = 0;
                if (settings_.timestamps) out_ += stamp_;
                out_ += note;
            }
            uint64_t need = end - i + (settings_.timestamps ? stamp_.size() : 0);
            if (filled() > 0 && filled() + need > limit_) rotate_now();
            if (settings_.timestamps) out_ += stamp_;
        }
        // A line longer than log_max_size goes on in the next file.
        while (filled() + (end - i) > limit_ + max) {
            const uint64_t cap = limit_ + max;
            const uint64_t room = filled() < cap ? cap - filled() : 0;
            out_.append(d.substr(i, static_cast<size_t>(room)));
            i += static_cast<size_t>(room);
            rotate_now();
        }
        out_.append(d.substr(i, end - i));
        mid_line_ = d[end - 1] != '\n';
        i = end;
    }
    flush();
}

void LogWriter::finish() {
    if (mid_line_) out_ += '\n';
    mid_line_ = false;
    flush();
}

namespace {

class FileSink : public LogSink {
  public:
    FileSink(os::LogFile& f, int keep) : f_(f), keep_(keep) {}
    int write(std::string_view data) override { return f_.write(data); }
    int rotate(uint64_t* size) override { return f_.rotate(keep_, size); }

  private:
    os::LogFile& f_;
    int keep_;
};

} // namespace

int run_log_writer(int fd, const std::string& dir, const std::string& name,
                   const LogSettings& settings) {
    os::LogFile file;
    if (int err = file.open(dir, name); err != 0) {
        std::fprintf(stderr, "loop: cannot open %s/%s: %s\n", dir.c_str(), name.c_str(),
                     std::strerror(err));
        // The worker's output is still read (and dropped), so that it
        // never blocks on a full pipe nor dies of SIGPIPE.
        std::vector<char> buf(65536);
        while (os::read_some(fd, buf.data(), buf.size()) > 0) {
        }
        return 3;
    }
    FileSink sink(file, settings.keep);
    LogWriter w(sink, settings, file.size(), file.torn());
    // One read of what the pipe holds (its capacity), one write of it.
    std::vector<char> buf(65536);
    for (;;) {
        long n = os::read_some(fd, buf.data(), buf.size());
        if (n <= 0) break;
        w.feed(std::string_view(buf.data(), static_cast<size_t>(n)), os::now_ms());
    }
    w.finish();
    return 0;
}

} // namespace loop
