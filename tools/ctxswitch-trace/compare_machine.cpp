// What the machine is, as far as a context switch's cost goes: the CPU, whether it is
// virtualised, and the kernel's mitigations that change what a switch (and a change of
// address space) costs: PTI, IBRS/IBPB/STIBP, read from sysfs.
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "compare.h"
#include "text.h"

namespace ctxswitch {

namespace {

std::string first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string trim(std::string s) {
    size_t b = s.find_first_not_of(" \t");
    size_t e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The value after "NAME:" in a spectre_v2 line ("...; IBPB: conditional; ..."), or "".
std::string field(const std::string& line, const std::string& name) {
    size_t at = line.find(name + ": ");
    if (at == std::string::npos)
        return "";
    at += name.size() + 2;
    size_t end = line.find_first_of(";,", at);
    return trim(line.substr(at, end == std::string::npos ? std::string::npos : end - at));
}

std::string hypervisor_signature() {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid(0x40000000, a, b, c, d);
    if (a < 0x40000000)
        return "";
    char sig[13];
    memcpy(sig, &b, 4);
    memcpy(sig + 4, &c, 4);
    memcpy(sig + 8, &d, 4);
    sig[12] = 0;
    std::string s;
    for (char ch : std::string(sig))
        if (ch >= 32 && ch < 127)
            s += ch;
    return trim(s);
#else
    return "";
#endif
}

}  // namespace

void parse_mitigations(MachineInfo& m) {
    if (m.meltdown.empty())
        m.pti = "unknown";
    else if (m.meltdown.find("PTI") != std::string::npos)
        m.pti = "on";
    else
        m.pti = "off";  // "Not affected", "Vulnerable"
    // spectre_v2: "Mitigation: Retpolines; IBPB: conditional; IBRS_FW; STIBP: disabled; ..."
    // (older kernels put IBPB and STIBP in spectre_v2_user instead)
    std::string v2 = m.spectre_v2;
    std::string mitigation = v2.rfind("Mitigation: ", 0) == 0 ? v2.substr(12) : v2;
    m.spectre_v2_mitigation = trim(mitigation.substr(0, mitigation.find(';')));
    if (m.spectre_v2_mitigation.empty())
        m.spectre_v2_mitigation = "not reported";
    // "Enhanced / Automatic IBRS" (+ LFENCE, + Retpolines), "Enhanced IBRS", "IBRS"
    if (m.spectre_v2_mitigation.find("Enhanced") != std::string::npos)
        m.ibrs = "eIBRS";
    else if (m.spectre_v2_mitigation.find("IBRS") != std::string::npos)
        m.ibrs = "IBRS";
    else
        m.ibrs = "off";
    // the kernel prints "IBPB: ..." only when the CPU has IBPB (older kernels: in
    // spectre_v2_user)
    m.ibpb = field(v2, "IBPB");
    if (m.ibpb.empty())
        m.ibpb = field(m.spectre_v2_user, "IBPB");
    if (m.ibpb.empty())
        m.ibpb = m.spectre_v2.empty() ? "not reported" : "absent (the CPU offers no IBPB)";
    m.stibp = field(v2, "STIBP");
    if (m.stibp.empty())
        m.stibp = field(m.spectre_v2_user, "STIBP");
    if (m.stibp.empty())
        m.stibp = "not reported";
}

MachineInfo read_machine_info() {
    MachineInfo m;
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        size_t colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
        if (key == "model name" && m.cpu_model.empty())
            m.cpu_model = value;
        if (key == "flags") {
            std::istringstream flags(" " + value + " ");
            std::string f;
            while (flags >> f) {
                if (f == "hypervisor")
                    m.virtualised = true;
                if (f == "pcid")
                    m.pcid = true;
            }
            break;
        }
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m.cpus = n > 0 ? unsigned(n) : 0;
    struct utsname u {};
    if (uname(&u) == 0)
        m.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
    if (m.virtualised)
        m.hypervisor_signature = hypervisor_signature();
    const std::string vuln = "/sys/devices/system/cpu/vulnerabilities/";
    m.meltdown = first_line(vuln + "meltdown");
    m.spectre_v2 = first_line(vuln + "spectre_v2");
    m.spectre_v2_user = first_line(vuln + "spectre_v2_user");
    parse_mitigations(m);
    return m;
}

std::string machine_summary(const MachineInfo& m) {
    std::string virt = m.virtualised ? "virtualised" + (m.hypervisor_signature.empty()
                                                            ? std::string()
                                                            : " (CPUID hypervisor signature \"" +
                                                                  m.hypervisor_signature + "\")")
                                     : std::string("not virtualised (no CPUID hypervisor bit)");
    return tk::strprintf(
        "machine: %s, %u CPUs, %s, %s\n"
        "mitigations (sysfs): PTI %s%s; spectre_v2: %s (IBRS %s); IBPB on context switch: %s; "
        "STIBP: %s\n",
        m.cpu_model.empty() ? "unknown CPU" : m.cpu_model.c_str(), m.cpus, virt.c_str(),
        m.kernel.c_str(), m.pti.c_str(),
        m.pti != "on" ? ""
        : m.pcid      ? " (with PCID)"
                      : " (no PCID: every kernel entry and exit flushes the TLB)",
        m.spectre_v2_mitigation.c_str(), m.ibrs.c_str(), m.ibpb.c_str(), m.stibp.c_str());
}

}  // namespace ctxswitch
