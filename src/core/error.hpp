// The one error type of loop: an exit code and a message a user can act on.
#pragma once

#include <exception>
#include <string>

namespace loop {

// Exit codes shared by every verb (SPEC section 3).
enum class Exit : int {
    Ok = 0,      // done
    Busy = 1,    // held by another live session, wait timed out, ...
    Usage = 2,   // bad flag, name, duration, playbook, unknown session
    Failure = 3, // I/O error, corrupt state
};

class Error : public std::exception {
  public:
    Error(Exit code, std::string message) : code_(code), message_(std::move(message)) {}
    Exit code() const { return code_; }
    const std::string& message() const { return message_; }
    const char* what() const noexcept override { return message_.c_str(); }

  private:
    Exit code_;
    std::string message_;
};

// "<what>: <strerror(err)>" as a Failure.
Error io_error(const std::string& what, int err);

} // namespace loop
