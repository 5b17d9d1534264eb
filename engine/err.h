/* err: the engine's one error type, in the jansson way.
 *
 * Every engine call that can fail takes a `sy_err *` (which may be NULL) as its
 * last argument, returns -1 or NULL on failure, and fills the struct with a code
 * from the table below and a message that names the file, line or id involved,
 * ending with a hint when the fix is obvious.  The struct owns no memory.
 * Codes and their short names live in one table (SY_ERR_CODES).  Thread-safe:
 * nothing here touches shared state. */
#ifndef SY_ERR_H
#define SY_ERR_H

#include <stdarg.h>

#define SY_ERR_CODES(X)                                            \
    X(SY_OK,        "ok")                                          \
    X(SY_EIO,       "i/o error")                                   \
    X(SY_ENOMEM,    "out of memory")                               \
    X(SY_EPARSE,    "malformed input")                             \
    X(SY_EINVAL,    "invalid argument")                            \
    X(SY_ENOTFOUND, "not found")                                   \
    X(SY_EEXIST,    "already exists")                              \
    X(SY_ELOCKED,   "session is locked")                           \
    X(SY_EREADONLY, "session is read-only")                        \
    X(SY_EFORMAT,   "unsupported file format or version")          \
    X(SY_ENOSPC,    "no space left")                               \
    X(SY_ENET,      "network error")                               \
    X(SY_EBUDGET,   "budget exhausted")                            \
    X(SY_ECANCEL,   "cancelled")                                   \
    X(SY_EUNSUP,    "unsupported")

typedef enum {
#define SY_X_ENUM(code, name) code,
    SY_ERR_CODES(SY_X_ENUM)
#undef SY_X_ENUM
    SY_NCODES
} sy_code;

typedef struct {
    int code;          /* sy_code; SY_OK when nothing failed */
    char msg[1024];    /* full human message: "FILE:LINE: what happened; hint" */
} sy_err;

/* Set err (if not NULL) and return -1, so callers can `return sy_fail(...)`. */
int sy_fail(sy_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sy_vfail(sy_err *err, int code, const char *fmt, va_list ap);
/* Like sy_fail, appending ": strerror(errno)" and choosing SY_ENOSPC for
 * ENOSPC/EDQUOT/EFBIG, SY_ENOTFOUND for ENOENT, SY_EIO otherwise. */
int sy_fail_errno(sy_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix an existing message with more context ("while opening X: ..."). */
void sy_err_prefix(sy_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sy_err_clear(sy_err *err);
const char *sy_code_name(int code);

#endif
