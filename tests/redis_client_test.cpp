// The Redis client against a real redis-server: connecting over TCP and a
// unix socket, AUTH, and every failure as Error(Failure) naming the server
// and never the password.
#include "core/error.hpp"
#include "redis_server.hpp"
#include "store/redis/lua_scripts.hpp"
#include "store/redis/redis_client.hpp"

#include <doctest/doctest.h>

using namespace loop;
using namespace loop::redis;
using namespace loop::test;

namespace {

// The Failure `fn` throws.
template <class F> Error failure_of(F&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e;
    }
    FAIL("no error thrown");
    return Error(Exit::Ok, "");
}

} // namespace

TEST_CASE("connects over TCP and a unix socket, runs commands") {
    LOOP_REQUIRE_REDIS();
    RedisServer server;
    RedisClient tcp(server.url());
    CHECK(tcp.endpoint() == "127.0.0.1:" + std::to_string(server.port()));
    CHECK(tcp.command({"PING"}).str == "PONG");
    CHECK(tcp.command({"SET", "k", std::string("a\0b", 3)}).str == "OK");
    RedisClient unix_client(server.unix_url());
    CHECK(unix_client.endpoint() == server.socket_path());
    Value v = unix_client.command({"GET", "k"});
    CHECK(v.type == Value::Type::String);
    CHECK(v.str == std::string("a\0b", 3));
    CHECK(unix_client.command({"GET", "missing"}).is_nil());
    CHECK(unix_client.command({"INCR", "n"}).integer == 1);
    Value arr = unix_client.command({"MGET", "k", "missing"});
    REQUIRE(arr.elements.size() == 2);
    CHECK(arr.elements[1].is_nil());
}

TEST_CASE("SELECT of the URL's database") {
    LOOP_REQUIRE_REDIS();
    RedisServer server;
    BackendUrl u = server.url();
    u.db = 3;
    RedisClient c3(u);
    c3.command({"SET", "where", "three"});
    RedisClient c0(server.url());
    CHECK(c0.command({"GET", "where"}).is_nil());
    u.db = 99;
    Error e = failure_of([&] { RedisClient bad(u); });
    CHECK(e.code() == Exit::Failure);
    CHECK(e.message().find("redis 127.0.0.1:") == 0);
}

TEST_CASE("a refused port is a Failure naming HOST:PORT") {
    LOOP_REQUIRE_REDIS();
    BackendUrl u;
    u.kind = BackendKind::Redis;
    u.host = "127.0.0.1";
    u.port = free_port();
    u.connect_timeout_ms = 2000;
    Error e = failure_of([&] { RedisClient c(u); });
    CHECK(e.code() == Exit::Failure);
    CAPTURE(e.message());
    CHECK(e.message().find("redis 127.0.0.1:" + std::to_string(u.port) + ": ") == 0);
    CHECK(e.message().find("refused") != std::string::npos);

    BackendUrl s;
    s.kind = BackendKind::Redis;
    s.socket_path = "/nonexistent-loop-dir/redis.sock";
    Error es = failure_of([&] { RedisClient c(s); });
    CHECK(es.code() == Exit::Failure);
    CHECK(es.message().find("redis /nonexistent-loop-dir/redis.sock: ") == 0);
}

TEST_CASE("passwords and ACL users: right one works, wrong one is a Failure without it") {
    LOOP_REQUIRE_REDIS();
    RedisServer server(RedisServer::Options{false, {"--requirepass", "RightPw-1"}});
    BackendUrl u = server.url();
    Error none = failure_of([&] { RedisClient(u).command({"PING"}); });
    CHECK(none.code() == Exit::Failure);
    CHECK(none.message().find("authentication") != std::string::npos);

    u.password = "WrongPw-12345";
    Error wrong = failure_of([&] { RedisClient c(u); });
    CAPTURE(wrong.message());
    CHECK(wrong.code() == Exit::Failure);
    CHECK(wrong.message().find("authentication failed") != std::string::npos);
    CHECK(wrong.message().find("WrongPw") == std::string::npos);

    u.password = "RightPw-1";
    RedisClient ok(u);
    CHECK(ok.command({"PING"}).str == "PONG");
    ok.command({"ACL", "SETUSER", "alice", "on", ">AlicePw-9", "~loop:*", "+@all"});

    BackendUrl a = server.url();
    a.user = "alice";
    a.password = "AlicePw-9";
    RedisClient alice(a);
    CHECK(alice.command({"SET", "loop:x", "1"}).str == "OK");
    // The ACL's key pattern: a Failure naming the reason.
    Error denied = failure_of([&] { alice.command({"SET", "other", "1"}); });
    CHECK(denied.message().find("permission denied") != std::string::npos);
    a.password = "AlicePw-wrong";
    Error bad_user = failure_of([&] { RedisClient c(a); });
    CHECK(bad_user.message().find("authentication failed") != std::string::npos);
    CHECK(bad_user.message().find("AlicePw") == std::string::npos);
}

TEST_CASE("a read-only replica and an out-of-memory server refuse writes with a Failure") {
    LOOP_REQUIRE_REDIS();
    RedisServer server;
    RedisClient c(server.url());
    c.command({"SET", "before", "1"});
    // A replica of a master that does not exist is read-only at once.
    c.command({"REPLICAOF", "127.0.0.1", std::to_string(free_port())});
    Error ro = failure_of([&] { c.command({"SET", "k", "v"}); });
    CHECK(ro.code() == Exit::Failure);
    CHECK(ro.message().find("read-only") != std::string::npos);
    Error ro_script = failure_of([&] {
        c.eval(lua::session_heartbeat, {"loop:session:s", "loop:session_claims:s"}, {"n", "1000"});
        c.eval(lua::session_put, {"loop:events", "loop:session:s", "loop:session_claims:s"},
               {R"({"id":"s","nonce":"n"})", "1000"});
    });
    CHECK(ro_script.message().find("read-only") != std::string::npos);
    c.command({"REPLICAOF", "NO", "ONE"});
    CHECK(c.command({"SET", "k", "v"}).str == "OK");

    c.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
    c.command({"CONFIG", "SET", "maxmemory", "1"});
    Error oom = failure_of([&] { c.command({"SET", "k2", "v"}); });
    CHECK(oom.message().find("out of memory") != std::string::npos);
    Error oom_script = failure_of([&] {
        c.eval(lua::session_put, {"loop:events", "loop:session:s", "loop:session_claims:s"},
               {R"({"id":"s","nonce":"n"})", "1000"});
    });
    CHECK(oom_script.message().find("out of memory") != std::string::npos);
    c.command({"CONFIG", "SET", "maxmemory", "0"});
    CHECK(c.command({"EXISTS", "loop:session:s"}).integer == 0);
}

TEST_CASE("EVALSHA falls back to SCRIPT LOAD after SCRIPT FLUSH") {
    LOOP_REQUIRE_REDIS();
    RedisServer server;
    RedisClient c(server.url());
    auto exists = [&] {
        return c.command({"SCRIPT", "EXISTS", std::string(lua::session_heartbeat.sha1)})
            .elements.at(0)
            .integer;
    };
    CHECK(exists() == 0);
    Value v = c.eval(lua::session_heartbeat, {"loop:session:s", "loop:session_claims:s"},
                     {"nonce", "1000"});
    CHECK(v.str == R"({"status":"gone"})");
    CHECK(exists() == 1);
    c.command({"SCRIPT", "FLUSH"});
    CHECK(exists() == 0);
    v = c.eval(lua::session_heartbeat, {"loop:session:s", "loop:session_claims:s"},
               {"nonce", "1000"});
    CHECK(v.str == R"({"status":"gone"})");
    CHECK(exists() == 1);
}

TEST_CASE("a script's error is a Failure naming the script") {
    LOOP_REQUIRE_REDIS();
    RedisServer server;
    RedisClient c(server.url());
    Error e = failure_of([&] {
        c.eval(lua::session_put, {"loop:events", "loop:session:s", "loop:session_claims:s"},
               {R"({"id":"s"})", "1000"});
    });
    CHECK(e.code() == Exit::Failure);
    CHECK(e.message().find("script session_put") != std::string::npos);
    CHECK(e.message().find("a record with id and nonce") != std::string::npos);
    // The connection is still good after an error reply.
    CHECK(c.command({"PING"}).str == "PONG");
}

TEST_CASE("a command timeout closes the connection: no late reply is taken for the next") {
    LOOP_REQUIRE_REDIS();
    RedisServer server;
    RedisClient c(server.url(), 100);
    Error e = failure_of([&] { c.command({"BLPOP", "nothing-comes", "5"}); });
    CHECK(e.code() == Exit::Failure);
    CHECK(e.message().find("no reply to BLPOP") != std::string::npos);
    Error after = failure_of([&] { c.command({"PING"}); });
    CHECK(after.message().find("connection closed") != std::string::npos);
}

TEST_CASE("the server going away is a Failure") {
    LOOP_REQUIRE_REDIS();
    RedisServer server;
    RedisClient c(server.url());
    CHECK(c.command({"PING"}).str == "PONG");
    server.stop();
    Error e = failure_of([&] { c.command({"PING"}); });
    CHECK(e.code() == Exit::Failure);
    CHECK(e.message().find("redis 127.0.0.1:" + std::to_string(server.port())) == 0);
}
