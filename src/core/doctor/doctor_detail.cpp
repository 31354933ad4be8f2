// Helpers shared by the checks and the repairs of loop doctor.
#include "core/doctor/doctor_detail.hpp"

#include "core/error.hpp"
#include "core/supervisor/supervisor_lock.hpp"
#include "core/text.hpp"
#include "os/doctor_fs.hpp"
#include "os/fs.hpp"
#include "os/proc.hpp"
#include "store/file/lock_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

namespace loop {

namespace doctor_detail {

// The subdirectories of a home that loop creates.
const char* const kSubdirs[] = {"claims", "locks", "sessions", "txn", "logs", "corrupt", "wake"};

const char* const kRecordAdvice = "; run 'loop doctor --repair' or remove the file";

// A file name as it can be printed on one line: control bytes, bytes
// outside ASCII and backslashes become \xNN.
std::string printable(const std::string& name) {
    std::string out;
    for (unsigned char c : name) {
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string octal(unsigned mode) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", mode);
    return buf;
}

const char* type_name(os::FileFacts::Type t) {
    switch (t) {
    case os::FileFacts::Type::File:
        return "a file";
    case os::FileFacts::Type::Directory:
        return "a directory";
    case os::FileFacts::Type::Symlink:
        return "a symlink";
    case os::FileFacts::Type::Other:
        break;
    }
    return "a special file";
}

// What a record parser said, without the file name in front and the advice
// (which is what doctor itself does) behind.
std::string what_is_wrong(const Error& e, const std::string& origin) {
    std::string m = e.message();
    if (m.rfind(origin + ": ", 0) == 0) m.erase(0, origin.size() + 2);
    if (size_t at = m.find(kRecordAdvice); at != std::string::npos) m.erase(at);
    return m;
}

// Why the file name `file` is no record name: `own_name` is what it stands
// for (a claim name decoded, a session id as it is), `problem` why not.
std::string bad_file_name(const std::string& file, const std::optional<std::string>& problem,
                          const std::string& decoded, const char* what) {
    if (decoded == file) return "its file name " + *problem + ", so it is no " + what;
    return "its file name does not decode to a " + std::string(what) + " ('" + printable(decoded) +
           "' " + *problem + ")";
}

// Why the record file `file` in `dir` is not a valid record, or nullopt
// when it is. *gone when it does not exist (any more). `decoded` is the
// name or id the file name stands for, `problem` why it is none; `parse`
// returns the record's own name (claim name or session id) or throws.
template <class Parse>
std::optional<std::string>
record_defect(int dir, const std::string& file, const std::string& origin, const char* what,
              const std::string& decoded, const std::optional<std::string>& problem, Parse&& parse,
              bool* gone) {
    *gone = false;
    int err = 0;
    auto facts = os::facts_at(dir, file, &err);
    if (!facts) {
        if (err == ENOENT) {
            *gone = true;
            return std::nullopt;
        }
        return std::string("cannot examine it: ") + std::strerror(err);
    }
    if (facts->type != os::FileFacts::Type::File)
        return std::string("it is ") + type_name(facts->type) + ", not a record";
    auto text = os::read_file_at(dir, file, &err);
    if (!text) {
        if (err == ENOENT) {
            *gone = true;
            return std::nullopt;
        }
        return std::string("cannot read it: ") + os::read_error_text(err);
    }
    if (problem) return bad_file_name(file, problem, decoded, what);
    try {
        std::string own = parse(*text, origin);
        if (own != decoded)
            return std::string("its ") +
                   (std::strcmp(what, "claim name") == 0 ? "'name'" : "'id'") + " field says '" +
                   printable(own) + "', not its file name";
    } catch (const Error& e) {
        return what_is_wrong(e, origin);
    }
    return std::nullopt;
}

std::string decoded_file_name(const std::string& file) {
    std::string out = file;
    for (char& c : out)
        if (c == '%') c = '/';
    return out;
}

std::optional<std::string> claim_defect(int dir, const std::string& file, const std::string& origin,
                                        bool* gone, ClaimRecord* parsed) {
    const std::string decoded = decoded_file_name(file);
    return record_defect(
        dir, file, origin, "claim name", decoded,
        file_name_claim(file) ? std::nullopt : name_problem(decoded),
        [parsed](const std::string& t, const std::string& o) {
            ClaimRecord rec = claim_from_json_text(t, o);
            std::string own = rec.name;
            if (parsed) *parsed = std::move(rec);
            return own;
        },
        gone);
}

std::optional<std::string> session_defect(int dir, const std::string& id, const std::string& origin,
                                          bool* gone) {
    return record_defect(
        dir, id, origin, "session id", id, session_id_problem(id),
        [](const std::string& t, const std::string& o) { return session_from_json_text(t, o).id; },
        gone);
}

// The fence counter of a name as FileClaimLock::next_fence reads it:
// nullopt when it would refuse it.
bool fence_text_ok(const std::string& text) {
    uint64_t value = 0;
    return parse_fence_counter(text, &value) != CounterText::Corrupt;
}

// The pid in a temp name ".tmp.<pid>.<counter>.<name>", or 0.
int temp_pid(const std::string& name) {
    const char* p = name.c_str() + 5;
    char* end = nullptr;
    long pid = std::strtol(p, &end, 10);
    if (end == p || *end != '.' || pid <= 0 || pid > 0x3fffffff) return 0;
    return static_cast<int>(pid);
}

std::vector<std::string> list_or_throw(int dir, const std::string& path) {
    int err = 0;
    auto names = os::list_dir(dir, &err);
    if (err) throw io_error("cannot list " + path, err);
    std::sort(names.begin(), names.end());
    return names;
}

std::string plural(size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

} // namespace doctor_detail

} // namespace loop
