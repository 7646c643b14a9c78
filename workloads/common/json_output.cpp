#include "common/json_output.h"

#include "json_text.h"
#include "output.h"

namespace wl {

void check_json_dest(const std::string& dest) {
    tk::check_writable(dest, "--json");
}

void write_json(const nlohmann::json& j, const std::string& dest) {
    if (dest.empty())
        return;
    // The toolkit's writer: stdout for "-", otherwise a temporary file renamed into place
    // (whole or not at all), given to the user who ran sudo.
    tk::write_output(dest, tk::json_text(j) + "\n");
}

}  // namespace wl
