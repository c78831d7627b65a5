"""Loads libFlashNumericsC.so (bundled in lib/) and builds its ctypes binding from flashnumerics.h.

The header is the one declaration of the C ABI: its structs become ctypes Structures and its
prototypes the functions' signatures here, and the library's own report of its struct layouts
(`fn_abi_layout_json`) is checked against them at import, so the binding cannot drift from the
library. Calls pass their inputs as structs built by `make`, which requires every field by name.
"""
import ctypes
import json
import re
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_LIB_DIR = _PACKAGE / "lib"
_MAIN = "libFlashNumericsC.so"
HEADER = _PACKAGE / "flashnumerics.h"


def _load():
    if not (_LIB_DIR / _MAIN).exists():
        raise ImportError(f"flashnumerics: {_LIB_DIR / _MAIN} is missing; install with `pip install ./python` from a clone")
    # The bundled libraries carry the run path $ORIGIN: the loader finds the main library's
    # dependencies beside it (the CLI's Foundation and ICU, also there, are never loaded here).
    return ctypes.CDLL(str(_LIB_DIR / _MAIN))


_SCALARS = {"int32_t": ctypes.c_int32, "int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64, "uint32_t": ctypes.c_uint32,
            "uint16_t": ctypes.c_uint16, "double": ctypes.c_double, "float": ctypes.c_float}


def _strip_comments(text):
    return re.sub(r"//[^\n]*", " ", re.sub(r"/\*.*?\*/", " ", text, flags=re.S))


def _ctype(declaration, structs):
    """The ctypes type of a C type as the header writes it (`const char *`, `fn_shape`, ...)."""
    t = " ".join(declaration.replace("*", " * ").split())
    pointer = t.count("*")
    base = t.replace("*", "").replace("const", "").strip()
    if base not in structs and base not in _SCALARS and base not in ("char", "void"):
        raise ImportError(f"flashnumerics.h: unknown type '{declaration.strip()}'")
    if pointer == 0:
        if base == "void":
            return None
        return structs[base] if base in structs else _SCALARS[base]
    if pointer != 1:
        raise ImportError(f"flashnumerics.h: unsupported type '{declaration}'")
    if base == "char":
        # `const char *` is text; a `char *` is a malloc'd string of the library's (an address, to free).
        return ctypes.c_char_p if "const" in t else ctypes.c_void_p
    if base == "void":
        return ctypes.c_void_p
    return ctypes.POINTER(structs[base] if base in structs else _SCALARS[base])


def parse_header(text):
    """The header's structs (name → ctypes.Structure subclass, fields in order) and functions
    (name → (restype, [argtypes]))."""
    code = _strip_comments(text)
    structs = {}
    for name, body, alias in re.findall(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", code, flags=re.S):
        if name != alias:
            raise ImportError(f"flashnumerics.h: struct {name} is typedef'd as {alias}")
        fields = []
        for line in body.split(";"):
            line = line.strip()
            if not line:
                continue
            m = re.fullmatch(r"(.+?)(\w+)", line)
            if not m or "," in line:
                raise ImportError(f"flashnumerics.h: struct {name}: cannot read field '{line}' (one `TYPE NAME;` per field)")
            fields.append((m.group(2), _ctype(m.group(1), structs)))
        structs[name] = type(name, (ctypes.Structure,), {"_fields_": fields})
    functions = {}
    rest = re.sub(r"typedef\s+struct\s+\w+\s*\{.*?\}\s*\w+\s*;", ";", code, flags=re.S)
    rest = "\n".join(line for line in rest.splitlines() if not line.lstrip().startswith("#"))
    rest = rest.replace('extern "C" {', ";").replace("}", ";")
    for statement in rest.split(";"):
        m = re.fullmatch(r"\s*([\w\s\*]+?)\b(fn_\w+)\s*\(([^)]*)\)\s*", statement)
        if not m:
            if "fn_" in statement:
                raise ImportError(f"flashnumerics.h: cannot read the declaration '{' '.join(statement.split())}'")
            continue
        restype, name, params = m.groups()
        argtypes = []
        for p in params.split(","):
            p = p.strip()
            if p in ("void", ""):
                continue
            m = re.fullmatch(r"(.+?)(\w+)", p)
            argtypes.append(_ctype(m.group(1), structs))
        functions[name] = (_ctype(restype.strip(), structs), argtypes)
    return structs, functions


lib = _load()
if not HEADER.exists():
    raise ImportError(f"flashnumerics: {HEADER} is missing; install with `pip install ./python` from a clone")
STRUCTS, FUNCTIONS = parse_header(HEADER.read_text(encoding="utf-8"))
for _name, (_restype, _argtypes) in FUNCTIONS.items():
    _f = getattr(lib, _name)
    _f.restype = _restype
    _f.argtypes = _argtypes


def check(status):
    """Raises ValueError with the library's one-line message for a non-zero status."""
    if status != 0:
        message = lib.fn_last_error()
        raise ValueError(message.decode() if message else f"flashnumerics: error {status}")


def take_string(pointer):
    """The text of a malloc'd string the library returned, released; ValueError for NULL."""
    if not pointer:
        check(2)
    try:
        return ctypes.string_at(pointer).decode()
    finally:
        lib.fn_free(pointer)


_SWIFT_SCALARS = {ctypes.c_int32: "Int32", ctypes.c_int64: "Int64", ctypes.c_uint64: "UInt64", ctypes.c_uint32: "UInt32",
                  ctypes.c_uint16: "UInt16", ctypes.c_double: "Double", ctypes.c_float: "Float"}


def _swift_types(ctype):
    """The Swift types a field of this ctypes type may have been imported as."""
    if ctype in _SWIFT_SCALARS:
        return {_SWIFT_SCALARS[ctype]}
    if ctype is ctypes.c_char_p:
        return {"Optional<UnsafePointer<Int8>>"}
    if ctype is ctypes.c_void_p:
        return {"Optional<UnsafeRawPointer>", "Optional<UnsafeMutableRawPointer>", "Optional<UnsafeMutablePointer<Int8>>"}
    if hasattr(ctype, "_type_") and ctype.__name__.startswith("LP_"):
        inner = _SWIFT_SCALARS.get(ctype._type_, ctype._type_.__name__)
        return {f"Optional<UnsafePointer<{inner}>>", f"Optional<UnsafeMutablePointer<{inner}>>"}
    return {ctype.__name__}


def layout(structure):
    """The size and field offsets of a ctypes Structure, as `fn_abi_layout_json` reports them."""
    return {"size": ctypes.sizeof(structure), "fields": {name: getattr(structure, name).offset for name, _ in structure._fields_}}


def _reported_layouts():
    """The library's struct layouts: size and field offsets, and each field's imported type."""
    reported = json.loads(take_string(lib.fn_abi_layout_json()))
    types = {name: {f: entry["type"] for f, entry in r["fields"].items()} for name, r in reported.items()}
    return {name: {"size": r["size"], "fields": {f: entry["offset"] for f, entry in r["fields"].items()}} for name, r in reported.items()}, types


def _check_layouts():
    reported, types = _reported_layouts()
    ours = {name: layout(s) for name, s in STRUCTS.items()}
    mistyped = [f"{name}.{field}" for name, s in STRUCTS.items() for field, ctype in s._fields_
                if name in types and types[name].get(field) not in _swift_types(ctype)]
    if mistyped:
        raise ImportError(f"flashnumerics: the binding reads flashnumerics.h's {', '.join(mistyped)} as other types than the library; reinstall the package")
    if reported != ours:
        differing = sorted(n for n in set(reported) | set(ours) if reported.get(n) != ours.get(n))
        raise ImportError(f"flashnumerics: the library and flashnumerics.h disagree on {', '.join(differing)}; reinstall the package")


_check_layouts()


def make(struct_name, **fields):
    """A `struct_name` with every field given by name (TypeError for a missing or unknown one):
    arrays (NumPy, C-contiguous) become pointers, None NULL, str UTF-8, dicts nested structs."""
    structure = STRUCTS[struct_name]
    names = [n for n, _ in structure._fields_]
    missing, unknown = [n for n in names if n not in fields], [n for n in fields if n not in names]
    if missing or unknown:
        raise TypeError(f"{struct_name}: missing fields {missing}, unknown fields {unknown}")
    values = {}
    for name, ftype in structure._fields_:
        value = fields[name]
        if value is None:
            values[name] = None
        elif isinstance(value, dict):
            values[name] = make(ftype.__name__, **value)
        elif isinstance(value, str):
            values[name] = value.encode()
        elif hasattr(value, "ctypes"):
            if not value.flags.c_contiguous:
                raise ValueError(f"{struct_name}.{name}: the array must be C-contiguous")
            values[name] = value.ctypes.data_as(ftype) if ftype is not ctypes.c_void_p else value.ctypes.data
        elif ftype in _RANGES:
            lo, hi = _RANGES[ftype]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{struct_name}.{name}: expected an integer in {lo}...{hi}, got {value!r}")
            values[name] = value
        else:
            values[name] = value
    return structure(**values)


# The integer fields' ranges: ctypes would wrap a value outside them without a word.
_RANGES = {ctypes.c_int32: (-(1 << 31), (1 << 31) - 1), ctypes.c_int64: (-(1 << 63), (1 << 63) - 1),
           ctypes.c_uint64: (0, (1 << 64) - 1), ctypes.c_uint32: (0, (1 << 32) - 1)}


def limits():
    """The limits in force as a dict (tensor_elements, grid_points); ValueError, with the command
    line's message, when a FLASHNUM_MAX_* variable is set but malformed."""
    out = STRUCTS["fn_limits"]()
    check(lib.fn_get_limits(ctypes.byref(out)))
    return {"tensor_elements": out.tensor_elements, "grid_points": out.grid_points}
