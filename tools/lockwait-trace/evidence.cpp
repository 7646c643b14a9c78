#include "evidence.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <cstdlib>
#include <vector>

namespace lockwait {

namespace {

// --- call sites: a CFI unwinder over the stack window of the first wait -------------------

// x86-64 DWARF register numbers
constexpr int kRegRbp = 6, kRegRsp = 7, kRegRip = 16;
constexpr size_t kMaxMachineFrames = 8;

struct Regs {
    uint64_t ip = 0, sp = 0, bp = 0;
};

// The words the kernel side copied from the waiter's stack, from its sp up.
struct StackWindow {
    uint64_t base = 0;
    const uint64_t* words = nullptr;
    size_t count = 0;

    std::optional<uint64_t> read(uint64_t address) const {
        if (address < base || (address - base) % 8 || (address - base) / 8 >= count)
            return std::nullopt;
        return words[(address - base) / 8];
    }
};

// The value of a CFI expression: the forms compilers emit for the CFA and saved registers
// (breg + offset, as libdw gives a CFA rule: DW_OP_bregx; CFA + offset; constants). *IS_VALUE: the
// result is the register's value, not the address it was saved at.
std::optional<uint64_t> evaluate(const Dwarf_Op* ops, size_t nops, const Regs& r, uint64_t cfa,
                                 bool* is_value) {
    std::vector<uint64_t> st;
    for (size_t i = 0; i < nops; i++) {
        const Dwarf_Op& op = ops[i];
        if (op.atom == DW_OP_call_frame_cfa) {
            st.push_back(cfa);
        } else if (op.atom == DW_OP_breg0 + kRegRsp ||
                   (op.atom == DW_OP_bregx && op.number == kRegRsp)) {
            st.push_back(r.sp + (op.atom == DW_OP_bregx ? op.number2 : op.number));
        } else if (op.atom == DW_OP_breg0 + kRegRbp ||
                   (op.atom == DW_OP_bregx && op.number == kRegRbp)) {
            st.push_back(r.bp + (op.atom == DW_OP_bregx ? op.number2 : op.number));
        } else if (op.atom >= DW_OP_lit0 && op.atom <= DW_OP_lit31) {
            st.push_back(op.atom - DW_OP_lit0);
        } else if (op.atom == DW_OP_const1u || op.atom == DW_OP_const1s ||
                   op.atom == DW_OP_const2u || op.atom == DW_OP_const2s ||
                   op.atom == DW_OP_const4u || op.atom == DW_OP_const4s ||
                   op.atom == DW_OP_const8u || op.atom == DW_OP_const8s ||
                   op.atom == DW_OP_constu || op.atom == DW_OP_consts) {
            st.push_back(op.number);
        } else if (op.atom == DW_OP_plus_uconst && !st.empty()) {
            st.back() += op.number;
        } else if ((op.atom == DW_OP_plus || op.atom == DW_OP_minus) && st.size() >= 2) {
            uint64_t b = st.back();
            st.pop_back();
            st.back() = op.atom == DW_OP_plus ? st.back() + b : st.back() - b;
        } else if (op.atom == DW_OP_stack_value && is_value) {
            *is_value = true;
        } else {
            return std::nullopt;
        }
    }
    if (st.empty())
        return std::nullopt;
    return st.back();
}

// The caller's registers, from the CFI of the function holding R.ip (INNERMOST: R.ip is
// where the syscall returns to, inside the function; else a return address, after a call).
std::optional<Regs> step(Dwfl* dwfl, const Regs& r, bool innermost, const StackWindow& stack) {
    uint64_t lookup = innermost ? r.ip : r.ip - 1;
    Dwfl_Module* mod = dwfl_addrmodule(dwfl, lookup);
    if (!mod)
        return std::nullopt;
    Dwarf_Addr bias = 0;
    Dwarf_CFI* cfi = dwfl_module_eh_cfi(mod, &bias);
    if (!cfi)
        cfi = dwfl_module_dwarf_cfi(mod, &bias);
    Dwarf_Frame* frame = nullptr;
    if (!cfi || dwarf_cfi_addrframe(cfi, lookup - bias, &frame) != 0)
        return std::nullopt;
    std::optional<Regs> out;
    Dwarf_Op* ops = nullptr;
    size_t nops = 0;
    Dwarf_Op mem[3];
    if (dwarf_frame_cfa(frame, &ops, &nops) == 0) {
        auto cfa = evaluate(ops, nops, r, 0, nullptr);
        bool is_value = false;
        std::optional<uint64_t> ra;
        if (cfa && dwarf_frame_register(frame, kRegRip, mem, &ops, &nops) == 0 && nops) {
            auto where = evaluate(ops, nops, r, *cfa, &is_value);
            ra = where && !is_value ? stack.read(*where) : where;
        }
        if (ra && *ra) {
            Regs caller;
            caller.ip = *ra;
            caller.sp = *cfa;
            caller.bp = r.bp;  // same value, unless the CFI says where it was saved
            is_value = false;
            if (dwarf_frame_register(frame, kRegRbp, mem, &ops, &nops) == 0 && nops) {
                auto where = evaluate(ops, nops, r, *cfa, &is_value);
                auto bp = where && !is_value ? stack.read(*where) : where;
                caller.bp = bp.value_or(0);
            }
            out = caller;
        }
    }
    free(frame);
    return out;
}

// Appends the source frames at IP (inlined ones first); returns the module's base name.
std::string add_frames(tk::Symbolizer& sym, uint64_t ip, bool return_address, CallSite& site) {
    const tk::Symbol& s = sym.symbolize(ip, return_address);
    std::string module = s.module.substr(s.module.rfind('/') + 1);
    if (s.frames.empty())
        site.push_back({s.symbol, module});
    for (const auto& f : s.frames)
        site.push_back({f.function, module});
    return module;
}

// --- types: the variable at an address and the member a word lies in --------------------

std::string qualified_name(Dwarf_Die* die) {
    const char* name = dwarf_diename(die);
    if (!name)
        return "";
    std::string out = name;
    Dwarf_Die* scopes = nullptr;
    int n = dwarf_getscopes_die(die, &scopes);
    for (int i = 1; i < n; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_namespace && tag != DW_TAG_class_type && tag != DW_TAG_structure_type &&
            tag != DW_TAG_union_type)
            continue;
        const char* scope = dwarf_diename(&scopes[i]);
        if (scope)
            out = std::string(scope) + "::" + out;
    }
    free(scopes);
    return out;
}

bool type_of(Dwarf_Die* die, Dwarf_Die* type) {
    Dwarf_Attribute a;
    return dwarf_attr_integrate(die, DW_AT_type, &a) && dwarf_formref_die(&a, type);
}

std::optional<uint64_t> size_of(Dwarf_Die* type) {
    Dwarf_Word size = 0;
    if (dwarf_aggregate_size(type, &size) != 0)
        return std::nullopt;
    return size;
}

std::optional<uint64_t> member_offset(Dwarf_Die* member) {
    Dwarf_Attribute a;
    Dwarf_Word off = 0;
    if (!dwarf_attr_integrate(member, DW_AT_data_member_location, &a))
        return uint64_t(0);  // a union's members
    if (dwarf_formudata(&a, &off) == 0)
        return off;
    return std::nullopt;
}

// Descends from the variable's TYPE to the synchronisation object holding byte OFFSET,
// extending PATH with ".member" and "[index]" on the way.
std::optional<TypedObject> object_at(Dwarf_Die type, uint64_t offset, std::string path) {
    for (int depth = 0; depth < 16; depth++) {
        std::string name = qualified_name(&type);
        if (auto k = kind_of_type(name))
            return TypedObject{path, name, *k};
        int tag = dwarf_tag(&type);
        Dwarf_Die next;
        if (tag == DW_TAG_typedef || tag == DW_TAG_const_type || tag == DW_TAG_volatile_type ||
            tag == DW_TAG_atomic_type) {
            if (!type_of(&type, &next))
                return std::nullopt;
            type = next;
        } else if (tag == DW_TAG_array_type) {
            if (!type_of(&type, &next))
                return std::nullopt;
            auto size = size_of(&next);
            if (!size || !*size)
                return std::nullopt;
            path += "[" + std::to_string(offset / *size) + "]";
            offset %= *size;
            type = next;
        } else if (tag == DW_TAG_structure_type || tag == DW_TAG_class_type ||
                   tag == DW_TAG_union_type) {
            Dwarf_Die child;
            bool found = false;
            if (dwarf_child(&type, &child) == 0) {
                do {
                    int ct = dwarf_tag(&child);
                    if (ct != DW_TAG_member && ct != DW_TAG_inheritance)
                        continue;
                    Dwarf_Die mtype;
                    auto moff = member_offset(&child);
                    if (!moff || !type_of(&child, &mtype))
                        continue;
                    auto msize = size_of(&mtype);
                    if (!msize || offset < *moff || offset >= *moff + *msize)
                        continue;
                    const char* mname = dwarf_diename(&child);
                    if (ct == DW_TAG_member && mname)
                        path += std::string(".") + mname;
                    offset -= *moff;
                    type = mtype;
                    found = true;
                    break;
                } while (dwarf_siblingof(&child, &child) == 0);
            }
            if (!found)
                return std::nullopt;
        } else {
            return std::nullopt;
        }
    }
    return std::nullopt;
}

// The address of a variable DIE with a static location (DW_OP_addr), unbiased.
std::optional<uint64_t> static_address(Dwarf_Die* die) {
    Dwarf_Attribute a;
    Dwarf_Op* ops = nullptr;
    size_t nops = 0;
    if (!dwarf_attr(die, DW_AT_location, &a) || dwarf_getlocation(&a, &ops, &nops) != 0 ||
        nops != 1 || ops[0].atom != DW_OP_addr)
        return std::nullopt;
    return ops[0].number;
}

// Every variable with a static address, by address; and the declarations of variables
// defined where the debug info does not see them (in assembly, in code built without -g),
// by qualified name.
void index_variables(Dwarf_Die* parent, TypeFinder::Index& index) {
    Dwarf_Die child;
    if (dwarf_child(parent, &child) != 0)
        return;
    do {
        int tag = dwarf_tag(&child);
        if (tag == DW_TAG_variable) {
            if (auto addr = static_address(&child))
                index.by_address.emplace(*addr, dwarf_dieoffset(&child));
            else if (dwarf_hasattr(&child, DW_AT_declaration) && dwarf_hasattr(&child, DW_AT_type))
                index.declared.emplace(qualified_name(&child), dwarf_dieoffset(&child));
        } else if (tag == DW_TAG_namespace || tag == DW_TAG_subprogram ||
                   tag == DW_TAG_lexical_block || tag == DW_TAG_structure_type ||
                   tag == DW_TAG_class_type) {
            index_variables(&child, index);  // static locals, static members, namespaces
        }
    } while (dwarf_siblingof(&child, &child) == 0);
}

}  // namespace

std::optional<TypedObject> TypeFinder::find(tk::Symbolizer& sym, const tk::DataSymbol& symbol,
                                            uint64_t address) {
    auto info = sym.module_at(address);
    if (!info || !info->has_dwarf || !info->debug_file.empty())
        return std::nullopt;
    Dwfl_Module* mod = dwfl_addrmodule(sym.dwfl(), address);
    Dwarf_Addr bias = 0;
    Dwarf* dw = mod ? dwfl_module_getdwarf(mod, &bias) : nullptr;
    if (!dw)
        return std::nullopt;
    auto [it, fresh] = index_.try_emplace(dw);
    Index& index = it->second;
    if (fresh) {
        Dwarf_Off off = 0, next = 0;
        size_t header = 0;
        while (dwarf_nextcu(dw, off, &next, &header, nullptr, nullptr, nullptr) == 0) {
            Dwarf_Die cu;
            if (dwarf_offdie(dw, off + header, &cu))
                index_variables(&cu, index);
            off = next;
        }
    }
    uint64_t start = address - symbol.offset;
    auto var = index.by_address.find(start - bias);
    std::optional<uint64_t> die_offset;
    if (var != index.by_address.end())
        die_offset = var->second;
    else if (auto decl = index.declared.find(symbol.name); decl != index.declared.end())
        die_offset = decl->second;
    Dwarf_Die die, type;
    if (!die_offset || !dwarf_offdie(dw, *die_offset, &die) || !type_of(&die, &type))
        return std::nullopt;
    return object_at(type, symbol.offset, symbol.name);
}

CallSite call_site_at(tk::Symbolizer& sym, uint64_t ip) {
    CallSite site;
    if (ip)
        add_frames(sym, ip, false, site);
    return site;
}

CallSite wait_call_site(tk::Symbolizer& sym, const lw_lock_row& row) {
    CallSite site;
    if (!row.wait_ip)
        return site;
    StackWindow stack{row.wait_sp, reinterpret_cast<const uint64_t*>(row.wait_stack),
                      LW_SITE_WORDS};
    Regs r{row.wait_ip, row.wait_sp, row.wait_bp};
    for (size_t i = 0; i < kMaxMachineFrames; i++) {
        std::string module = add_frames(sym, r.ip, i > 0, site);
        if (!is_runtime_module(module))
            break;  // the first frame outside the C and C++ runtime: the program's call
        auto caller = step(sym.dwfl(), r, i == 0, stack);
        if (!caller)
            break;
        r = *caller;
    }
    return site;
}

}  // namespace lockwait
