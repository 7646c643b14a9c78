// crashlab: trigger crashes, capture the core, and explain the crash from the core alone.
//
//   crashlab list
//   crashlab run [--timeout S] [--dir DIR] -- COMMAND [ARGS...]
//   crashlab analyze CORE [--exe PATH] [--debug-dir DIR] [--json [FILE|-]]
//   crashlab gdb CORE [--exe PATH] [--debug-dir DIR] [-- GDB-ARGS...]
//   sudo crashlab install [--config FILE] [--replace] / sudo crashlab uninstall
//   crashlab ls [--json] / crashlab show ID|last [--json]
//   crashlab collect [-c FILE] %P %p %i %s %t %u %g %d %E   (run by the kernel)
//
// Exit status: analyze 0 (complete report), 2 (partial: the core is damaged or the
// executable missing), 1 (not a core, no such file ...); run: the command's own status,
// or 128 + the signal that killed it.
#include <elf.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "analysis.h"
#include "collector.h"
#include "coredumpctl.h"
#include "core_file.h"
#include "errors.h"
#include "json_text.h"
#include "kinds.h"
#include "launcher.h"
#include "report.h"
#include "runner.h"
#include "store.h"

namespace {

constexpr int kExitPartial = 2;

int cmd_list(bool json) {
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const crashlab::KindInfo& k : crashlab::all_kinds())
            out.push_back({{"name", k.name},
                           {"signal", k.signal},
                           {"description", k.description},
                           {"needs_timeout", k.needs_timeout},
                           {"triggered_by_victim", k.triggered}});
        std::cout << tk::json_text(out) << "\n";
        return 0;
    }
    std::cout << "crash kinds (crashlab-victim-{O0,O2,stripped} KIND [--thread]):\n";
    for (const crashlab::KindInfo& k : crashlab::all_kinds()) {
        std::string name(k.name);
        std::string sig(k.signal);
        printf("  %-19s %-20s %.*s%s\n", name.c_str(), sig.c_str(), int(k.description.size()),
               k.description.data(), k.needs_timeout ? " (run with --timeout)" : "");
    }
    return 0;
}

int cmd_analyze(const std::string& core, const crashlab::AnalyzeOptions& opts,
                const std::optional<std::string>& json, bool registers, bool modules,
                const std::optional<crashlab::CoredumpJournalEntry>& journal = std::nullopt) {
    crashlab::Analysis a = crashlab::analyze(core, opts);
    a.systemd_coredump = journal;
    if (json) {
        std::string dump = crashlab::render_json_text(a);
        if (json->empty() || *json == "-") {
            std::cout << dump;
        } else {
            // Under sudo the report belongs to the user who asked for it.
            auto invoker = tk::sudo_invoker();
            crashlab::write_private_file(*json, dump, invoker ? int(invoker->first) : -1,
                                         invoker ? int(invoker->second) : -1);
        }
    } else {
        crashlab::TextOptions t;
        t.registers = registers;
        t.modules = modules;
        std::cout << crashlab::render_text(a, t);
    }
    std::cout.flush();
    if (a.partial) {
        // The one line that says what is wrong and what to do; the details are in the report.
        std::cerr << "crashlab: " << core << ": "
                  << (a.warnings.empty() ? std::string("incomplete core") : a.warnings.front())
                  << "; the report is partial\n";
        return kExitPartial;
    }
    return 0;
}

// Where the executable of CORE is: --exe, the crash directory's metadata, or the core.
std::string executable_for(const std::string& core_path, const std::string& exe) {
    if (!exe.empty())
        return exe;
    std::string dir =
        core_path.find('/') == std::string::npos ? "." : core_path.substr(0, core_path.rfind('/'));
    std::ifstream meta(dir + "/metadata.json");
    if (meta) {
        try {
            nlohmann::json m = nlohmann::json::parse(meta);
            // A name that was not UTF-8 is there with U+FFFD: no file, so ask the core.
            if (m.contains("executable") && m["executable"].is_string() &&
                access(m["executable"].get<std::string>().c_str(), F_OK) == 0)
                return m["executable"];
        } catch (const nlohmann::json::exception&) {
        }
    }
    crashlab::CoreFile core(core_path);
    if (auto entry = core.auxv_value(AT_ENTRY))
        if (const crashlab::FileMapping* f = core.file_at(*entry)) {
            std::string p = f->path;
            crashlab::strip_deleted(p);
            return p;
        }
    throw tk::UserError(core_path +
                        ": cannot tell which executable made this core: pass --exe PATH");
}

int cmd_gdb(const std::string& core, const std::string& exe_opt,
            const std::vector<std::string>& debug_dirs, const std::vector<std::string>& extra,
            bool print_only) {
    crashlab::CoreFile check(core);  // a clear error for a missing or non-core file
    (void)check;
    std::string exe = executable_for(core, exe_opt);
    if (access(exe.c_str(), R_OK) != 0)
        throw tk::UserError("executable " + exe + " not found: pass --exe PATH");
    std::string debug = "/usr/lib/debug";
    for (const std::string& d : debug_dirs)
        debug += ":" + d;
    std::vector<std::string> args = {"gdb",
                                     "-q",
                                     "-nx",
                                     "-iex",
                                     "set debuginfod enabled off",
                                     "-iex",
                                     "set debug-file-directory " + debug,
                                     "-iex",
                                     "set auto-load safe-path /",
                                     "-iex",
                                     "set disassembly-flavor intel",
                                     exe,
                                     core};
    for (const std::string& e : extra)
        args.push_back(e);
    if (print_only) {
        for (size_t i = 0; i < args.size(); i++) {
            const std::string& a = args[i];
            bool quote = a.find_first_of(" \t'\"$") != std::string::npos;
            std::cout << (i ? " " : "") << (quote ? "'" + a + "'" : a);
        }
        std::cout << "\n";
        return 0;
    }
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp("gdb", argv.data());
    throw tk::UserError(tk::errno_text("cannot run gdb") + ": install gdb (apt-get install gdb)");
}

// What the command line asked for: the subcommand given, and the options of each, which
// CLI11 fills in place (so this stays where it was made).
struct CommandLine {
    CLI::App* list = nullptr;
    bool list_json = false;

    CLI::App* run = nullptr;
    crashlab::RunOptions run_options;
    std::optional<std::string> run_json;

    CLI::App* analyze = nullptr;
    std::string core;
    std::string coredumpctl;  // PID or "last"
    crashlab::AnalyzeOptions analyze_options;
    std::optional<std::string> json;
    bool no_registers = false, no_modules = false;

    CLI::App* gdb = nullptr;
    std::string gdb_core, gdb_exe;
    std::vector<std::string> gdb_debug, gdb_extra;
    bool gdb_print = false;

    // the store: ls, show, install, uninstall, and the collector the kernel runs
    CLI::App *ls = nullptr, *show = nullptr, *install = nullptr, *uninstall = nullptr,
             *collect = nullptr;
    std::string config;  // "": the installed collector's, else /etc/crashlab.conf
    bool store_json = false, replace = false;
    std::string show_id;
    std::vector<std::string> kernel_facts;
};

void add_list(CLI::App& app, CommandLine& cl) {
    cl.list = app.add_subcommand("list", "the crash kinds the victims trigger");
    cl.list->add_flag("--json", cl.list_json, "as JSON");
}

void add_run(CLI::App& app, CommandLine& cl) {
    crashlab::RunOptions& run = cl.run_options;
    auto* run_cmd =
        app.add_subcommand("run", "run a command with core capture; analyse if it crashes");
    run_cmd
        ->add_option("--timeout", run.timeout,
                     "seconds; then send SIGABRT, so a hang leaves a core")
        ->check(CLI::NonNegativeNumber);
    run_cmd->add_option("--dir", run.crash_root,
                        "crash directory root (default ./crashlab-crashes)");
    run_cmd->add_flag("--as-root", run.as_root,
                      "under sudo, run the command as root, not as SUDO_UID");
    run_cmd->add_option("--json", cl.run_json, "JSON report to FILE, or - for stdout")
        ->expected(0, 1);
    run_cmd->add_flag("-q,--quiet", run.quiet, "no report on stdout (files still written)");
    run_cmd->add_option("--exe", run.analyze.executable, "executable, if not the one in the core");
    run_cmd->add_option("--debug-dir", run.analyze.debug_dirs, "extra directory of debug files");
    run_cmd->add_option("--max-frames", run.analyze.max_frames, "stop unwinding after N frames");
    // COMMAND [ARGS...]: everything from the first argument that is not one of ours (or
    // after --) belongs to the command, its own options included.
    run_cmd->prefix_command();
    run_cmd->footer("COMMAND [ARGS...] follows the options, after -- if it starts with a dash");
    cl.run = run_cmd;
}

void add_analyze(CLI::App& app, CommandLine& cl) {
    crashlab::AnalyzeOptions& aopt = cl.analyze_options;
    auto* an = app.add_subcommand("analyze", "explain a core file");
    auto* core =
        an->add_option("core", cl.core, "the core file (zstd, lz4 or xz compressed ones too)");
    an->add_option("--coredumpctl", cl.coredumpctl,
                   "PID|last: the core systemd-coredump stored (found with coredumpctl)")
        ->excludes(core);
    an->callback([&cl] {
        if (cl.core.empty() && cl.coredumpctl.empty())
            throw CLI::RequiredError("core (or --coredumpctl PID|last)");
    });
    an->add_option("--exe", aopt.executable, "the executable, if not where the core says");
    an->add_option("--debug-dir", aopt.debug_dirs,
                   "directory with separate debug files (DIR/.build-id/xx/rest.debug or by name)");
    an->add_option("--json", cl.json, "JSON to FILE, or - (default) for stdout")->expected(0, 1);
    an->add_option("--max-frames", aopt.max_frames, "stop unwinding a thread after N frames");
    an->add_flag("--no-registers", cl.no_registers, "leave the registers out of the text");
    an->add_flag("--no-modules", cl.no_modules, "leave the module list out of the text");
    cl.analyze = an;
}

void add_gdb(CLI::App& app, CommandLine& cl) {
    auto* gdb =
        app.add_subcommand("gdb", "open the core in gdb with the right executable and paths");
    gdb->add_option("core", cl.gdb_core, "the core file")->required();
    gdb->add_option("--exe", cl.gdb_exe, "the executable, if not where the core says");
    gdb->add_option("--debug-dir", cl.gdb_debug, "extra directory of debug files");
    gdb->add_flag("--print", cl.gdb_print, "print the gdb command instead of running it");
    gdb->allow_extras();
    gdb->footer("extra gdb arguments follow the core (after --), e.g. -- -batch -ex bt");
    cl.gdb = gdb;
}

void add_store(CLI::App& app, CommandLine& cl) {
    const char* config_help =
        "the configuration file (default: the installed collector's, "
        "else /etc/crashlab.conf)";
    cl.ls = app.add_subcommand("ls", "the stored crashes, by bucket");
    cl.ls->add_option("--config", cl.config, config_help);
    cl.ls->add_flag("--json", cl.store_json, "as JSON");
    cl.show = app.add_subcommand("show", "one stored crash: its full analysis");
    cl.show->add_option("id", cl.show_id, "a crash id, a bucket id (its last crash), or last")
        ->required();
    cl.show->add_option("--config", cl.config, config_help);
    cl.show->add_flag("--json", cl.store_json, "the analysis as JSON");
    cl.install = app.add_subcommand("install", "catch every crash: core_pattern -> the collector");
    cl.install->add_option("--config", cl.config,
                           "the configuration file (default /etc/crashlab.conf)");
    cl.install->add_flag("--replace", cl.replace,
                         "take core_pattern over from systemd-coredump or apport");
    cl.uninstall = app.add_subcommand("uninstall", "restore the core_pattern install replaced");
    // Run by the kernel (core_pattern), not by people: left out of --help.
    cl.collect = app.add_subcommand("collect", "")->group("");
    cl.collect->add_option("-c", cl.config, "configuration file");
    cl.collect->add_option("facts", cl.kernel_facts, "%P %p %i %s %t %u %g %d %E");
}

// CLI11 does not hand what follows "--" to a subcommand that takes it all: split it off
// here (ARGC then ends before it). It is the command of `run` and the gdb arguments of `gdb`.
std::vector<std::string> split_off_dashes(int& argc, char** argv) {
    std::vector<std::string> after_dashes;
    for (int i = 1; i < argc; i++)
        if (std::string_view(argv[i]) == "--") {
            for (int k = i + 1; k < argc; k++)
                after_dashes.emplace_back(argv[k]);
            argc = i;
            break;
        }
    return after_dashes;
}

// What CLI11 left over, then what followed "--".
std::vector<std::string> leftover_and(CLI::App& sub, const std::vector<std::string>& after_dashes) {
    std::vector<std::string> args = sub.remaining();
    args.insert(args.end(), after_dashes.begin(), after_dashes.end());
    return args;
}

int run_subcommand(CommandLine& cl) {
    if (*cl.list)
        return cmd_list(cl.list_json);
    if (*cl.run) {
        if (cl.run_json)
            cl.run_options.json = cl.run_json->empty() ? "-" : *cl.run_json;
        return crashlab::run_command(cl.run_options);
    }
    if (*cl.analyze && cl.coredumpctl.empty())
        return cmd_analyze(cl.core, cl.analyze_options, cl.json, !cl.no_registers, !cl.no_modules);
    if (*cl.analyze) {
        crashlab::CoredumpJournalEntry e = crashlab::coredump_entry_with_core(cl.coredumpctl);
        return cmd_analyze(e.filename, cl.analyze_options, cl.json, !cl.no_registers,
                           !cl.no_modules, e);
    }
    if (*cl.gdb)
        return cmd_gdb(cl.gdb_core, cl.gdb_exe, cl.gdb_debug, cl.gdb_extra, cl.gdb_print);
    std::string config = cl.config.empty() ? crashlab::installed_config() : cl.config;
    if (*cl.ls)
        return crashlab::cmd_ls(config, cl.store_json);
    if (*cl.show)
        return crashlab::cmd_show(config, cl.show_id, cl.store_json);
    if (*cl.install)
        return crashlab::cmd_install(cl.config.empty() ? crashlab::kDefaultConfig : cl.config,
                                     cl.replace);
    if (*cl.uninstall)
        return crashlab::cmd_uninstall();
    if (*cl.collect)
        return crashlab::collect(cl.config.empty() ? crashlab::kDefaultConfig : cl.config,
                                 crashlab::parse_kernel_facts(cl.kernel_facts));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "crashlab: trigger crashes, capture the core, explain the crash from the core alone"};
    app.require_subcommand(1);
    CommandLine cl;
    add_list(app, cl);
    add_run(app, cl);
    add_analyze(app, cl);
    add_gdb(app, cl);
    add_store(app, cl);

    std::vector<std::string> after_dashes = split_off_dashes(argc, argv);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (*cl.run)
        cl.run_options.command = leftover_and(*cl.run, after_dashes);
    if (*cl.gdb)
        cl.gdb_extra = leftover_and(*cl.gdb, after_dashes);

    try {
        return run_subcommand(cl);
    } catch (const tk::UserError& e) {
        std::cerr << "crashlab: " << e.what() << "\n";
        return e.exit_code();
    } catch (const std::exception& e) {
        // Not expected: a bug, but still one line and a failure status, not an abort.
        std::cerr << "crashlab: internal error: " << e.what() << "\n";
        return 70;
    }
}
