#include "report.h"

#include <cinttypes>
#include <cstdio>
#include <sstream>

#include "json_text.h"

namespace crashlab {

namespace {

using nlohmann::json;

// Runs of the same machine-level function longer than this are collapsed in the text.
constexpr size_t kCollapseRun = 4;

std::string pad_hex(uint64_t v) {
    char buf[24];
    snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
    return buf;
}

std::string frame_text(const FrameReport& f, bool show_pc) {
    std::string s;
    if (show_pc)
        s += pad_hex(f.pc) + " in ";
    else
        s += std::string(18, ' ') + " in ";
    if (f.function.empty())
        s += "??";
    else
        s += f.function;
    if (!f.file.empty() && f.line)
        s += " at " + f.file + ":" + std::to_string(f.line);
    if (!f.module.empty())
        s += "  [" + base_name(f.module) + (f.file.empty() ? "+" + hex(f.module_offset) : "") + "]";
    else if (f.machine_index == 0 || is_heuristic(f.trust))
        s += "  [no module]";
    if (f.inlined)
        s += "  (inlined)";
    if (f.trust == Trust::ReturnAddressAtSp)
        s += "  <- heuristic: return address found at [rsp]";
    else if (f.trust == Trust::StackScan)
        s += "  <- heuristic: found by scanning the stack";
    else if (f.trust == Trust::FramePointer)
        s += "  <- via frame pointer (no CFI)";
    return s;
}

// Frames of one thread, machine frame by machine frame, long runs of one function collapsed.
void render_frames(std::ostringstream& out, const ThreadReport& t) {
    // Machine frame boundaries in t.frames.
    std::vector<size_t> starts;
    for (size_t i = 0; i < t.frames.size(); i++)
        if (i == 0 || t.frames[i].machine_index != t.frames[i - 1].machine_index)
            starts.push_back(i);
    auto machine_name = [&](size_t m) {
        size_t end = m + 1 < starts.size() ? starts[m + 1] : t.frames.size();
        return t.frames[end - 1].function + "@" + t.frames[end - 1].module;
    };
    auto print_machine = [&](size_t m) {
        size_t end = m + 1 < starts.size() ? starts[m + 1] : t.frames.size();
        for (size_t i = starts[m]; i < end; i++) {
            char idx[16];
            snprintf(idx, sizeof idx, "#%-5zu", m);
            out << "  " << (i == starts[m] ? std::string(idx) : std::string(6, ' ')) << " "
                << frame_text(t.frames[i], i == starts[m]) << "\n";
        }
    };
    for (size_t m = 0; m < starts.size();) {
        size_t run = 1;
        while (m + run < starts.size() && machine_name(m + run) == machine_name(m))
            run++;
        if (run > kCollapseRun) {
            print_machine(m);
            const FrameReport& f = t.frames[starts[m]];
            std::string name = f.function.empty() ? "??" : f.function;
            out << "         ... " << name << " repeated " << with_commas(run - 2)
                << " more times (frames #" << m + 1 << "-#" << m + run - 2 << ") ...\n";
            print_machine(m + run - 1);
            m += run;
        } else {
            for (size_t k = 0; k < run; k++)
                print_machine(m + k);
            m += run;
        }
    }
    if (t.frames.empty())
        out << "  (no frames)\n";
    if (!t.complete && !t.stop_reason.empty())
        out << "  unwinding stopped: " << t.stop_reason << "\n";
}

json nullable(const std::string& s) {
    return s.empty() ? json(nullptr) : json(s);
}

}  // namespace

std::string render_text(const Analysis& a, const TextOptions& options) {
    std::ostringstream out;
    out << "core        " << a.core_path << " (" << format_bytes(a.core_size)
        << (a.truncated ? ", TRUNCATED" : "") << ")\n";
    out << "process     " << a.pid << " (" << a.name << "), uid " << a.uid << ", parent " << a.ppid
        << "\n";
    if (!a.command_line.empty())
        out << "command     " << a.command_line << "\n";
    out << "executable  " << (a.executable.empty() ? "?" : a.executable)
        << (a.executable_found ? "" : "  (NOT FOUND)") << "\n";
    if (a.signo) {
        out << "signal      " << a.signal_name << " (" << a.signo << "), " << a.code_name << ": "
            << a.code_description;
        if (a.sent)
            out << ", from pid " << a.sender_pid << " uid " << a.sender_uid
                << (a.sent_by_self ? " (itself)" : " (not a fault)");
        out << "\n";
    }
    if (a.fault)
        out << "fault addr  " << hex(a.fault->address) << "  " << a.fault->description << "\n";
    if (a.instruction) {
        out << "instruction " << hex(a.instruction->address);
        if (!a.instruction_where.empty())
            out << " <" << a.instruction_where << ">";
        out << ": " << a.instruction->text() << "\n";
    }
    out << "\nclass       " << name_of(a.kind) << "\n";
    out << "summary     " << a.summary << "\n";
    if (!a.evidence.empty()) {
        out << "evidence\n";
        for (const std::string& e : a.evidence)
            out << "  - " << e << "\n";
    }
    out << "bucket      " << a.bucket << "  " << a.signature << "\n";
    out << "exact       " << a.exact_signature << "\n";

    for (size_t i = 0; i < a.threads.size(); i++) {
        const ThreadReport& t = a.threads[i];
        if (i > 0 && !options.all_threads)
            break;
        out << "\n"
            << (t.crashed ? "crashing thread " : "thread ") << t.tid << " (" << t.state
            << (t.crashed ? ", took the signal" : "") << "), " << with_commas(t.machine_frames)
            << " frames\n";
        render_frames(out, t);
    }

    if (options.registers && !a.threads.empty()) {
        const user_regs_struct& r = a.threads.front().regs;
        out << "\nregisters of thread " << a.threads.front().tid << "\n";
        const std::pair<const char*, unsigned long long> regs[] = {
            {"rax", r.rax}, {"rbx", r.rbx},       {"rcx", r.rcx},         {"rdx", r.rdx},
            {"rsi", r.rsi}, {"rdi", r.rdi},       {"rbp", r.rbp},         {"rsp", r.rsp},
            {"r8", r.r8},   {"r9", r.r9},         {"r10", r.r10},         {"r11", r.r11},
            {"r12", r.r12}, {"r13", r.r13},       {"r14", r.r14},         {"r15", r.r15},
            {"rip", r.rip}, {"eflags", r.eflags}, {"fs_base", r.fs_base}, {"orig_rax", r.orig_rax},
        };
        for (size_t i = 0; i < std::size(regs); i++) {
            char cell[40];
            snprintf(cell, sizeof cell, "  %-9s%s", regs[i].first, pad_hex(regs[i].second).c_str());
            out << cell << ((i % 4 == 3) ? "\n" : "");
        }
        if (std::size(regs) % 4)
            out << "\n";
    }

    if (options.modules && !a.modules.empty()) {
        out << "\nmodules\n";
        for (const tk::ModuleInfo& m : a.modules) {
            out << "  " << pad_hex(m.low) << "-" << pad_hex(m.high) << "  " << m.name;
            out << "  build-id " << (m.build_id.empty() ? "none" : m.build_id);
            if (m.file.empty())
                out << "  (file not found)";
            else if (m.has_dwarf)
                out << "  (debug info" << (m.debug_file.empty() ? "" : ": " + m.debug_file) << ")";
            else
                out << "  (no debug info, " << (m.has_symtab ? ".symtab" : ".dynsym") << " names)";
            out << "\n";
        }
    }
    if (a.systemd_coredump)
        out << "\n" << coredump_entry_text(*a.systemd_coredump);
    if (!a.notes.empty()) {
        out << "\nnotes\n";
        for (const std::string& n : a.notes)
            out << "  - " << n << "\n";
    }
    if (!a.warnings.empty()) {
        out << "\nwarnings" << (a.partial ? " (the report is partial)" : "") << "\n";
        for (const std::string& w : a.warnings)
            out << "  - " << w << "\n";
    }
    return out.str();
}

namespace {

json signal_json(const Analysis& a) {
    if (!a.signo)
        return nullptr;
    json s = {{"signo", a.signo},
              {"name", a.signal_name},
              {"code", a.code},
              {"code_name", a.code_name},
              {"code_description", a.code_description},
              {"sent", a.sent}};
    if (a.sent) {
        s["sender_pid"] = a.sender_pid;
        s["sender_uid"] = a.sender_uid;
        s["sent_by_self"] = a.sent_by_self;
    }
    return s;
}

json fault_json(const FaultInfo& fault) {
    json f = {{"address", hex(fault.address)},
              {"recomputed", fault.recomputed},
              {"region", fault.region},
              {"description", fault.description},
              {"perms", nullable(fault.perms)},
              {"mapping", nullable(fault.mapping)},
              {"section", nullable(fault.section)}};
    if (fault.symbol)
        f["symbol"] = {{"name", fault.symbol->name},
                       {"offset", fault.symbol->offset},
                       {"module", fault.symbol->module}};
    return f;
}

json operand_json(const Operand& op) {
    json o = {{"text", op.text},
              {"kind", op.kind == Operand::Kind::Reg   ? "reg"
                       : op.kind == Operand::Kind::Imm ? "imm"
                                                       : "mem"},
              {"read", op.read},
              {"write", op.write}};
    if (op.value)
        o["value"] = hex(*op.value);
    if (!op.base.empty()) {
        o["base"] = op.base;
        if (op.base_value)
            o["base_value"] = hex(*op.base_value);
    }
    if (!op.index.empty()) {
        o["index"] = op.index;
        if (op.index_value)
            o["index_value"] = hex(*op.index_value);
    }
    if (op.kind == Operand::Kind::Mem)
        o["displacement"] = op.disp;
    if (op.address)
        o["address"] = hex(*op.address);
    return o;
}

json instruction_json(const Analysis& a) {
    if (!a.instruction)
        return nullptr;
    json ops = json::array();
    for (const Operand& op : a.instruction->operands)
        ops.push_back(operand_json(op));
    std::string bytes;
    for (uint8_t b : a.instruction->bytes) {
        char buf[4];
        snprintf(buf, sizeof buf, "%s%02x", bytes.empty() ? "" : " ", b);
        bytes += buf;
    }
    return {{"address", hex(a.instruction->address)},
            {"where", nullable(a.instruction_where)},
            {"text", a.instruction->text()},
            {"bytes", bytes},
            {"operands", ops}};
}

json registers_json(const user_regs_struct& r) {
    return {
        {"rax", hex(r.rax)},         {"rbx", hex(r.rbx)},         {"rcx", hex(r.rcx)},
        {"rdx", hex(r.rdx)},         {"rsi", hex(r.rsi)},         {"rdi", hex(r.rdi)},
        {"rbp", hex(r.rbp)},         {"rsp", hex(r.rsp)},         {"r8", hex(r.r8)},
        {"r9", hex(r.r9)},           {"r10", hex(r.r10)},         {"r11", hex(r.r11)},
        {"r12", hex(r.r12)},         {"r13", hex(r.r13)},         {"r14", hex(r.r14)},
        {"r15", hex(r.r15)},         {"rip", hex(r.rip)},         {"eflags", hex(r.eflags)},
        {"fs_base", hex(r.fs_base)}, {"gs_base", hex(r.gs_base)}, {"orig_rax", hex(r.orig_rax)}};
}

json modules_json(const std::vector<tk::ModuleInfo>& mods) {
    json modules = json::array();
    for (const tk::ModuleInfo& m : mods)
        modules.push_back({{"name", m.name},
                           {"file", nullable(m.file)},
                           {"debug_file", nullable(m.debug_file)},
                           {"low", hex(m.low)},
                           {"high", hex(m.high)},
                           {"build_id", nullable(m.build_id)},
                           {"has_dwarf", m.has_dwarf},
                           {"symbols", m.file.empty() ? "none"
                                       : m.has_symtab ? "symtab"
                                                      : "dynsym"}});
    return modules;
}

}  // namespace

json render_json(const Analysis& a) {
    json j;
    j["schema_version"] = kJsonSchemaVersion;
    j["core"] = {{"path", a.core_path},
                 {"size", a.core_size},
                 {"truncated", a.truncated},
                 {"notes_damaged", a.notes_damaged}};
    j["process"] = {{"pid", a.pid},
                    {"ppid", a.ppid},
                    {"uid", a.uid},
                    {"gid", a.gid},
                    {"name", a.name},
                    {"command_line", a.command_line},
                    {"executable", nullable(a.executable)},
                    {"executable_found", a.executable_found}};
    j["class"] = name_of(a.kind);
    j["summary"] = a.summary;
    j["evidence"] = a.evidence;
    j["signal"] = signal_json(a);
    j["fault_address"] = a.fault ? json(hex(a.fault->address)) : json(nullptr);
    j["fault"] = a.fault ? fault_json(*a.fault) : json(nullptr);
    j["instruction"] = instruction_json(a);
    if (!a.abort_message.empty())
        j["abort_message"] = a.abort_message;
    if (a.exception)
        j["exception"] = {{"type", a.exception->type}, {"what", nullable(a.exception->message)}};
    if (!a.lock_waits.empty()) {
        json waits = json::array();
        for (const LockWait& w : a.lock_waits)
            waits.push_back(
                {{"tid", w.tid}, {"mutex", hex(w.mutex)}, {"name", w.name}, {"owner", w.owner}});
        j["lock_waits"] = waits;
        json cycle = json::array();
        for (size_t i : a.deadlock_cycle)
            cycle.push_back(a.lock_waits[i].tid);
        j["deadlock_cycle"] = cycle;
    }
    j["crashing_tid"] = a.crashing_tid;
    if (const FrameReport* f = a.culprit_frame())
        j["culprit"] = {{"tid", a.threads[a.culprit->thread].tid},
                        {"frame", a.culprit->frame},
                        {"function", nullable(f->function)},
                        {"file", nullable(f->file)},
                        {"line", f->line ? json(f->line) : json(nullptr)}};
    else
        j["culprit"] = nullptr;

    json threads = json::array();
    for (const ThreadReport& t : a.threads)
        threads.push_back({{"tid", t.tid},
                           {"crashed", t.crashed},
                           {"state", t.state},
                           {"syscall", t.syscall},
                           {"complete", t.complete},
                           {"stop_reason", nullable(t.stop_reason)},
                           {"machine_frames", t.machine_frames}});
    j["threads"] = threads;

    if (!a.threads.empty())
        j["registers"] = registers_json(a.threads.front().regs);
    j["modules"] = modules_json(a.modules);
    j["signature"] = a.signature;
    j["bucket"] = a.bucket;
    j["exact_signature"] = a.exact_signature;
    if (a.systemd_coredump)
        j["systemd_coredump"] = coredump_entry_json(*a.systemd_coredump);
    j["warnings"] = a.warnings;
    j["notes"] = a.notes;
    j["partial"] = a.partial;
    return j;
}

}  // namespace crashlab

namespace crashlab {

namespace {

void append_json_string(std::string& out, const std::string& s) {
    if (s.empty()) {
        out += "null";
        return;
    }
    out += tk::json_text(nlohmann::json(s), -1);
}

void append_frames(std::string& out, const ThreadReport& t, const std::string& indent) {
    if (t.frames.empty()) {
        out += "[]";
        return;
    }
    out += "[\n";
    // A deep recursion repeats the same strings frame after frame: escape them once.
    struct Escaped {
        const std::string* source = nullptr;
        std::string text;
        const std::string& get(const std::string& s) {
            if (!source || *source != s) {
                text.clear();
                append_json_string(text, s);
            }
            source = &s;
            return text;
        }
    } function, module, file;
    for (size_t i = 0; i < t.frames.size(); i++) {
        const FrameReport& f = t.frames[i];
        out += indent;
        out += "  {\"index\": ";
        out += std::to_string(f.machine_index);
        out += ", \"pc\": \"";
        out += hex(f.pc);
        out += "\", \"function\": ";
        out += function.get(f.function);
        out += ", \"module\": ";
        out += module.get(f.module);
        out += ", \"module_offset\": \"";
        out += hex(f.module_offset);
        out += "\", \"file\": ";
        out += file.get(f.file);
        out += ", \"line\": ";
        out += f.line ? std::to_string(f.line) : std::string("null");
        out += f.inlined ? ", \"inlined\": true" : ", \"inlined\": false";
        out += ", \"trust\": \"";
        out += trust_name(f.trust);
        out += i + 1 < t.frames.size() ? "\"},\n" : "\"}\n";
    }
    out += indent + "]";
}

}  // namespace

std::string render_json_text(const Analysis& a) {
    // The json value without frames, dumped; then each thread object gets its frames
    // spliced in before its closing brace. The thread objects are found in order by their
    // "machine_frames" key, which only thread objects have.
    std::string doc = tk::json_text(render_json(a));
    std::string out;
    out.reserve(doc.size() + 200 * 1024);
    size_t pos = 0;
    for (const ThreadReport& t : a.threads) {
        size_t key = doc.find("\"machine_frames\":", pos);
        if (key == std::string::npos)
            break;
        size_t end = doc.find('\n', key);
        if (end == std::string::npos)
            break;
        bool more = doc[end - 1] == ',';  // other keys follow machine_frames
        out.append(doc, pos, end - pos);
        out += more ? "\n      \"frames\": " : ",\n      \"frames\": ";
        append_frames(out, t, "      ");
        if (more)
            out += ",";
        pos = end;
    }
    out.append(doc, pos, std::string::npos);
    out += "\n";
    return out;
}

}  // namespace crashlab
