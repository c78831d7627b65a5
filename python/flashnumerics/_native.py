"""Loads libFlashNumericsC.so (bundled in lib/) and declares its C ABI (flashnumerics.h)."""
import ctypes
from pathlib import Path

_LIB_DIR = Path(__file__).resolve().parent / "lib"
_MAIN = "libFlashNumericsC.so"


def _load():
    if not (_LIB_DIR / _MAIN).exists():
        raise ImportError(f"flashnumerics: {_LIB_DIR / _MAIN} is missing; install with `pip install ./python` from a clone")
    # The bundled runtime libraries first (each with its own dependencies before it, found by
    # retrying), global, so that the main library's needs are met by soname without any search path.
    pending = sorted(p for p in _LIB_DIR.iterdir() if p.name != _MAIN and ".so" in p.name)
    while pending:
        failed = []
        for p in pending:
            try:
                ctypes.CDLL(str(p), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                failed.append(p)
        if len(failed) == len(pending):
            break  # the rest come from the system, or fail below with the loader's message
        pending = failed
    return ctypes.CDLL(str(_LIB_DIR / _MAIN))


lib = _load()

_c = ctypes
_i32, _i64, _u64, _dbl = _c.c_int32, _c.c_int64, _c.c_uint64, _c.c_double
_str = _c.c_char_p
_pd, _pf = _c.POINTER(_c.c_double), _c.POINTER(_c.c_float)
_pu16, _pu32 = _c.POINTER(_c.c_uint16), _c.POINTER(_c.c_uint32)
_pi32 = _c.POINTER(_c.c_int32)

_SIGNATURES = {
    "fn_version": (_str, []),
    "fn_last_error": (_str, []),
    "fn_free": (None, [_c.c_void_p]),
    "fn_tensor_limit": (_i64, []),
    "fn_formats_json": (_c.c_void_p, []),
    "fn_encode": (_i32, [_str, _str, _str, _u64, _i32, _pd, _i64, _pu32, _i32]),
    "fn_encode_f32": (_i32, [_str, _str, _str, _u64, _i32, _pf, _i64, _c.c_void_p, _i32]),
    "fn_decode": (_i32, [_str, _pu32, _i64, _pd]),
    "fn_mma": (_i32, [_str, _i64, _i64, _i64, _i64, _pu32, _pu32, _pu32, _pu32]),
    "fn_mufu": (_i32, [_str, _pf, _i64, _pf]),
    "fn_flash_attn": (_i32, [_str, _i64, _i64, _i64, _i64, _i64, _i64, _i64, _pu16, _pu16, _pu16, _pf, _pf, _pf, _i32, _dbl, _dbl, _i32, _pi32,
                             _i32, _str,
                             _i32, _pu16, _pf]),
    "fn_flash_attn_varlen": (_i32, [_str, _i64, _i64, _i64, _i64, _i64, _i64, _i64, _pi32, _pi32, _i64, _i64, _pu16, _pu16, _pu16,
                                    _pf, _pf, _pf, _i32, _dbl, _dbl, _i32, _i32, _str, _i32, _pu16, _pf]),
    "fn_attention": (_i32, [_str, _str, _i64, _i64, _i64, _i64, _i64, _i64, _pd, _pd, _pd, _i32, _i64, _i64, _dbl, _u64, _i32, _pd]),
    "fn_reference": (_i32, [_i64, _i64, _i64, _i64, _i64, _i64, _pd, _pd, _pd, _i32, _i64, _i64, _dbl, _i32, _i32, _pd, _pi32]),
    "fn_metrics_json": (_c.c_void_p, [_i64, _pd, _pd, _str]),
    "fn_attribute_json": (_c.c_void_p, [_str, _str, _i64, _i64, _i64, _i64, _i64, _i64, _pd, _pd, _pd, _i32, _i64, _i64, _dbl, _u64, _i32, _i32]),
    "fn_fa3_case_inputs": (_i32, [_str, _i64, _i64, _i64, _i64, _i64, _i64, _i64, _i32, _str, _i32, _u64, _i64, _pu16, _pu16, _pu16,
                                  _pf, _pf, _pf]),
    "fn_table_fa3_json": (_c.c_void_p, [_i64, _i64, _i64, _i64, _u64, _i32, _i32]),
}

for _name, (_restype, _argtypes) in _SIGNATURES.items():
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
