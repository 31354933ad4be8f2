// The fields of a session record and the values each may take, written
// once for both of its readers: the one-pass reader of plain text
// (core/record_text.cpp) and nlohmann's document (core/records.cpp). A
// `Fields` source answers, for a key: has (present and not null), str,
// str_or, integer (in [lo, hi]), integer_or and unsigned_int; each refuses
// in its own way (the document throws naming the field, the one-pass
// reader gives up and leaves the text to the document).
#pragma once

#include "core/records.hpp"

#include <climits>

namespace loop {

template <class Fields> SessionRecord session_from_fields(Fields& f) {
    SessionRecord s;
    s.id = f.str("id");
    s.nonce = f.str("nonce");
    s.kind = f.str_or("kind", "explicit");
    s.host = f.str_or("host", "");
    s.label = f.str_or("label", "");
    s.ttl_ms = f.integer_or("ttl_ms", 0, 0, kMaxRecordMs);
    s.heartbeat_ms = f.integer_or("heartbeat_ms", 0, 0, kMaxRecordMs);
    s.started_ms = f.integer_or("started_ms", 0, 0, kMaxRecordMs);
    s.restarts = static_cast<int>(f.integer_or("restarts", 0, 0, INT_MAX));
    if (f.has("pid")) {
        Anchor a;
        a.pid = static_cast<int>(f.integer("pid", 1, INT_MAX));
        a.start_ticks = f.unsigned_int("start_ticks");
        a.boot_id = f.str("boot_id");
        a.machine_id = f.str_or("machine_id", "");
        a.pid_ns = f.str_or("pid_ns", "");
        s.anchor = a;
    }
    if (f.has("worker")) s.worker = f.str("worker");
    if (f.has("replica")) s.replica = static_cast<int>(f.integer_or("replica", 0, 0, INT_MAX));
    if (f.has("pgid")) s.pgid = static_cast<int>(f.integer("pgid", 2, INT_MAX));
    s.boot_id = f.str_or("clock_boot_id", "");
    s.heartbeat_boot_ms = f.integer_or("heartbeat_boot_ms", 0, 0, kMaxRecordMs);
    return s;
}

} // namespace loop
