#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const code_names[] = {
#define SY_X_NAME(code, name) name,
    SY_ERR_CODES(SY_X_NAME)
#undef SY_X_NAME
};

const char *sy_code_name(int code)
{
    if (code < 0 || code >= SY_NCODES) return "unknown error";
    return code_names[code];
}

void sy_err_clear(sy_err *err)
{
    if (!err) return;
    err->code = SY_OK;
    err->msg[0] = '\0';
}

int sy_vfail(sy_err *err, int code, const char *fmt, va_list ap)
{
    if (!err) return -1;
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return -1;
}

int sy_fail(sy_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sy_vfail(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int sy_fail_errno(sy_err *err, int errnum, const char *fmt, ...)
{
    if (!err) return -1;
    int code = SY_EIO;
    if (errnum == ENOSPC || errnum == EDQUOT || errnum == EFBIG) code = SY_ENOSPC;
    else if (errnum == ENOENT) code = SY_ENOTFOUND;
    else if (errnum == ENOMEM) code = SY_ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    sy_vfail(err, code, fmt, ap);
    va_end(ap);
    size_t n = strlen(err->msg);
    const char *hint = code == SY_ENOSPC ? "; free some disk space and try again; nothing saved earlier was lost" : "";
    snprintf(err->msg + n, sizeof err->msg - n, ": %s%s", strerror(errnum), hint);
    return -1;
}

void sy_err_prefix(sy_err *err, const char *fmt, ...)
{
    if (!err) return;
    char pre[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t pl = strlen(pre);
    if (pl > sizeof err->msg - 3) pl = sizeof err->msg - 3;
    memcpy(err->msg, pre, pl);
    memcpy(err->msg + pl, ": ", 2);
    size_t room = sizeof err->msg - pl - 3, ol = strlen(old);
    if (ol > room) ol = room;
    memcpy(err->msg + pl + 2, old, ol);
    err->msg[pl + 2 + ol] = '\0';
}
