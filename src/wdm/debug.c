/*
 * Debug output, assertions and bug checks.
 *
 * DbgPrint speaks Windows' printf dialect, where `long` is 32 bits: %lu / %lx read a
 * 32-bit argument, %I64x / %llx a 64-bit one, %Ix / %zx / %Iu a pointer-sized one, %wZ
 * prints a PUNICODE_STRING, %Z a PANSI_STRING, %ws / %ls / %S a wide string. Each
 * conversion is rewritten into its C equivalent and formatted with snprintf.
 */
#include <stdio.h>
#include <stdlib.h>

#include "wdm/wdm_internal.h"

#define LINE_MAX_BYTES 512

static bool debug_output = true;
static ULONG debug_max_level = DPFLTR_ERROR_LEVEL;

void wdm_debug_set_output(bool enabled, ULONG max_level)
{
    debug_output = enabled;
    debug_max_level = max_level;
}

/* ---- the Windows printf dialect ---------------------------------------------------- */
typedef struct out_buf {
    char *buf;
    size_t size;
    size_t len;      /* bytes the full output needs so far */
} out_buf;

static void put_bytes(out_buf *o, const char *s, size_t n)
{
    if (o->len < o->size) {
        size_t room = o->size - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

/* Wide (UTF-16) text as ASCII: code units above 0x7f print as '?'. */
static void narrow(char *dst, size_t dst_size, const WCHAR *src, size_t units)
{
    size_t i = 0;
    for (; src != NULL && i < units && i + 1 < dst_size && src[i] != 0; i++)
        dst[i] = src[i] < 0x80 ? (char)src[i] : '?';
    dst[i] = '\0';
}

typedef enum arg_size { SZ_INT, SZ_SHORT, SZ_CHAR, SZ_64, SZ_WIDE } arg_size;

/* Parse a size prefix at *f; advances past it. */
static arg_size parse_size(const char **f)
{
    const char *p = *f;
    arg_size sz = SZ_INT;
    if (p[0] == 'I' && p[1] == '6' && p[2] == '4') {
        sz = SZ_64, p += 3;
    } else if (p[0] == 'I' && p[1] == '3' && p[2] == '2') {
        sz = SZ_INT, p += 3;
    } else if (p[0] == 'l' && p[1] == 'l') {
        sz = SZ_64, p += 2;
    } else if (p[0] == 'h' && p[1] == 'h') {
        sz = SZ_CHAR, p += 2;
    } else if (p[0] == 'I' || p[0] == 'z' || p[0] == 't' || p[0] == 'j' || p[0] == 'L') {
        sz = SZ_64, p += 1;
    } else if (p[0] == 'h') {
        sz = SZ_SHORT, p += 1;
    } else if (p[0] == 'l' || p[0] == 'w') {
        sz = SZ_WIDE, p += 1;   /* 32-bit integer, or wide char/string */
    }
    *f = p;
    return sz;
}

static void format_string(out_buf *o, const char *spec, const char *s)
{
    char tmp[LINE_MAX_BYTES];
    int n = snprintf(tmp, sizeof(tmp), spec, s ? s : "(null)");
    if (n > 0)
        put_bytes(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* One conversion: `spec` holds "%", flags, width and precision (with '*' already
 * resolved); `conv` is the conversion character. */
static void format_one(out_buf *o, char *spec, size_t spec_len, arg_size sz, char conv,
                       va_list *ap)
{
    char tmp[LINE_MAX_BYTES];
    char text[LINE_MAX_BYTES];
    int n = 0;

    switch (conv) {
    case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': {
        if (sz == SZ_64) {
            memcpy(spec + spec_len, "ll", 2);
            spec_len += 2;
        } else if (sz == SZ_SHORT || sz == SZ_CHAR) {
            memcpy(spec + spec_len, sz == SZ_SHORT ? "h" : "hh", sz == SZ_SHORT ? 1 : 2);
            spec_len += sz == SZ_SHORT ? 1 : 2;
        }
        spec[spec_len++] = conv;
        spec[spec_len] = '\0';
        if (sz == SZ_64)
            n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, long long));
        else
            n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, int));
        break;
    }
    case 'p':
        memcpy(spec + spec_len, "p", 2);
        n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, void *));
        break;
    case 'c': case 'C': {
        int ch = va_arg(*ap, int);
        text[0] = (sz == SZ_WIDE || conv == 'C') && ch >= 0x80 ? '?' : (char)ch;
        text[1] = '\0';
        memcpy(spec + spec_len, "s", 2);
        format_string(o, spec, text);
        return;
    }
    case 's': case 'S': {
        memcpy(spec + spec_len, "s", 2);
        if (sz == SZ_WIDE || conv == 'S') {
            const WCHAR *w = va_arg(*ap, const WCHAR *);
            narrow(text, sizeof(text), w, SIZE_MAX);
            format_string(o, spec, w ? text : NULL);
        } else {
            format_string(o, spec, va_arg(*ap, const char *));
        }
        return;
    }
    case 'Z': {
        memcpy(spec + spec_len, "s", 2);
        if (sz == SZ_WIDE) {
            const UNICODE_STRING *u = va_arg(*ap, const UNICODE_STRING *);
            if (u != NULL)
                narrow(text, sizeof(text), u->Buffer, u->Length / sizeof(WCHAR));
            format_string(o, spec, u ? text : NULL);
        } else {
            const ANSI_STRING *a = va_arg(*ap, const ANSI_STRING *);
            if (a != NULL)
                snprintf(text, sizeof(text), "%.*s", (int)a->Length, a->Buffer);
            format_string(o, spec, a ? text : NULL);
        }
        return;
    }
    case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case 'a': case 'A':
        spec[spec_len++] = conv;
        spec[spec_len] = '\0';
        n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, double));
        break;
    case 'n':
        (void)va_arg(*ap, void *);   /* %n writes nothing here */
        return;
    default:
        put_bytes(o, "%", 1);
        put_bytes(o, &conv, 1);
        return;
    }
    if (n > 0)
        put_bytes(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Copy flags, width and precision of the spec at *f into spec[], resolving '*'. */
static size_t parse_spec_head(const char **f, char *spec, size_t cap, va_list *ap)
{
    const char *p = *f;
    size_t len = 0;
    spec[len++] = '%';
    while (*p != '\0' && strchr("-+ #0", *p) != NULL && len < cap - 8)
        spec[len++] = *p++;
    for (int part = 0; part < 2; part++) {
        if (part == 1) {
            if (*p != '.')
                break;
            spec[len++] = *p++;
        }
        if (*p == '*') {
            len += (size_t)snprintf(spec + len, cap - len, "%d", va_arg(*ap, int));
            p++;
        }
        while (*p >= '0' && *p <= '9' && len < cap - 8)
            spec[len++] = *p++;
    }
    *f = p;
    return len;
}

int wdm_vformat(char *buf, size_t size, const char *fmt, va_list ap_in)
{
    out_buf o = { buf, size, 0 };
    va_list ap;
    va_copy(ap, ap_in);
    for (const char *f = fmt; *f != '\0';) {
        if (*f != '%') {
            const char *next = strchr(f, '%');
            size_t n = next ? (size_t)(next - f) : strlen(f);
            put_bytes(&o, f, n);
            f += n;
            continue;
        }
        f++;
        if (*f == '%') {
            put_bytes(&o, "%", 1);
            f++;
            continue;
        }
        char spec[48];
        size_t spec_len = parse_spec_head(&f, spec, sizeof(spec), &ap);
        arg_size sz = parse_size(&f);
        if (*f == '\0')
            break;
        format_one(&o, spec, spec_len, sz, *f++, &ap);
    }
    va_end(ap);
    if (size > 0)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

/* ---- DbgPrint ------------------------------------------------------------------------ */
static void emit(const char *fmt, va_list ap)
{
    char line[LINE_MAX_BYTES];
    wdm_vformat(line, sizeof(line), fmt, ap);
    fprintf(stderr, "[dbg cpu%u irql%u] %s", mach_cpu_current(), mach_irql(), line);
    size_t n = strlen(line);
    if (n == 0 || line[n - 1] != '\n')
        fputc('\n', stderr);
}

ULONG DbgPrint(PCSTR Format, ...)
{
    if (!debug_output)
        return STATUS_SUCCESS;
    va_list ap;
    va_start(ap, Format);
    emit(Format, ap);
    va_end(ap);
    return STATUS_SUCCESS;
}

ULONG vDbgPrintEx(ULONG ComponentId, ULONG Level, PCCH Format, va_list arglist)
{
    (void)ComponentId;
    /* Level is either a level number (0..31) or a mask with DPFLTR_MASK set. */
    ULONG level = Level;
    if ((Level & DPFLTR_MASK) != 0)
        level = (Level & 1) ? DPFLTR_ERROR_LEVEL : DPFLTR_INFO_LEVEL;
    if (debug_output && level <= debug_max_level)
        emit(Format, arglist);
    return STATUS_SUCCESS;
}

ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...)
{
    va_list ap;
    va_start(ap, Format);
    vDbgPrintEx(ComponentId, Level, Format, ap);
    va_end(ap);
    return STATUS_SUCCESS;
}

/* No kernel debugger is attached. Windows without a debugger would bug check on the
 * unhandled breakpoint; we report a finding and continue instead, so a stray breakpoint
 * left in a sample driver does not end a run (the finding count still shows it). */
VOID DbgBreakPoint(VOID)
{
    mach_report(wdm_machine("DbgBreakPoint"), "DbgBreakPoint",
                "DbgBreakPoint hit (no debugger attached; continuing)");
}

VOID DbgBreakPointWithStatus(ULONG Status)
{
    mach_report(wdm_machine("DbgBreakPointWithStatus"), "DbgBreakPoint",
                "DbgBreakPointWithStatus(%#x) hit (no debugger attached; continuing)",
                (unsigned)Status);
}

/* ---- bug checks and assertions ------------------------------------------------------ */
VOID KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR BugCheckParameter1, ULONG_PTR BugCheckParameter2,
                  ULONG_PTR BugCheckParameter3, ULONG_PTR BugCheckParameter4)
{
    mach_bugcheck(BugCheckCode, BugCheckParameter1, BugCheckParameter2, BugCheckParameter3,
                  BugCheckParameter4, "KeBugCheckEx(%#x) called by the driver",
                  (unsigned)BugCheckCode);
}

VOID KeBugCheck(ULONG BugCheckCode)
{
    KeBugCheckEx(BugCheckCode, 0, 0, 0, 0);
}

/* A failed ASSERT with no debugger attached: bug check 0x1E (KMODE_EXCEPTION_NOT_HANDLED)
 * with STATUS_BREAKPOINT, P3 the line, message naming expression and file. */
VOID RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber,
               PSTR MutableMessage)
{
    mach_bugcheck(KMODE_EXCEPTION_NOT_HANDLED, (uint64_t)(ULONG)STATUS_BREAKPOINT, 0,
                  LineNumber, 0, "assertion failed: %s%s%s (%s:%u)",
                  MutableMessage ? MutableMessage : "", MutableMessage ? ": " : "",
                  (const char *)VoidFailedAssertion, (const char *)VoidFileName,
                  (unsigned)LineNumber);
}
