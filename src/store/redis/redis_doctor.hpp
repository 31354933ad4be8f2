// loop doctor on the Redis backend: is the server reachable, will it keep
// what loop writes (maxmemory-policy must not evict, persistence), and are
// the claim records readable.
#pragma once

#include "core/doctor/doctor.hpp"
#include "store/redis/backend_url.hpp"

#include <vector>

namespace loop::redis {

std::vector<Finding> doctor_findings(const BackendUrl& url);

} // namespace loop::redis
