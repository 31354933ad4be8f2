// Small helpers shared by the files of the claim policy (claims.cpp,
// claims_release.cpp); not part of the library's interface.
#pragma once

#include "core/claims/claims.hpp"

#include <string>
#include <vector>

namespace loop::detail {

inline bool is_mine(const Holder& h, const SessionRecord& me) {
    return h.session == me.id && h.nonce == me.nonce;
}

inline ClaimRecord record_of(const std::string& name, Mode mode,
                             const std::vector<HolderView>& live) {
    ClaimRecord r{name, mode, {}};
    for (const auto& v : live)
        r.holders.push_back(v.holder);
    return r;
}

} // namespace loop::detail
