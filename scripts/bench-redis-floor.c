/* The floor of a Redis CLI call, for scripts/bench-redis: one process that
 * connects over TCP (hiredis, linked statically, as loop is), sends one
 * command and exits. "ping" sends PING; "eval SHA" sends EVALSHA SHA 0 (a
 * script loaded beforehand). Exit status 0 when the reply is the expected
 * one, 3 otherwise. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[3], "ping") != 0 && (strcmp(argv[3], "eval") != 0 || argc < 5))) {
        fprintf(stderr, "usage: %s HOST PORT ping | eval SHA\n", argv[0]);
        return 2;
    }
    struct timeval timeout = {2, 0};
    redisContext *c = redisConnectWithTimeout(argv[1], atoi(argv[2]), timeout);
    if (c == NULL || c->err) return 3;
    redisReply *r = strcmp(argv[3], "ping") == 0 ? redisCommand(c, "PING")
                                                  : redisCommand(c, "EVALSHA %s 0", argv[4]);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) return 3;
    return 0;
}
