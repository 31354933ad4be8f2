// loop _ keeper: the Redis backend's host keeper (store/redis/keeper.hpp),
// started by claims on demand; not for users to run.
#include "store/redis/keeper.hpp"
#include "cmd/cmd.hpp"
#include "core/error.hpp"
#include "core/home.hpp"
#include "store/backend.hpp"
#include "store/redis/backend_url.hpp"

namespace loop::cmd {

void add_keeper_command(CLI::App& u, Globals& g, Action& action) {
    if (CLI::App* k = subcommand(u, g, "keeper", "Look after this host's redis sessions")) {
        k->group(""); // hidden: started by claims, not by users
        k->callback([&g, &action] {
            action = [&g] {
                Home home(Home::resolve(g.home));
                redis::BackendUrl url =
                    redis::parse_backend_url(chosen_backend(home.path(), g.backend));
                if (url.kind != redis::BackendKind::Redis)
                    throw Error(Exit::Usage, "loop _ keeper: only for the redis backend");
                return redis::run_keeper(home, url);
            };
        });
    }
}

} // namespace loop::cmd
