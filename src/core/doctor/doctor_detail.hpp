// Helpers shared by the checks (doctor.cpp) and repairs (doctor_repair.cpp).
#pragma once

#include "core/error.hpp"
#include "core/records.hpp"
#include "os/doctor_fs.hpp"

#include <optional>
#include <string>
#include <vector>

namespace loop::doctor_detail {

// The subdirectories of a home that loop creates.
extern const char* const kSubdirs[7];
extern const char* const kRecordAdvice;

std::string printable(const std::string& name);
std::string octal(unsigned mode);
const char* type_name(os::FileFacts::Type t);
std::string what_is_wrong(const Error& e, const std::string& origin);
std::optional<std::string> claim_defect(int dir, const std::string& name, const std::string& origin,
                                        bool* gone, ClaimRecord* parsed = nullptr);
std::optional<std::string> session_defect(int dir, const std::string& id, const std::string& origin,
                                          bool* gone);
bool fence_text_ok(const std::string& text);
int temp_pid(const std::string& name);
std::vector<std::string> list_or_throw(int dir, const std::string& path);
std::string plural(size_t n, const char* one, const char* many);

} // namespace loop::doctor_detail
