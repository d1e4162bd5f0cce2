/*
 * audit_sdk._cscan: the verifier's per-record hot path in C, for plain records.
 *
 * Scanner.scan(line) reads one OTLP-JSON logs line with a validating
 * recursive-descent parser over its bytes and, for each log record whose
 * attribute values are all plain strings, canonical integers and booleans
 * (see "plain" below), computes what the Python path
 * (`audit_sdk._verify._scan.extract`, `record_hash`, `compute_mac`) computes:
 * the canonical bytes (RFC 8785 JSON of the signing object), their SHA-256,
 * whether the record's HMAC checks out, the attribute values the caller asked
 * for, the event name and the timestamp.
 *
 * Two forms of result per plain record. The common record, about which the
 * per-record checks of `_scan._check_record` have nothing to report (MAC,
 * mirrors, stream id and number, checkpoint attributes; see check_record), is
 * checked here and comes back as the arguments of `_scan._place`:
 * (record hash, stream id, number, record id, previous (hash, id) or None,
 * flags, checkpoint or None, timestamp); no canonical bytes or value dicts are
 * made for it. Any other plain record comes back as (canonical bytes, record
 * hash, MAC ok, wanted values, event name, timestamp) and Python reports its
 * findings. Numbers beyond int64 are always left to Python.
 *
 * Conservative by design. scan() returns None, so that the caller handles the
 * whole line in Python, as soon as anything is unusual: JSON that is not
 * strictly valid RFC 8259 UTF-8, a lone surrogate escape, a member name given
 * twice in an object that the scanner reads (the document, resourceLogs and
 * scopeLogs items, log records, attribute entries, value objects), a member
 * name written with escapes or more than 32 members of unknown names in such
 * an object, a number with a fraction or exponent or more than 18 digits,
 * nesting deeper than 64, an unexpected shape of the resourceLogs / scopeLogs /
 * logRecords skeleton. Within a readable line, a record that is not plain
 * yields None in the list (the caller handles that record in Python).
 *
 * A plain record: "attributes" is an array of {"key": string, "value": {one
 * of "stringValue": string, "intValue": "0|-?[1-9][0-9]*" (<= 19 digits),
 * "boolValue": bool}} with distinct keys, none above U+FFFF, and of the
 * audit.integrity.* names only value, signer, canonicalization and key_id;
 * body absent, null, {} or {"stringValue": string}; eventName absent, null or
 * a string; traceId / spanId absent, null, "" or 32 / 16 lower-case hex
 * digits; timeUnixNano / observedTimeUnixNano absent, null or a decimal
 * string that fits in 64 bits.
 *
 * Only the results are Python objects: strings are unescaped into a reusable
 * scratch buffer only when they hold escapes (spans otherwise point into the
 * line), attributes are collected in a reusable array, and the canonical
 * bytes are written into a reusable buffer.
 */

#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64    /* deeper nesting: the line falls back */
#define MAX_UNKNOWN 32  /* more unknown members in an object read: falls back */
#define MAX_NUM_DIGITS 18
#define MAX_INT_DIGITS 19

/* status codes of the parser */
#define ST_ERR (-1) /* Python exception set */
#define ST_OK 0
#define ST_FB 1   /* fall back: the whole line goes to Python */
#define ST_DONE 2 /* end of the object / array */

#define K_STR 0
#define K_INT 1
#define K_BOOL 2
#define K_BAD 3

#define I_NONE 0
#define I_VALUE 1
#define I_SIGNER 2
#define I_CANON 3
#define I_KEY_ID 4

#define INTEGRITY_PREFIX "audit.integrity."
#define INTEGRITY_PREFIX_LEN 16

#define NAME_IS(n, len, lit) ((len) == sizeof(lit) - 1 && memcmp((n), (lit), sizeof(lit) - 1) == 0)

typedef unsigned char u8;

/* ------------------------------------------------------------------------ */
/* Types                                                                    */

/* Where an unescaped string value is: in the line (no escapes) or in scratch. */
typedef struct {
    size_t off;
    size_t len;
    unsigned char scratch; /* 1: at scratch + off, and may need escaping on output */
    unsigned char high;    /* 1: holds a code point above U+FFFF */
} Span;

typedef struct {
    Span key;
    Span val;
    const u8 *k; /* resolved once the record is read */
    const u8 *v;
    int kind;
    int bval;
    int integ;
} Attr;

typedef struct {
    char *id;
    Py_ssize_t idlen;
    SHA256_CTX inner; /* state after the key ^ ipad block */
    SHA256_CTX outer; /* state after the key ^ opad block */
} MacKey;

typedef struct {
    PyObject *name; /* str, owned */
    const char *utf8; /* borrowed from name */
    Py_ssize_t len;
} Wanted;

typedef struct {
    PyObject_HEAD
    MacKey *keys;
    Py_ssize_t nkeys;
    int have_keys;
    Wanted *wanted;
    Py_ssize_t nwanted;
    uint64_t wanted_lens; /* bit (len % 64) set for each wanted name: a quick filter */
    u8 *scratch;
    size_t scap;
    size_t slen;
    u8 *out;
    size_t ocap;
    Attr *attrs;
    size_t acap;
    Attr **order;
    size_t *perm; /* the previous record's sorted order, tried first */
    size_t ordcap;
    size_t perm_n; /* its number of attributes; 0: none */
    PyObject *ev_cache; /* the last event name str, reused when the next is the same */
    PyObject *sid_cache; /* the last stream id str of a checked record, likewise */
    int busy;
} Scanner;

typedef struct {
    const u8 *p;
    const u8 *end;
    const u8 *base;
    Scanner *sc;
    PyObject *list;
    int depth;
} Parser;

/* What a log record holds, as read. */
typedef struct {
    int plain;
    size_t nattrs;
    int seen_attrs;
    int has_body;
    Span body;
    Span ev;
    Span trace;
    Span span;
    int has_ev, has_trace, has_span;
    uint64_t time;
    uint64_t observed;
} Record;

/* Member names of an object the scanner reads: known ones as bits, others listed. */
typedef struct {
    uint32_t known;
    int n;
    const u8 *names[MAX_UNKNOWN];
    size_t lens[MAX_UNKNOWN];
} Seen;

static PyObject *S_SV;  /* "stringValue" */
static PyObject *S_IV;  /* "intValue" */
static PyObject *S_BV;  /* "boolValue" */
static PyObject *S_EMPTY;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static const u8 HEXDIGITS[] = "0123456789abcdef";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 1 for the bytes that a JSON string holds as they are and that stay ASCII:
   0x20..0x7F except '"' and '\\'. */
static u8 PLAIN[256];

static void init_tables(void)
{
    for (int c = 0; c < 256; c++)
        PLAIN[c] = (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') ? 1 : 0;
}

static int grow(u8 **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need) {
        if (ncap > ((size_t)PY_SSIZE_T_MAX) / 2) {
            PyErr_NoMemory();
            return -1;
        }
        ncap *= 2;
    }
    u8 *nb = (u8 *)PyMem_Realloc(*buf, ncap);
    if (nb == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *buf = nb;
    *cap = ncap;
    return 0;
}

static inline int peek(const Parser *ps)
{
    return ps->p < ps->end ? (int)*ps->p : -1;
}

static inline void skip_ws(Parser *ps)
{
    const u8 *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

/* Length of the valid UTF-8 sequence (2..4 bytes, RFC 3629) at p, or 0. */
static inline int utf8_seq(const u8 *p, const u8 *end)
{
    u8 c = p[0];
    if (c < 0xC2)
        return 0; /* ASCII is handled by the caller; 0x80..0xC1 never lead */
    if (c < 0xE0) {
        if (end - p < 2 || (p[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }
    if (c < 0xF0) {
        if (end - p < 3)
            return 0;
        u8 c1 = p[1];
        if (c == 0xE0 && c1 < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && c1 > 0x9F)
            return 0; /* UTF-16 surrogates */
        if ((c1 & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (end - p < 4)
            return 0;
        u8 c1 = p[1];
        if (c == 0xF0 && c1 < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && c1 > 0x8F)
            return 0; /* above U+10FFFF */
        if ((c1 & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

static inline int hexval(u8 c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static inline long hex4(const u8 *p)
{
    int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);
    if ((a | b | c | d) < 0)
        return -1;
    return ((long)a << 12) | ((long)b << 8) | ((long)c << 4) | (long)d;
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */

/* Decode the rest of a string that holds escapes, from `p` (at the first
   backslash) on; [start, p) is already validated and escape-free. */
static int scan_escaped(Parser *ps, const u8 *start, const u8 *p, Span *out, int high)
{
    Scanner *sc = ps->sc;
    const u8 *end = ps->end;
    const u8 *q = p;
    /* the closing quote: a backslash always takes the next byte with it */
    while (q < end) {
        if (*q == '\\')
            q += 2;
        else if (*q == '"')
            break;
        else
            q++;
    }
    if (q >= end)
        return ST_FB;
    /* the value is never longer than its escaped form */
    size_t mark = sc->slen;
    if (grow(&sc->scratch, &sc->scap, mark + (size_t)(q - start)) < 0)
        return ST_ERR;
    u8 *o0 = sc->scratch + mark;
    u8 *o = o0;
    memcpy(o, start, (size_t)(p - start));
    o += p - start;
    while (p < q) {
        u8 c = *p;
        if (c == '\\') {
            if (q - p < 2)
                return ST_FB;
            u8 e = p[1];
            switch (e) {
            case '"': *o++ = '"'; p += 2; break;
            case '\\': *o++ = '\\'; p += 2; break;
            case '/': *o++ = '/'; p += 2; break;
            case 'b': *o++ = 0x08; p += 2; break;
            case 'f': *o++ = 0x0C; p += 2; break;
            case 'n': *o++ = 0x0A; p += 2; break;
            case 'r': *o++ = 0x0D; p += 2; break;
            case 't': *o++ = 0x09; p += 2; break;
            case 'u': {
                if (q - p < 6)
                    return ST_FB;
                long cp = hex4(p + 2);
                if (cp < 0)
                    return ST_FB;
                p += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (q - p < 6 || p[0] != '\\' || p[1] != 'u')
                        return ST_FB;
                    long lo = hex4(p + 2);
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return ST_FB;
                    p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    high = 1;
                    *o++ = (u8)(0xF0 | (cp >> 18));
                    *o++ = (u8)(0x80 | ((cp >> 12) & 0x3F));
                    *o++ = (u8)(0x80 | ((cp >> 6) & 0x3F));
                    *o++ = (u8)(0x80 | (cp & 0x3F));
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return ST_FB;
                } else if (cp < 0x80) {
                    *o++ = (u8)cp;
                } else if (cp < 0x800) {
                    *o++ = (u8)(0xC0 | (cp >> 6));
                    *o++ = (u8)(0x80 | (cp & 0x3F));
                } else {
                    *o++ = (u8)(0xE0 | (cp >> 12));
                    *o++ = (u8)(0x80 | ((cp >> 6) & 0x3F));
                    *o++ = (u8)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default:
                return ST_FB;
            }
        } else if (c < 0x20) {
            return ST_FB;
        } else if (c < 0x80) {
            *o++ = c;
            p++;
        } else {
            int n = utf8_seq(p, q);
            if (n == 0)
                return ST_FB;
            if (n == 4)
                high = 1;
            memcpy(o, p, (size_t)n);
            o += n;
            p += n;
        }
    }
    if (out != NULL) {
        out->off = mark;
        out->len = (size_t)(o - o0);
        out->scratch = 1;
        out->high = (unsigned char)high;
        sc->slen = mark + out->len;
    }
    ps->p = q + 1;
    return ST_OK;
}

/* A JSON string at ps->p (the opening quote). Validates it; with `out`, tells
   where its unescaped value is. */
static int scan_string(Parser *ps, Span *out)
{
    const u8 *p = ps->p + 1, *end = ps->end;
    const u8 *start = p;
    int high = 0;
    for (;;) {
#if defined(__SSE2__)
        {
            const __m128i quote = _mm_set1_epi8('"');
            const __m128i bslash = _mm_set1_epi8('\\');
            const __m128i space = _mm_set1_epi8(0x20);
            while (end - p >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
                /* signed compare: < 0x20 catches the control bytes and every byte >= 0x80 */
                __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                         _mm_cmplt_epi8(v, space));
                int mask = _mm_movemask_epi8(m);
                if (mask != 0) {
                    p += __builtin_ctz((unsigned)mask);
                    goto special;
                }
                p += 16;
            }
        }
#endif
        while (p < end && PLAIN[*p])
            p++;
        if (p >= end)
            return ST_FB;
#if defined(__SSE2__)
    special:
#endif
        {
            u8 c = *p;
            if (c == '"')
                break;
            if (c == '\\')
                return scan_escaped(ps, start, p, out, high);
            if (c < 0x80) /* a control byte (0x7F is PLAIN) */
                return ST_FB;
            int n = utf8_seq(p, end);
            if (n == 0)
                return ST_FB;
            if (n == 4)
                high = 1;
            p += n;
        }
    }
    if (out != NULL) {
        out->off = (size_t)(start - ps->base);
        out->len = (size_t)(p - start);
        out->scratch = 0;
        out->high = (unsigned char)high;
    }
    ps->p = p + 1;
    return ST_OK;
}

static inline const u8 *span_ptr(const Parser *ps, const Span *s)
{
    return s->scratch ? ps->sc->scratch + s->off : ps->base + s->off;
}

/* Room that the JSON string of a span takes at most, quotes aside: a value
   read without escapes is written as it is, others may grow to \u00XX. */
static inline size_t span_room(const Span *s)
{
    return s->scratch ? 6 * s->len : s->len;
}

/* ------------------------------------------------------------------------ */
/* Generic values (validated, skipped)                                      */

static int skip_value(Parser *ps);

static int skip_literal(Parser *ps, const char *lit, size_t len)
{
    if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, lit, len) != 0)
        return ST_FB;
    ps->p += len;
    return ST_OK;
}

static int skip_number(Parser *ps)
{
    const u8 *p = ps->p, *end = ps->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return ST_FB;
    const u8 *digits = p;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return ST_FB;
    }
    if (p - digits > MAX_NUM_DIGITS)
        return ST_FB;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
        return ST_FB;
    ps->p = p;
    return ST_OK;
}

static inline int open_container(Parser *ps)
{
    ps->p++;
    if (++ps->depth > MAX_DEPTH)
        return ST_FB;
    return ST_OK;
}

/* The next member of an object: ST_OK with its name (escape-free, else ST_FB)
   and ps->p at its value, or ST_DONE after the closing brace. */
static int next_member(Parser *ps, int *first, const u8 **name, size_t *nlen)
{
    skip_ws(ps);
    int c = peek(ps);
    if (c == '}') {
        ps->p++;
        ps->depth--;
        return ST_DONE;
    }
    if (*first) {
        *first = 0;
    } else {
        if (c != ',')
            return ST_FB;
        ps->p++;
        skip_ws(ps);
        c = peek(ps);
    }
    if (c != '"')
        return ST_FB;
    Span s;
    int rc = scan_string(ps, name != NULL ? &s : NULL);
    if (rc != ST_OK)
        return rc;
    if (name != NULL) {
        if (s.scratch)
            return ST_FB; /* an escaped member name: not worth reading */
        *name = ps->base + s.off;
        *nlen = s.len;
    }
    skip_ws(ps);
    if (peek(ps) != ':')
        return ST_FB;
    ps->p++;
    skip_ws(ps);
    return ST_OK;
}

/* The next item of an array: ST_OK with ps->p at it, or ST_DONE after ']'. */
static int next_item(Parser *ps, int *first)
{
    skip_ws(ps);
    int c = peek(ps);
    if (c == ']' && *first) {
        ps->p++;
        ps->depth--;
        return ST_DONE;
    }
    if (*first) {
        *first = 0;
    } else {
        if (c == ']') {
            ps->p++;
            ps->depth--;
            return ST_DONE;
        }
        if (c != ',')
            return ST_FB;
        ps->p++;
        skip_ws(ps);
    }
    return ST_OK;
}

static int skip_value(Parser *ps)
{
    int rc, first = 1;
    switch (peek(ps)) {
    case '"':
        return scan_string(ps, NULL);
    case '{':
        if ((rc = open_container(ps)) != ST_OK)
            return rc;
        for (;;) {
            rc = next_member(ps, &first, NULL, NULL);
            if (rc == ST_DONE)
                return ST_OK;
            if (rc != ST_OK)
                return rc;
            if ((rc = skip_value(ps)) != ST_OK)
                return rc;
        }
    case '[':
        if ((rc = open_container(ps)) != ST_OK)
            return rc;
        for (;;) {
            rc = next_item(ps, &first);
            if (rc == ST_DONE)
                return ST_OK;
            if (rc != ST_OK)
                return rc;
            if ((rc = skip_value(ps)) != ST_OK)
                return rc;
        }
    case 't':
        return skip_literal(ps, "true", 4);
    case 'f':
        return skip_literal(ps, "false", 5);
    case 'n':
        return skip_literal(ps, "null", 4);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return skip_number(ps);
    default:
        return ST_FB;
    }
}

/* ------------------------------------------------------------------------ */
/* Member bookkeeping of the objects read                                   */

static inline int seen_known(Seen *seen, int bit)
{
    uint32_t b = (uint32_t)1 << bit;
    if (seen->known & b)
        return ST_FB;
    seen->known |= b;
    return ST_OK;
}

static int seen_unknown(Seen *seen, const u8 *name, size_t len)
{
    for (int i = 0; i < seen->n; i++)
        if (seen->lens[i] == len && memcmp(seen->names[i], name, len) == 0)
            return ST_FB;
    if (seen->n >= MAX_UNKNOWN)
        return ST_FB;
    seen->names[seen->n] = name;
    seen->lens[seen->n] = len;
    seen->n++;
    return ST_OK;
}

/* An unknown member: remembered for the duplicate check, its value skipped. */
static inline int other_member(Parser *ps, Seen *seen, const u8 *name, size_t len)
{
    int rc = seen_unknown(seen, name, len);
    if (rc != ST_OK)
        return rc;
    return skip_value(ps);
}

/* ------------------------------------------------------------------------ */
/* Log records                                                              */

static inline int at_literal(const Parser *ps, const char *lit, size_t len)
{
    return (size_t)(ps->end - ps->p) >= len && memcmp(ps->p, lit, len) == 0;
}

#define AT(ps, lit) at_literal((ps), (lit), sizeof(lit) - 1)

/* 0|-?[1-9][0-9]*, at most 19 digits */
static int plain_int(const u8 *v, size_t n)
{
    size_t i = 0;
    if (n > 0 && v[0] == '-')
        i = 1;
    if (i >= n || n - i > MAX_INT_DIGITS)
        return 0;
    if (v[i] == '0')
        return n == 1;
    for (; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    return 1;
}

/* An AnyValue object {"stringValue": ...} etc. at ps->p ('{'). `kind` is K_BAD
   unless it has exactly one member of a plain kind. `count` is its number of
   members. */
static int read_value_object(Parser *ps, int *kind, Span *val, int *bval, int *count)
{
    int rc, first = 1;
    const u8 *name;
    size_t nlen;
    Seen seen;
    seen.known = 0;
    seen.n = 0;
    *kind = K_BAD;
    *count = 0;
    memset(val, 0, sizeof *val);
    if ((rc = open_container(ps)) != ST_OK)
        return rc;
    for (;;) {
        rc = next_member(ps, &first, &name, &nlen);
        if (rc == ST_DONE)
            break;
        if (rc != ST_OK)
            return rc;
        (*count)++;
        int c = peek(ps);
        if (NAME_IS(name, nlen, "stringValue")) {
            if ((rc = seen_known(&seen, 0)) != ST_OK)
                return rc;
            if (c == '"') {
                if ((rc = scan_string(ps, val)) != ST_OK)
                    return rc;
                *kind = K_STR;
            } else {
                if ((rc = skip_value(ps)) != ST_OK)
                    return rc;
                *kind = K_BAD;
            }
        } else if (NAME_IS(name, nlen, "intValue")) {
            if ((rc = seen_known(&seen, 1)) != ST_OK)
                return rc;
            if (c == '"') {
                if ((rc = scan_string(ps, val)) != ST_OK)
                    return rc;
                *kind = plain_int(span_ptr(ps, val), val->len) ? K_INT : K_BAD;
            } else {
                if ((rc = skip_value(ps)) != ST_OK)
                    return rc;
                *kind = K_BAD;
            }
        } else if (NAME_IS(name, nlen, "boolValue")) {
            if ((rc = seen_known(&seen, 2)) != ST_OK)
                return rc;
            if (c == 't' || c == 'f') {
                if ((rc = skip_value(ps)) != ST_OK)
                    return rc;
                *bval = (c == 't');
                *kind = K_BOOL;
            } else {
                if ((rc = skip_value(ps)) != ST_OK)
                    return rc;
                *kind = K_BAD;
            }
        } else {
            if ((rc = other_member(ps, &seen, name, nlen)) != ST_OK)
                return rc;
            *kind = K_BAD;
        }
    }
    if (*count != 1)
        *kind = K_BAD;
    return ST_OK;
}

static int push_attribute(Scanner *sc, Record *rec, const Span *key, const Span *val, int kind, int bval);

/* One attribute entry {"key": ..., "value": {...}} at ps->p ('{'). */
static int read_attribute(Parser *ps, Record *rec)
{
    Scanner *sc = ps->sc;
    int rc, first = 1;
    const u8 *name;
    size_t nlen;
    Seen seen;
    Span key = {0, 0, 0, 0}, val = {0, 0, 0, 0};
    int has_key = 0, has_value = 0, kind = K_BAD, bval = 0, count = 0;
    seen.known = 0;
    seen.n = 0;
    if ((rc = open_container(ps)) != ST_OK)
        return rc;
    for (;;) {
        rc = next_member(ps, &first, &name, &nlen);
        if (rc == ST_DONE)
            break;
        if (rc != ST_OK)
            return rc;
        int c = peek(ps);
        if (NAME_IS(name, nlen, "key")) {
            if ((rc = seen_known(&seen, 0)) != ST_OK)
                return rc;
            if (c == '"') {
                if ((rc = scan_string(ps, &key)) != ST_OK)
                    return rc;
                has_key = 1;
            } else {
                if ((rc = skip_value(ps)) != ST_OK)
                    return rc;
                rec->plain = 0;
            }
        } else if (NAME_IS(name, nlen, "value")) {
            if ((rc = seen_known(&seen, 1)) != ST_OK)
                return rc;
            if (c == '{') {
                if ((rc = read_value_object(ps, &kind, &val, &bval, &count)) != ST_OK)
                    return rc;
                has_value = 1;
            } else {
                if ((rc = skip_value(ps)) != ST_OK)
                    return rc;
                rec->plain = 0;
            }
        } else {
            if ((rc = other_member(ps, &seen, name, nlen)) != ST_OK)
                return rc;
        }
    }
    if (!has_key || !has_value || kind == K_BAD)
        rec->plain = 0;
    return push_attribute(sc, rec, &key, &val, kind, bval);
}

static int push_attribute(Scanner *sc, Record *rec, const Span *key, const Span *val, int kind, int bval)
{
    if (!rec->plain)
        return ST_OK;
    if (rec->nattrs >= sc->acap) {
        size_t ncap = sc->acap ? sc->acap * 2 : 32;
        Attr *na = (Attr *)PyMem_Realloc(sc->attrs, ncap * sizeof(Attr));
        if (na == NULL) {
            PyErr_NoMemory();
            return ST_ERR;
        }
        sc->attrs = na;
        sc->acap = ncap;
    }
    Attr *a = &sc->attrs[rec->nattrs++];
    a->key = *key;
    a->val = *val;
    a->kind = kind;
    a->bval = bval;
    a->integ = I_NONE;
    return ST_OK;
}

/* The compact form that orjson (and so the SDK) writes,
   {"key":"K","value":{"stringValue":"V"}} and the like, read without the
   general machinery. 1: read; 0: not that form (nothing consumed, the general
   path reads it); ST_ERR. */
static int fast_attribute(Parser *ps, Record *rec)
{
    Scanner *sc = ps->sc;
    const u8 *start = ps->p;
    size_t mark = sc->slen;
    Span key, val = {0, 0, 0, 0};
    int kind, bval = 0, rc;

    if (!AT(ps, "{\"key\":\""))
        return 0;
    ps->p += 7;
    if ((rc = scan_string(ps, &key)) != ST_OK)
        goto other;
    if (!AT(ps, ",\"value\":{\""))
        goto other;
    ps->p += 11;
    if (AT(ps, "stringValue\":\"")) {
        ps->p += 13; /* at the value's opening quote */
        if ((rc = scan_string(ps, &val)) != ST_OK)
            goto other;
        kind = K_STR;
    } else if (AT(ps, "intValue\":\"")) {
        ps->p += 10;
        if ((rc = scan_string(ps, &val)) != ST_OK)
            goto other;
        if (!plain_int(span_ptr(ps, &val), val.len))
            goto other;
        kind = K_INT;
    } else if (AT(ps, "boolValue\":true")) {
        ps->p += 15;
        kind = K_BOOL;
        bval = 1;
    } else if (AT(ps, "boolValue\":false")) {
        ps->p += 16;
        kind = K_BOOL;
    } else {
        rc = ST_OK;
        goto other;
    }
    if (!AT(ps, "}}"))
        goto other;
    ps->p += 2;
    rc = push_attribute(sc, rec, &key, &val, kind, bval);
    return rc == ST_OK ? 1 : rc;
other:
    if (rc == ST_ERR)
        return ST_ERR;
    ps->p = start;
    sc->slen = mark;
    return 0;
}

static int read_attributes(Parser *ps, Record *rec)
{
    int rc, first = 1;
    if ((rc = open_container(ps)) != ST_OK)
        return rc;
    for (;;) {
        rc = next_item(ps, &first);
        if (rc == ST_DONE)
            return ST_OK;
        if (rc != ST_OK)
            return rc;
        if (peek(ps) == '{') {
            rc = fast_attribute(ps, rec);
            if (rc == 1)
                continue;
            if (rc == 0)
                rc = read_attribute(ps, rec);
        } else {
            rec->plain = 0;
            rc = skip_value(ps);
        }
        if (rc != ST_OK)
            return rc;
    }
}

/* A string member read as a span, null as "absent"; anything else makes the
   record not plain. */
static int read_opt_string(Parser *ps, Record *rec, Span *s, int *present)
{
    int c = peek(ps);
    *present = 0;
    if (c == '"') {
        int rc = scan_string(ps, s);
        if (rc == ST_OK)
            *present = 1;
        return rc;
    }
    if (c != 'n')
        rec->plain = 0;
    return skip_value(ps);
}

static int read_hex_id(Parser *ps, Record *rec, Span *s, int *has, size_t want)
{
    int present;
    int rc = read_opt_string(ps, rec, s, &present);
    *has = 0;
    if (rc != ST_OK || !present || s->len == 0)
        return rc;
    if (s->len != want) {
        rec->plain = 0;
        return ST_OK;
    }
    const u8 *v = span_ptr(ps, s);
    int nonzero = 0;
    for (size_t i = 0; i < want; i++) {
        u8 c = v[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            rec->plain = 0;
            return ST_OK;
        }
        if (c != '0')
            nonzero = 1;
    }
    *has = nonzero;
    return ST_OK;
}

static int read_nanos(Parser *ps, Record *rec, uint64_t *value)
{
    Span s;
    int present;
    int rc = read_opt_string(ps, rec, &s, &present);
    *value = 0;
    if (rc != ST_OK || !present)
        return rc;
    const u8 *v = span_ptr(ps, &s);
    if (s.len == 0) {
        rec->plain = 0;
        return ST_OK;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < s.len; i++) {
        u8 c = v[i];
        if (c < '0' || c > '9') {
            rec->plain = 0;
            return ST_OK;
        }
        uint64_t d = (uint64_t)(c - '0');
        if (x > (UINT64_MAX - d) / 10) {
            rec->plain = 0;
            return ST_OK;
        }
        x = x * 10 + d;
    }
    *value = x;
    return ST_OK;
}

/* ------------------------------------------------------------------------ */
/* Canonical bytes                                                          */

/* memcmp order of the keys' UTF-8 bytes, shorter first on a tie */
static inline int key_cmp(const Attr *a, const Attr *b)
{
    const u8 *x = a->k, *y = b->k;
    size_t la = a->key.len, lb = b->key.len;
    size_t n = la < lb ? la : lb, i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        if (u != v) {
            u = __builtin_bswap64(u);
            v = __builtin_bswap64(v);
            return u < v ? -1 : 1;
        }
    }
#endif
    for (; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return (la > lb) - (la < lb);
}

static int key_qsort_cmp(const void *x, const void *y)
{
    return key_cmp(*(Attr *const *)x, *(Attr *const *)y);
}

static u8 *put_escaped(u8 *w, const u8 *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        u8 c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *w++ = c;
            continue;
        }
        *w++ = '\\';
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case 0x08: *w++ = 'b'; break;
        case 0x09: *w++ = 't'; break;
        case 0x0A: *w++ = 'n'; break;
        case 0x0C: *w++ = 'f'; break;
        case 0x0D: *w++ = 'r'; break;
        default:
            *w++ = 'u';
            *w++ = '0';
            *w++ = '0';
            *w++ = HEXDIGITS[c >> 4];
            *w++ = HEXDIGITS[c & 15];
        }
    }
    return w;
}

/* A JSON string of an unescaped value: strings read from the line without
   escapes are their own JCS form (no quote, backslash or control byte). */
static inline u8 *put_string(u8 *w, const u8 *s, size_t n, int scratch)
{
    *w++ = '"';
    if (scratch) {
        w = put_escaped(w, s, n);
    } else {
        memcpy(w, s, n);
        w += n;
    }
    *w++ = '"';
    return w;
}

#define PUT_LIT(w, lit)                        \
    do {                                       \
        memcpy((w), (lit), sizeof(lit) - 1);   \
        (w) += sizeof(lit) - 1;                \
    } while (0)

static u8 *put_decimal(u8 *w, uint64_t x)
{
    u8 tmp[20];
    int n = 0;
    do {
        tmp[n++] = (u8)('0' + (x % 10));
        x /= 10;
    } while (x);
    while (n)
        *w++ = tmp[--n];
    return w;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                  */

static PyObject *make_str(const u8 *s, size_t n)
{
    return PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)n, NULL);
}

static PyObject *value_dict(const Parser *ps, const Attr *a)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    PyObject *key, *v;
    if (a->kind == K_BOOL) {
        key = S_BV;
        v = a->bval ? Py_True : Py_False;
        Py_INCREF(v);
    } else {
        key = a->kind == K_STR ? S_SV : S_IV;
        v = make_str(span_ptr(ps, &a->val), a->val.len);
        if (v == NULL) {
            Py_DECREF(d);
            return NULL;
        }
    }
    int rc = PyDict_SetItem(d, key, v);
    Py_DECREF(v);
    if (rc < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

/* A str of s, the one in *cache when it holds the same text (the next record
   mostly has the same event name, stream id): saves making it, and its hash
   is computed once for the dict look-ups in Python. */
static PyObject *cached_str(PyObject **cache, const u8 *s, size_t n)
{
    if (n == 0) {
        Py_INCREF(S_EMPTY);
        return S_EMPTY;
    }
    if (*cache != NULL) {
        Py_ssize_t clen;
        const char *c = PyUnicode_AsUTF8AndSize(*cache, &clen);
        if (c != NULL && (size_t)clen == n && memcmp(c, s, n) == 0) {
            Py_INCREF(*cache);
            return *cache;
        }
        PyErr_Clear();
    }
    PyObject *str = make_str(s, n);
    if (str == NULL)
        return NULL;
    Py_INCREF(str);
    Py_XSETREF(*cache, str);
    return str;
}

static int mac_matches(const Scanner *sc, const Parser *ps, const Attr *mac, const Attr *key_id,
                       const u8 *canonical, size_t clen)
{
    const u8 *id = (const u8 *)"default";
    size_t idlen = 7;
    if (mac == NULL || mac->kind != K_STR || mac->val.len != 44)
        return 0;
    if (key_id != NULL) {
        if (key_id->kind != K_STR)
            return 0;
        id = key_id->v;
        idlen = key_id->val.len;
    }
    const MacKey *key = NULL;
    for (Py_ssize_t i = 0; i < sc->nkeys; i++) {
        if ((size_t)sc->keys[i].idlen == idlen && memcmp(sc->keys[i].id, id, idlen) == 0) {
            key = &sc->keys[i];
            break;
        }
    }
    if (key == NULL)
        return 0;
    (void)ps;
    unsigned char inner[SHA256_DIGEST_LENGTH], tag[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx = key->inner;
    SHA256_Update(&ctx, canonical, clen);
    SHA256_Final(inner, &ctx);
    ctx = key->outer;
    SHA256_Update(&ctx, inner, sizeof inner);
    SHA256_Final(tag, &ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    char b64[44];
    int j = 0;
    for (int i = 0; i < 30; i += 3) {
        uint32_t t = ((uint32_t)tag[i] << 16) | ((uint32_t)tag[i + 1] << 8) | tag[i + 2];
        b64[j++] = B64[(t >> 18) & 63];
        b64[j++] = B64[(t >> 12) & 63];
        b64[j++] = B64[(t >> 6) & 63];
        b64[j++] = B64[t & 63];
    }
    {
        uint32_t t = ((uint32_t)tag[30] << 16) | ((uint32_t)tag[31] << 8);
        b64[j++] = B64[(t >> 18) & 63];
        b64[j++] = B64[(t >> 12) & 63];
        b64[j++] = B64[(t >> 6) & 63];
        b64[j++] = '=';
    }
    return CRYPTO_memcmp(b64, mac->v, 44) == 0;
}

/* ------------------------------------------------------------------------ */
/* The per-record checks of `_scan._check_record`, for the common record      */
/* that has nothing to report                                                 */

/* The attributes those checks read: SPEC names, fixed by the contract. */
enum {
    A_RID,        /* audit.record.id */
    A_TARGET,     /* audit.target.id */
    A_END,        /* audit.sequence.end */
    A_CE_ID,      /* cloudevents.event_id */
    A_NUM,        /* audit.sequence.number */
    A_CP_HASH,    /* audit.checkpoint.hash */
    A_CE_TYPE,    /* cloudevents.event_type */
    A_CP_NUM,     /* audit.checkpoint.number */
    A_CP_KEY_ID,  /* audit.checkpoint.key_id */
    A_SID,        /* audit.sequence.stream_id */
    A_CE_SUBJECT, /* cloudevents.event_subject */
    A_CP_SIG,     /* audit.checkpoint.signature */
    A_PREV_HASH,  /* audit.sequence.previous_hash */
    A_PREV_ID,    /* audit.sequence.previous_record_id */
    N_SPEC
};

#define CHECKPOINT_EVENT "audit.checkpoint"

/* the entry flags of _scan */
#define F_END 1
#define F_CHECKPOINT 2
#define F_MAC_OK 4

/* Which of those attributes the key (unescaped UTF-8) names, or -1. */
static int spec_slot(const u8 *k, size_t n)
{
    switch (n) {
    case 15:
        if (NAME_IS(k, n, "audit.record.id"))
            return A_RID;
        if (NAME_IS(k, n, "audit.target.id"))
            return A_TARGET;
        break;
    case 18:
        if (NAME_IS(k, n, "audit.sequence.end"))
            return A_END;
        break;
    case 20:
        if (NAME_IS(k, n, "cloudevents.event_id"))
            return A_CE_ID;
        break;
    case 21:
        if (NAME_IS(k, n, "audit.sequence.number"))
            return A_NUM;
        if (NAME_IS(k, n, "audit.checkpoint.hash"))
            return A_CP_HASH;
        break;
    case 22:
        if (NAME_IS(k, n, "cloudevents.event_type"))
            return A_CE_TYPE;
        break;
    case 23:
        if (NAME_IS(k, n, "audit.checkpoint.number"))
            return A_CP_NUM;
        if (NAME_IS(k, n, "audit.checkpoint.key_id"))
            return A_CP_KEY_ID;
        break;
    case 24:
        if (NAME_IS(k, n, "audit.sequence.stream_id"))
            return A_SID;
        break;
    case 25:
        if (NAME_IS(k, n, "cloudevents.event_subject"))
            return A_CE_SUBJECT;
        break;
    case 26:
        if (NAME_IS(k, n, "audit.checkpoint.signature"))
            return A_CP_SIG;
        break;
    case 28:
        if (NAME_IS(k, n, "audit.sequence.previous_hash"))
            return A_PREV_HASH;
        break;
    case 33:
        if (NAME_IS(k, n, "audit.sequence.previous_record_id"))
            return A_PREV_ID;
        break;
    default:
        break;
    }
    return -1;
}

/* The integer of an intValue attribute when it fits in int64 (`_int` reads
   any size; the rarer others are left to Python). */
static int int64_of(const Attr *a, int64_t *out)
{
    if (a == NULL || a->kind != K_INT)
        return 0;
    /* plain_int holds: 0|-?[1-9][0-9]*, at most 19 digits, so below 2**64 */
    const u8 *v = a->v;
    size_t n = a->val.len, i = 0;
    int neg = v[0] == '-';
    uint64_t x = 0;
    for (i = (size_t)neg; i < n; i++)
        x = x * 10 + (uint64_t)(v[i] - '0');
    if (neg) {
        if (x > (uint64_t)INT64_MAX + 1)
            return 0;
        *out = x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x;
    } else {
        if (x > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)x;
    }
    return 1;
}

/* A stringValue attribute whose string is s. */
static inline int str_is(const Attr *a, const u8 *s, size_t n)
{
    return a != NULL && a->kind == K_STR && a->val.len == n && (n == 0 || memcmp(a->v, s, n) == 0);
}

/* The tagged values are equal (both absent, or the same kind and value):
   Python's `!=` of the value dicts. Plain integers have one spelling each. */
static inline int same_value(const Attr *x, const Attr *y)
{
    if (x == NULL || y == NULL)
        return x == y;
    if (x->kind != y->kind)
        return 0;
    if (x->kind == K_BOOL)
        return x->bval == y->bval;
    return x->val.len == y->val.len && (x->val.len == 0 || memcmp(x->v, y->v, x->val.len) == 0);
}

static inline const Attr *if_str(const Attr *a)
{
    return a != NULL && a->kind == K_STR ? a : NULL;
}

/* What the entry of a checked record needs. */
typedef struct {
    const Attr *sid, *rid;
    int previous; /* claims a predecessor: prev_hash / prev_id (strings or NULL) */
    const Attr *prev_hash, *prev_id;
    int checkpoint; /* a valid checkpoint: covered, cp_hash, cp_sig / cp_key_id (or NULL) */
    int64_t num, covered;
    const Attr *cp_hash, *cp_sig, *cp_key_id;
    int flags;
} Checked;

/* 1 when `_check_record` finds nothing to report about the record, and its
   numbers fit in int64; `out` then describes its entry. 0: Python checks it. */
static int check_record(const Scanner *sc, const Attr *const *spec, const Attr *mac, int mac_ok,
                        const u8 *ev, size_t evlen, Checked *out)
{
    int flags = 0;
    /* MAC (SPEC section 2): verified, or without keys a string at least */
    if (sc->have_keys) {
        if (!mac_ok)
            return 0;
        flags = F_MAC_OK;
    } else if (mac == NULL || mac->kind != K_STR) {
        return 0;
    }
    /* attribute mirrors (SPEC section 1) */
    const Attr *rid = spec[A_RID];
    if (rid == NULL || rid->kind != K_STR)
        return 0;
    if (!str_is(spec[A_CE_ID], rid->v, rid->val.len))
        return 0;
    if (!str_is(spec[A_CE_TYPE], ev, evlen))
        return 0;
    if (!same_value(spec[A_CE_SUBJECT], spec[A_TARGET]))
        return 0;
    /* a place in a stream */
    const Attr *sid = spec[A_SID];
    if (sid == NULL || sid->kind != K_STR || sid->val.len == 0)
        return 0;
    if (!int64_of(spec[A_NUM], &out->num) || out->num < 1)
        return 0;
    out->checkpoint = 0;
    if (NAME_IS(ev, evlen, CHECKPOINT_EVENT)) {
        flags |= F_CHECKPOINT;
        if (!int64_of(spec[A_CP_NUM], &out->covered))
            return 0;
        if ((out->cp_hash = if_str(spec[A_CP_HASH])) == NULL)
            return 0;
        out->cp_sig = if_str(spec[A_CP_SIG]);
        out->cp_key_id = if_str(spec[A_CP_KEY_ID]);
        out->checkpoint = 1;
    }
    const Attr *end = spec[A_END];
    if (end != NULL && end->kind == K_BOOL && end->bval)
        flags |= F_END;
    out->previous = spec[A_PREV_HASH] != NULL || spec[A_PREV_ID] != NULL;
    out->prev_hash = if_str(spec[A_PREV_HASH]);
    out->prev_id = if_str(spec[A_PREV_ID]);
    out->sid = sid;
    out->rid = rid;
    out->flags = flags;
    return 1;
}

/* The string of a stringValue attribute, or None. */
static PyObject *str_or_none(const Attr *a)
{
    if (a == NULL) {
        Py_INCREF(Py_None);
        return Py_None;
    }
    return make_str(a->v, a->val.len);
}

#define SET_ITEM(t, i, expr)                \
    do {                                    \
        PyObject *item_ = (expr);           \
        if (item_ == NULL)                  \
            goto fail;                      \
        PyTuple_SET_ITEM((t), (i), item_);  \
    } while (0)

/* (digest, sid, num, rid, previous, flags, checkpoint, timestamp): the
   arguments of `_scan._place`. Takes the reference to `digest`. */
static PyObject *checked_item(Scanner *sc, PyObject *digest, const Checked *c, uint64_t time)
{
    PyObject *t = PyTuple_New(8), *sub = NULL;
    if (t == NULL) {
        Py_DECREF(digest);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, digest);
    SET_ITEM(t, 1, cached_str(&sc->sid_cache, c->sid->v, c->sid->val.len));
    SET_ITEM(t, 2, PyLong_FromLongLong((long long)c->num));
    SET_ITEM(t, 3, make_str(c->rid->v, c->rid->val.len));
    if (c->previous) {
        SET_ITEM(t, 4, sub = PyTuple_New(2));
        SET_ITEM(sub, 0, str_or_none(c->prev_hash));
        SET_ITEM(sub, 1, str_or_none(c->prev_id));
    } else {
        Py_INCREF(Py_None);
        PyTuple_SET_ITEM(t, 4, Py_None);
    }
    SET_ITEM(t, 5, PyLong_FromLong(c->flags));
    if (c->checkpoint) {
        SET_ITEM(t, 6, sub = PyTuple_New(4));
        SET_ITEM(sub, 0, PyLong_FromLongLong((long long)c->covered));
        SET_ITEM(sub, 1, make_str(c->cp_hash->v, c->cp_hash->val.len));
        SET_ITEM(sub, 2, str_or_none(c->cp_sig));
        SET_ITEM(sub, 3, str_or_none(c->cp_key_id));
    } else {
        Py_INCREF(Py_None);
        PyTuple_SET_ITEM(t, 6, Py_None);
    }
    SET_ITEM(t, 7, PyLong_FromUnsignedLongLong((unsigned long long)time));
    return t;
fail:
    Py_DECREF(t); /* a tuple's unset items are NULL; `sub`, when made, is in it */
    return NULL;
}

/* The result of a record read in full: the tuple, or None when not plain. */
static PyObject *finish_record(Parser *ps, Record *rec)
{
    Scanner *sc = ps->sc;
    size_t n = rec->nattrs;
    const Attr *mac = NULL, *key_id = NULL;
    const Attr *spec[N_SPEC];

    if (!rec->plain || !rec->seen_attrs)
        Py_RETURN_NONE;

    /* resolve the spans (scratch no longer moves) and check the keys */
    /* fixed parts: {"attributes":{}} and the other members, at most 171 bytes
       beside the body and event name strings; each attribute: at most 22 bytes
       beside its key and value strings */
    size_t bound = 256;
    memset(spec, 0, sizeof spec);
    for (size_t i = 0; i < n; i++) {
        Attr *a = &sc->attrs[i];
        a->k = span_ptr(ps, &a->key);
        a->v = span_ptr(ps, &a->val);
        if (a->key.high)
            Py_RETURN_NONE;
        if (a->key.len >= INTEGRITY_PREFIX_LEN && memcmp(a->k, INTEGRITY_PREFIX, INTEGRITY_PREFIX_LEN) == 0) {
            const u8 *rest = a->k + INTEGRITY_PREFIX_LEN;
            size_t rlen = a->key.len - INTEGRITY_PREFIX_LEN;
            if (NAME_IS(rest, rlen, "value"))
                a->integ = I_VALUE, mac = a;
            else if (NAME_IS(rest, rlen, "signer"))
                a->integ = I_SIGNER;
            else if (NAME_IS(rest, rlen, "canonicalization"))
                a->integ = I_CANON;
            else if (NAME_IS(rest, rlen, "key_id"))
                a->integ = I_KEY_ID, key_id = a;
            else
                Py_RETURN_NONE;
        } else {
            int slot = spec_slot(a->k, a->key.len);
            if (slot >= 0)
                spec[slot] = a; /* keys are distinct, else None below */
        }
        bound += span_room(&a->key) + span_room(&a->val) + 40;
    }
    const u8 *body = NULL, *ev = NULL, *trace = NULL, *span = NULL;
    if (rec->has_body) {
        body = span_ptr(ps, &rec->body);
        bound += span_room(&rec->body) + 24;
    }
    if (rec->has_ev) {
        ev = span_ptr(ps, &rec->ev);
        bound += span_room(&rec->ev) + 24;
    }
    if (rec->has_trace)
        trace = span_ptr(ps, &rec->trace);
    if (rec->has_span)
        span = span_ptr(ps, &rec->span);

    /* sort by key (bytes of the UTF-8 value == UTF-16 order without astral keys) */
    if (n > sc->ordcap) {
        size_t ncap = n < 32 ? 32 : n;
        Attr **no = (Attr **)PyMem_Realloc(sc->order, ncap * sizeof(Attr *));
        if (no == NULL)
            return PyErr_NoMemory();
        sc->order = no;
        size_t *np = (size_t *)PyMem_Realloc(sc->perm, ncap * sizeof(size_t));
        if (np == NULL)
            return PyErr_NoMemory();
        sc->perm = np;
        sc->ordcap = ncap;
    }
    Attr **order = sc->order;
    /* records of one source mostly list the same keys in the same order: try the
       previous record's order, which is right when the keys come out strictly
       ascending in it (that also rules out a key given twice) */
    int sorted = 0;
    if (n > 0 && n == sc->perm_n) {
        for (size_t i = 0; i < n; i++)
            order[i] = &sc->attrs[sc->perm[i]];
        sorted = 1;
        for (size_t i = 1; i < n; i++)
            if (key_cmp(order[i - 1], order[i]) >= 0) {
                sorted = 0;
                break;
            }
    }
    if (!sorted) {
        sc->perm_n = 0;
        for (size_t i = 0; i < n; i++)
            order[i] = &sc->attrs[i];
    }
    if (sorted) {
        /* done */
    } else if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            Attr *x = order[i];
            size_t j = i;
            while (j > 0 && key_cmp(order[j - 1], x) > 0) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = x;
        }
    } else {
        qsort(order, n, sizeof(Attr *), key_qsort_cmp);
    }
    if (!sorted) {
        for (size_t i = 1; i < n; i++)
            if (key_cmp(order[i - 1], order[i]) == 0)
                Py_RETURN_NONE; /* an attribute given twice */
        for (size_t i = 0; i < n; i++)
            sc->perm[i] = (size_t)(order[i] - sc->attrs);
        sc->perm_n = n;
    }

    /* canonical bytes */
    if (grow(&sc->out, &sc->ocap, bound) < 0)
        return NULL;
    u8 *w = sc->out;
    PUT_LIT(w, "{\"attributes\":{");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const Attr *a = order[i];
        if (a->integ != I_NONE)
            continue;
        if (!first)
            *w++ = ',';
        first = 0;
        w = put_string(w, a->k, a->key.len, a->key.scratch);
        if (a->kind == K_STR) {
            PUT_LIT(w, ":{\"stringValue\":");
            w = put_string(w, a->v, a->val.len, a->val.scratch);
            *w++ = '}';
        } else if (a->kind == K_INT) {
            PUT_LIT(w, ":{\"intValue\":\"");
            memcpy(w, a->v, a->val.len);
            w += a->val.len;
            PUT_LIT(w, "\"}");
        } else if (a->bval) {
            PUT_LIT(w, ":{\"boolValue\":true}");
        } else {
            PUT_LIT(w, ":{\"boolValue\":false}");
        }
    }
    *w++ = '}';
    if (body != NULL) {
        PUT_LIT(w, ",\"body\":");
        w = put_string(w, body, rec->body.len, rec->body.scratch);
    }
    if (ev != NULL) {
        PUT_LIT(w, ",\"event_name\":");
        w = put_string(w, ev, rec->ev.len, rec->ev.scratch);
    }
    if (rec->observed) {
        PUT_LIT(w, ",\"observed_timestamp\":\"");
        w = put_decimal(w, rec->observed);
        *w++ = '"';
    }
    if (span != NULL) {
        PUT_LIT(w, ",\"span_id\":\"");
        memcpy(w, span, 16);
        w += 16;
        *w++ = '"';
    }
    if (rec->time) {
        PUT_LIT(w, ",\"timestamp\":\"");
        w = put_decimal(w, rec->time);
        *w++ = '"';
    }
    if (trace != NULL) {
        PUT_LIT(w, ",\"trace_id\":\"");
        memcpy(w, trace, 32);
        w += 32;
        *w++ = '"';
    }
    *w++ = '}';
    size_t clen = (size_t)(w - sc->out);
    if (clen > bound) /* cannot happen: the bound above is an upper bound */
        Py_FatalError("audit_sdk._cscan: canonical buffer overrun");

    unsigned char md[SHA256_DIGEST_LENGTH];
    {
        /* the low-level API: SHA256() goes through an EVP fetch (locks) in OpenSSL 3 */
        SHA256_CTX ctx;
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, sc->out, clen);
        SHA256_Final(md, &ctx);
    }
    int mac_ok = sc->have_keys && mac_matches(sc, ps, mac, key_id, sc->out, clen);

    /* Python objects */
    PyObject *canonical = NULL, *digest = NULL, *values = NULL, *evname = NULL, *ts = NULL;
    PyObject *result = NULL;
    digest = PyUnicode_New(64, 127);
    if (digest == NULL)
        return NULL;
    {
        Py_UCS1 *d = PyUnicode_1BYTE_DATA(digest);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
            d[2 * i] = HEXDIGITS[md[i] >> 4];
            d[2 * i + 1] = HEXDIGITS[md[i] & 15];
        }
    }
    {
        Checked chk;
        if (check_record(sc, spec, mac, mac_ok, ev, ev != NULL ? rec->ev.len : 0, &chk))
            return checked_item(sc, digest, &chk, rec->time);
    }
    canonical = PyBytes_FromStringAndSize((const char *)sc->out, (Py_ssize_t)clen);
    if (canonical == NULL)
        goto fail;
    values = PyDict_New();
    if (values == NULL)
        goto fail;
    if (sc->nwanted > 0) {
        for (size_t i = 0; i < n; i++) {
            const Attr *a = &sc->attrs[i];
            if (!((sc->wanted_lens >> (a->key.len & 63)) & 1))
                continue;
            for (Py_ssize_t j = 0; j < sc->nwanted; j++) {
                const Wanted *wn = &sc->wanted[j];
                if ((size_t)wn->len != a->key.len || memcmp(wn->utf8, a->k, a->key.len) != 0)
                    continue;
                PyObject *vd = value_dict(ps, a);
                if (vd == NULL)
                    goto fail;
                int rc = PyDict_SetItem(values, wn->name, vd);
                Py_DECREF(vd);
                if (rc < 0)
                    goto fail;
                break;
            }
        }
    }
    evname = cached_str(&sc->ev_cache, ev, ev != NULL ? rec->ev.len : 0);
    if (evname == NULL)
        goto fail;
    ts = PyLong_FromUnsignedLongLong((unsigned long long)rec->time);
    if (ts == NULL)
        goto fail;
    result = PyTuple_New(6);
    if (result == NULL)
        goto fail;
    PyTuple_SET_ITEM(result, 0, canonical);
    PyTuple_SET_ITEM(result, 1, digest);
    PyObject *ok = mac_ok ? Py_True : Py_False;
    Py_INCREF(ok);
    PyTuple_SET_ITEM(result, 2, ok);
    PyTuple_SET_ITEM(result, 3, values);
    PyTuple_SET_ITEM(result, 4, evname);
    PyTuple_SET_ITEM(result, 5, ts);
    return result;

fail:
    Py_XDECREF(canonical);
    Py_XDECREF(digest);
    Py_XDECREF(values);
    Py_XDECREF(evname);
    Py_XDECREF(ts);
    return NULL;
}

/* One log record at ps->p ('{'); appends its result to the list. */
static int read_record(Parser *ps)
{
    Scanner *sc = ps->sc;
    Record rec;
    Seen seen;
    int rc, first = 1, present;
    const u8 *name;
    size_t nlen;

    memset(&rec, 0, sizeof rec);
    rec.plain = 1;
    seen.known = 0;
    seen.n = 0;
    sc->slen = 0; /* the scratch holds this record's strings only */

    if ((rc = open_container(ps)) != ST_OK)
        return rc;
    for (;;) {
        rc = next_member(ps, &first, &name, &nlen);
        if (rc == ST_DONE)
            break;
        if (rc != ST_OK)
            return rc;
        int c = peek(ps);
        switch (nlen) {
        case 10:
            if (NAME_IS(name, nlen, "attributes")) {
                if ((rc = seen_known(&seen, 0)) != ST_OK)
                    return rc;
                if (c == '[') {
                    rec.seen_attrs = 1;
                    rc = read_attributes(ps, &rec);
                } else {
                    rec.plain = 0;
                    rc = skip_value(ps);
                }
                goto next;
            }
            break;
        case 4:
            if (NAME_IS(name, nlen, "body")) {
                if ((rc = seen_known(&seen, 1)) != ST_OK)
                    return rc;
                if (c == '{') {
                    int kind, bval = 0, count;
                    rc = read_value_object(ps, &kind, &rec.body, &bval, &count);
                    /* {"stringValue": <string>} is the body, {} is none */
                    if (rc == ST_OK && count > 0) {
                        if (kind == K_STR)
                            rec.has_body = 1;
                        else
                            rec.plain = 0;
                    }
                } else {
                    if (c != 'n')
                        rec.plain = 0;
                    rc = skip_value(ps);
                }
                goto next;
            }
            break;
        case 9:
            if (NAME_IS(name, nlen, "eventName")) {
                if ((rc = seen_known(&seen, 2)) != ST_OK)
                    return rc;
                rc = read_opt_string(ps, &rec, &rec.ev, &present);
                rec.has_ev = present && rec.ev.len > 0;
                goto next;
            }
            break;
        case 7:
            if (NAME_IS(name, nlen, "traceId")) {
                if ((rc = seen_known(&seen, 3)) != ST_OK)
                    return rc;
                rc = read_hex_id(ps, &rec, &rec.trace, &rec.has_trace, 32);
                goto next;
            }
            break;
        case 6:
            if (NAME_IS(name, nlen, "spanId")) {
                if ((rc = seen_known(&seen, 4)) != ST_OK)
                    return rc;
                rc = read_hex_id(ps, &rec, &rec.span, &rec.has_span, 16);
                goto next;
            }
            break;
        case 12:
            if (NAME_IS(name, nlen, "timeUnixNano")) {
                if ((rc = seen_known(&seen, 5)) != ST_OK)
                    return rc;
                rc = read_nanos(ps, &rec, &rec.time);
                goto next;
            }
            break;
        case 20:
            if (NAME_IS(name, nlen, "observedTimeUnixNano")) {
                if ((rc = seen_known(&seen, 6)) != ST_OK)
                    return rc;
                rc = read_nanos(ps, &rec, &rec.observed);
                goto next;
            }
            break;
        default:
            break;
        }
        rc = other_member(ps, &seen, name, nlen);
    next:
        if (rc != ST_OK)
            return rc;
    }

    PyObject *item = finish_record(ps, &rec);
    if (item == NULL)
        return ST_ERR;
    rc = PyList_Append(ps->list, item);
    Py_DECREF(item);
    return rc < 0 ? ST_ERR : ST_OK;
}

/* ------------------------------------------------------------------------ */
/* The document skeleton                                                    */

/* "logRecords": [...], ps->p at '['. */
static int read_log_records(Parser *ps)
{
    int rc, first = 1;
    if ((rc = open_container(ps)) != ST_OK)
        return rc;
    for (;;) {
        rc = next_item(ps, &first);
        if (rc == ST_DONE)
            return ST_OK;
        if (rc != ST_OK)
            return rc;
        if (peek(ps) != '{')
            return ST_FB;
        if ((rc = read_record(ps)) != ST_OK)
            return rc;
    }
}

/* An array of objects each read by `item`, or null; anything else falls back. */
static int read_array_or_null(Parser *ps, int (*item)(Parser *))
{
    int rc, first = 1;
    int c = peek(ps);
    if (c == 'n')
        return skip_literal(ps, "null", 4);
    if (c != '[')
        return ST_FB;
    if ((rc = open_container(ps)) != ST_OK)
        return rc;
    for (;;) {
        rc = next_item(ps, &first);
        if (rc == ST_DONE)
            return ST_OK;
        if (rc != ST_OK)
            return rc;
        if (peek(ps) != '{')
            return ST_FB;
        if ((rc = item(ps)) != ST_OK)
            return rc;
    }
}

/* An object whose one member of interest, `field`, is read by `read`. */
static int read_holder(Parser *ps, const char *field, size_t flen, int (*read)(Parser *))
{
    int rc, first = 1;
    const u8 *name;
    size_t nlen;
    Seen seen;
    seen.known = 0;
    seen.n = 0;
    if ((rc = open_container(ps)) != ST_OK)
        return rc;
    for (;;) {
        rc = next_member(ps, &first, &name, &nlen);
        if (rc == ST_DONE)
            return ST_OK;
        if (rc != ST_OK)
            return rc;
        if (nlen == flen && memcmp(name, field, flen) == 0) {
            if ((rc = seen_known(&seen, 0)) != ST_OK)
                return rc;
            rc = read(ps);
        } else {
            rc = other_member(ps, &seen, name, nlen);
        }
        if (rc != ST_OK)
            return rc;
    }
}

static int read_log_records_member(Parser *ps)
{
    int c = peek(ps);
    if (c == 'n')
        return skip_literal(ps, "null", 4);
    if (c != '[')
        return ST_FB;
    return read_log_records(ps);
}

static int read_scope_logs_item(Parser *ps)
{
    return read_holder(ps, "logRecords", 10, read_log_records_member);
}

static int read_scope_logs_member(Parser *ps)
{
    return read_array_or_null(ps, read_scope_logs_item);
}

static int read_resource_logs_item(Parser *ps)
{
    return read_holder(ps, "scopeLogs", 9, read_scope_logs_member);
}

static int read_resource_logs_member(Parser *ps)
{
    if (peek(ps) != '[')
        return ST_FB;
    return read_array_or_null(ps, read_resource_logs_item);
}

static int read_document(Parser *ps)
{
    int rc, first = 1, found = 0;
    const u8 *name;
    size_t nlen;
    Seen seen;
    seen.known = 0;
    seen.n = 0;
    skip_ws(ps);
    if (peek(ps) != '{')
        return ST_FB;
    if ((rc = open_container(ps)) != ST_OK)
        return rc;
    for (;;) {
        rc = next_member(ps, &first, &name, &nlen);
        if (rc == ST_DONE)
            break;
        if (rc != ST_OK)
            return rc;
        if (NAME_IS(name, nlen, "resourceLogs")) {
            if ((rc = seen_known(&seen, 0)) != ST_OK)
                return rc;
            found = 1;
            rc = read_resource_logs_member(ps);
        } else {
            rc = other_member(ps, &seen, name, nlen);
        }
        if (rc != ST_OK)
            return rc;
    }
    skip_ws(ps);
    if (ps->p != ps->end || !found)
        return ST_FB;
    return ST_OK;
}

/* ------------------------------------------------------------------------ */
/* The Scanner type                                                         */

static void clear_config(Scanner *self)
{
    if (self->keys != NULL) {
        for (Py_ssize_t i = 0; i < self->nkeys; i++) {
            PyMem_Free(self->keys[i].id);
            OPENSSL_cleanse(&self->keys[i].inner, sizeof(SHA256_CTX));
            OPENSSL_cleanse(&self->keys[i].outer, sizeof(SHA256_CTX));
        }
        PyMem_Free(self->keys);
        self->keys = NULL;
    }
    self->nkeys = 0;
    self->have_keys = 0;
    if (self->wanted != NULL) {
        for (Py_ssize_t i = 0; i < self->nwanted; i++)
            Py_XDECREF(self->wanted[i].name);
        PyMem_Free(self->wanted);
        self->wanted = NULL;
    }
    self->nwanted = 0;
    self->wanted_lens = 0;
}

static void Scanner_dealloc(Scanner *self)
{
    clear_config(self);
    PyMem_Free(self->scratch);
    PyMem_Free(self->out);
    PyMem_Free(self->attrs);
    PyMem_Free(self->order);
    PyMem_Free(self->perm);
    Py_CLEAR(self->ev_cache);
    Py_CLEAR(self->sid_cache);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int set_key(MacKey *mk, PyObject *id, PyObject *value)
{
    Py_ssize_t idlen;
    Py_buffer view;
    unsigned char block[64], pad[64];
    if (!PyUnicode_Check(id)) {
        PyErr_SetString(PyExc_TypeError, "key ids must be str");
        return -1;
    }
    const char *idu = PyUnicode_AsUTF8AndSize(id, &idlen);
    if (idu == NULL)
        return -1;
    if (PyUnicode_Check(value) || PyObject_GetBuffer(value, &view, PyBUF_SIMPLE) < 0) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "keys must be bytes");
        }
        return -1;
    }
    memset(block, 0, sizeof block);
    if (view.len > 64)
        SHA256((const unsigned char *)view.buf, (size_t)view.len, block);
    else
        memcpy(block, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    mk->id = (char *)PyMem_Malloc(idlen > 0 ? (size_t)idlen : 1);
    if (mk->id == NULL) {
        OPENSSL_cleanse(block, sizeof block);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(mk->id, idu, (size_t)idlen);
    mk->idlen = idlen;
    for (int i = 0; i < 64; i++)
        pad[i] = block[i] ^ 0x36;
    SHA256_Init(&mk->inner);
    SHA256_Update(&mk->inner, pad, 64);
    for (int i = 0; i < 64; i++)
        pad[i] = block[i] ^ 0x5C;
    SHA256_Init(&mk->outer);
    SHA256_Update(&mk->outer, pad, 64);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    return 0;
}

static int Scanner_init(Scanner *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"keys", "wanted", NULL};
    PyObject *keys, *wanted;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:Scanner", kwlist, &keys, &wanted))
        return -1;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Scanner is scanning");
        return -1;
    }
    if (keys != Py_None && !PyDict_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "keys must be a dict or None");
        return -1;
    }
    if (!PyTuple_Check(wanted) && !PyList_Check(wanted)) {
        PyErr_SetString(PyExc_TypeError, "wanted must be a tuple of str");
        return -1;
    }
    clear_config(self);
    if (keys != Py_None) {
        Py_ssize_t n = PyDict_Size(keys), pos = 0, i = 0;
        PyObject *id, *value;
        self->have_keys = 1;
        if (n > 0) {
            self->keys = (MacKey *)PyMem_Calloc((size_t)n, sizeof(MacKey));
            if (self->keys == NULL) {
                PyErr_NoMemory();
                goto fail;
            }
        }
        while (i < n && PyDict_Next(keys, &pos, &id, &value)) {
            Py_INCREF(id);
            Py_INCREF(value);
            int rc = set_key(&self->keys[i], id, value);
            Py_DECREF(id);
            Py_DECREF(value);
            if (rc < 0)
                goto fail;
            self->nkeys = ++i;
        }
    }
    {
        PyObject *seq = PySequence_Fast(wanted, "wanted must be a tuple of str");
        if (seq == NULL)
            goto fail;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        if (n > 0) {
            self->wanted = (Wanted *)PyMem_Calloc((size_t)n, sizeof(Wanted));
            if (self->wanted == NULL) {
                Py_DECREF(seq);
                PyErr_NoMemory();
                goto fail;
            }
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *name = PySequence_Fast_GET_ITEM(seq, i);
            if (!PyUnicode_Check(name)) {
                Py_DECREF(seq);
                PyErr_SetString(PyExc_TypeError, "wanted must be a tuple of str");
                goto fail;
            }
            Py_ssize_t len;
            const char *u = PyUnicode_AsUTF8AndSize(name, &len);
            if (u == NULL) {
                Py_DECREF(seq);
                goto fail;
            }
            Py_INCREF(name);
            self->wanted[i].name = name;
            self->wanted[i].utf8 = u;
            self->wanted[i].len = len;
            self->wanted_lens |= (uint64_t)1 << ((size_t)len & 63);
            self->nwanted = i + 1;
        }
        Py_DECREF(seq);
    }
    return 0;
fail:
    clear_config(self);
    return -1;
}

static PyObject *Scanner_scan(Scanner *self, PyObject *arg)
{
    Py_buffer view;
    if (PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "scan() takes bytes, not str");
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (self->busy) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_RuntimeError, "Scanner is already scanning");
        return NULL;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Parser ps;
    ps.base = (const u8 *)view.buf;
    ps.p = ps.base;
    ps.end = ps.base + view.len;
    ps.sc = self;
    ps.list = list;
    ps.depth = 0;
    self->busy = 1;
    self->slen = 0;
    int rc = read_document(&ps);
    self->busy = 0;
    PyBuffer_Release(&view);
    if (rc == ST_OK)
        return list;
    Py_DECREF(list);
    if (rc == ST_ERR)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef Scanner_methods[] = {
    {"scan", (PyCFunction)Scanner_scan, METH_O,
     "scan(line) -> list of per-record results (None for a record that is not plain), "
     "or None when the line must be read in Python."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "audit_sdk._cscan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_itemsize = 0,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Scanner(keys, wanted): reads the plain log records of OTLP-JSON lines.",
    .tp_methods = Scanner_methods,
    .tp_init = (initproc)Scanner_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef cscan_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "audit_sdk._cscan",
    .m_doc = "C hot path of audit-sdk verify for plain OTLP-JSON log records.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__cscan(void)
{
    init_tables();
    if (S_SV == NULL) {
        S_SV = PyUnicode_InternFromString("stringValue");
        S_IV = PyUnicode_InternFromString("intValue");
        S_BV = PyUnicode_InternFromString("boolValue");
        S_EMPTY = PyUnicode_FromStringAndSize("", 0);
        if (S_SV == NULL || S_IV == NULL || S_BV == NULL || S_EMPTY == NULL)
            return NULL;
    }
    if (PyType_Ready(&ScannerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&cscan_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
