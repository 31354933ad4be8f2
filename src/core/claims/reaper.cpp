#include "core/claims/reaper.hpp"

#include "core/error.hpp"
#include "os/proc.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

namespace loop {

namespace {

// What the workers of one pass found, by the index of the name, so the
// report lists the names in order however the work was shared out.
struct NameResults {
    explicit NameResults(size_t n) : claims(n), warnings(n) {}
    std::vector<std::vector<ReapItem>> claims;
    std::vector<std::vector<std::string>> warnings;
};

// One worker: takes the next chunk of names until none is left (or another
// worker failed). Each worker has its own pass: its own verdicts (a session
// is judged at most once per worker) and its own batch of events.
void reap_some(Claims& claims, ClaimPass& pass, const std::vector<std::string>& names, bool dry_run,
               std::atomic<size_t>& next, std::atomic<bool>& stop, NameResults& out) {
    constexpr size_t kChunk = 32;
    while (!stop.load(std::memory_order_relaxed)) {
        const size_t from = next.fetch_add(kChunk);
        if (from >= names.size()) break;
        const size_t to = std::min(names.size(), from + kChunk);
        for (size_t i = from; i < to; ++i)
            out.claims[i] = claims.reap_name(names[i], dry_run, &out.warnings[i], &pass);
    }
    pass.events.flush();
}

// How many workers a pass over `n` names gets: every removal is its own
// lock, read and unlink, which the kernel runs in parallel even within one
// directory, so a large pass uses the CPUs it may run on (at most 4; more
// mostly wait on the directory's lock).
size_t workers_for(size_t n) {
    constexpr size_t kNamesPerWorker = 1024, kMaxWorkers = 4;
    const size_t cpus = static_cast<size_t>(os::cpu_count());
    return std::max<size_t>(1, std::min({cpus, kMaxWorkers, n / kNamesPerWorker}));
}

} // namespace

void Reaper::reap_claims(const std::vector<std::string>& names, bool dry_run, ClaimPass& pass,
                         ReapReport& r) {
    NameResults out(names.size());
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::exception_ptr failure;
    std::mutex failure_guard;
    auto work = [&](ClaimPass* mine) {
        try {
            if (mine) {
                reap_some(claims_, *mine, names, dry_run, next, stop, out);
            } else {
                ClaimPass own = claims_.pass();
                reap_some(claims_, own, names, dry_run, next, stop, out);
            }
        } catch (...) {
            stop = true;
            std::lock_guard<std::mutex> g(failure_guard);
            if (!failure) failure = std::current_exception();
        }
    };
    std::vector<std::thread> helpers;
    for (size_t i = 1; i < workers_for(names.size()); ++i) {
        try {
            helpers.emplace_back(work, nullptr);
        } catch (const std::system_error&) {
            break; // no thread to be had (memory, process limits): fewer do it all
        }
    }
    r.workers = helpers.size() + 1;
    work(&pass);
    for (auto& t : helpers)
        t.join();
    if (failure) std::rethrow_exception(failure);
    for (size_t i = 0; i < names.size(); ++i) {
        for (auto& item : out.claims[i])
            r.claims.push_back(std::move(item));
        for (auto& w : out.warnings[i])
            r.warnings.push_back(std::move(w));
    }
}

ReapReport Reaper::run(bool dry_run, int64_t retention_ms) {
    ReapReport r;
    auto names = claims_.store().names();
    std::sort(names.begin(), names.end());
    // Each session is judged once for the pass (once per worker), each
    // name decided under its lock, the events appended together.
    ClaimPass pass = claims_.pass();
    reap_claims(names, dry_run, pass, r);
    r.txns = claims_.reap_txns(dry_run);
    r.bells = claims_.store().reap_waiter_bells(dry_run);

    SessionRegistry& reg = sessions_.registry();
    VerdictCache& verdicts = pass.verdicts;
    const int64_t now = os::now_ms();
    auto ids = reg.ids();
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) {
        std::optional<SessionRecord> s;
        try {
            s = reg.read(id);
        } catch (const Error& e) {
            r.warnings.push_back(e.message());
            continue;
        }
        if (!s || verdicts.of_record(*s).life != Life::Dead) continue;
        auto changed = reg.changed_ms(id);
        if (changed && now - *changed < retention_ms) continue;
        if (!dry_run) {
            auto guard = reg.lock();
            auto again = reg.read(id);
            if (!again || again->nonce != s->nonce || sessions_.verdict(*again).life != Life::Dead)
                continue;
            reg.erase(id);
        }
        r.sessions.push_back(id);
    }
    return r;
}

} // namespace loop
