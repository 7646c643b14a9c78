#include "coredumpctl.h"

#include <cstdio>

#include "errors.h"

namespace crashlab {

namespace {

std::string described(const std::string& which) {
    return which == "last" ? std::string("the last crash") : "pid " + which;
}

}  // namespace

CoredumpctlCore find_with_coredumpctl(const std::string& which) {
    if (which != "last" && which.find_first_not_of("0123456789") != std::string::npos)
        throw tk::UserError("--coredumpctl " + which + ": give a pid or last");
    CoredumpctlCore c;
    std::string cmd = "coredumpctl --no-pager " +
                      (which == "last" ? std::string("-1 info") : "info " + which) + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) {
        c.problem = tk::errno_text("cannot run coredumpctl");
        return c;
    }
    std::string out;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;)
        out.append(buf, n);
    int status = pclose(p);
    size_t at = out.find("Storage: ");
    if (status != 0 || at == std::string::npos) {
        std::string first = out.substr(0, out.find('\n'));
        c.problem = "coredumpctl has no core for " + described(which) +
                    (first.empty() ? std::string() : " (" + first + ")");
        return c;
    }
    std::string storage = out.substr(at + 9, out.find('\n', at) - at - 9);
    c.path = storage.substr(0, storage.find(' '));
    c.present = storage.find("(present)") != std::string::npos;
    if (!c.present)
        c.problem = "coredumpctl: the core of " + described(which) + " is not kept any more (" +
                    storage + "): systemd-coredump removed it or never stored it";
    return c;
}

std::string core_from_coredumpctl(const std::string& which) {
    CoredumpctlCore c = find_with_coredumpctl(which);
    if (c.present)
        return c.path;
    if (c.path.empty())
        throw tk::UserError(c.problem + ": check `coredumpctl list`, or give the core file");
    throw tk::UserError(c.problem);
}

}  // namespace crashlab
