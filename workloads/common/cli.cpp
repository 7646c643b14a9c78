#include "common/cli.h"

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "errors.h"

namespace wl {

int guarded_main(const char* name, const std::function<int()>& body) {
    try {
        return body();
    } catch (const tk::UserError& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        return e.exit_code();
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s: internal error: %s: please report it with the command line\n",
                     name, e.what());
        return 1;
    }
}

void parse_options(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help
        std::exit(app.exit(e));
    } catch (const CLI::ParseError& e) {
        // CLI11's own text says what is wrong; we add what to do, on the same line.
        throw tk::UserError(std::string(e.what()) + ": see " + app.get_name() + " --help", 2);
    }
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty())
            out += sep;
        out += item;
    }
    return out;
}

}  // namespace wl
