// Helpers shared by the checks (doctor.cpp) and repairs (doctor_repair.cpp).
#pragma once

#include <optional>
#include <string>

namespace loop::doctor_detail {

std::optional<std::string> claim_defect(int dir, const std::string& name, const std::string& origin,
                                        bool* gone);
std::optional<std::string> session_defect(int dir, const std::string& id, const std::string& origin,
                                          bool* gone);
bool fence_text_ok(const std::string& text);
std::string plural(size_t n, const char* one, const char* many);

} // namespace loop::doctor_detail
