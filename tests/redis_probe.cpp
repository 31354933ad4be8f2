// One fresh process of the Redis backend's claim path, for the figures of
// redis_scripts_test.cpp: connect (and AUTH), run the acquire script for one
// name, close. Usage: redis_probe URL SESSION NONCE NAME; exit 0 when
// acquired (or already held), 1 busy, 3 on an error (printed).
#include "core/error.hpp"
#include "store/redis/backend_url.hpp"
#include "store/redis/redis_client.hpp"
#include "store/redis/redis_scripts.hpp"

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: redis_probe URL SESSION NONCE NAME\n");
        return 2;
    }
    try {
        loop::redis::BackendUrl url = loop::redis::parse_backend_url(argv[1]);
        loop::redis::RedisClient c(url);
        loop::redis::Keys k{url.prefix};
        loop::redis::AcquireArgs a;
        a.who = {argv[2], argv[3]};
        a.names = {argv[4]};
        auto r = loop::redis::acquire(c, k, a);
        return r.status == loop::redis::AcquireResult::Status::Acquired ? 0 : 1;
    } catch (const loop::Error& e) {
        std::fprintf(stderr, "redis_probe: %s\n", e.message().c_str());
        return 3;
    }
}
