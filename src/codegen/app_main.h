// The host main of every generated application (emit_c.h): fixed text, no per-network content.
#pragma once

#include <string>

namespace dory {

std::string app_main_c();

}  // namespace dory
