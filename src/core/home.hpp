// The state directory: where it is (SPEC section 1) and its open handles.
#pragma once

#include "os/fd.hpp"

#include <mutex>
#include <string>

namespace loop {

class Home {
  public:
    // --home DIR, $LOOP_HOME, $XDG_STATE_HOME/loop, ~/.local/state/loop.
    static std::string resolve(const std::string& flag);

    // Opens the home, creating it (mode 0700) on first use. Throws
    // Error(Failure) when another user owns it or others may write to it.
    explicit Home(std::string path);

    const std::string& path() const { return path_; }
    int root() const { return root_.get(); }

    // Subdirectories, created 0700 on first use and opened without
    // following symlinks. Throws Error(Failure) when impossible. Safe to
    // call from several threads (a reaping pass uses several).
    int claims();
    int locks();
    int sessions();
    int txns();
    int logs();
    int wake();

    std::string sub_path(const char* sub) const { return path_ + "/" + sub; }

  private:
    int sub(os::Fd& slot, const char* name);
    void check_trusted() const;

    std::string path_;
    std::mutex open_; // guards the lazy opening of the subdirectories
    os::Fd root_, claims_, locks_, sessions_, txns_, logs_, wake_;
};

} // namespace loop
