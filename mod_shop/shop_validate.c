/*
 * Input validation.  Every rule here is a rule of the API contract; the
 * functions never trust a length, a sign or a type the client chose.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_base64.h>

#include "shop_validate.h"

#define CURSOR_PREFIX "c1:"

int shop_parse_id(const char *s, apr_int64_t *out)
{
    apr_int64_t v = 0;
    const char *c;

    if (s == NULL || *s < '1' || *s > '9' || strlen(s) > 19) {
        return 0;
    }
    for (c = s; *c; c++) {
        int d;
        if (*c < '0' || *c > '9') {
            return 0;
        }
        d = *c - '0';
        if (v > (APR_INT64_MAX - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

static shop_err missing_or_absent(apr_pool_t *p, const char *key, int required,
                                  const char **detail)
{
    if (required) {
        *detail = apr_psprintf(p, "field '%s' is required", key);
        return SHOP_E_INVALID_REQUEST;
    }
    return SHOP_OK;
}

shop_err shop_json_int(apr_pool_t *p, const json_t *obj, const char *key,
                       int required, int *present, apr_int64_t *out,
                       const char **detail)
{
    const json_t *v = json_object_get(obj, key);
    json_int_t n;

    if (present) {
        *present = 0;
    }
    if (v == NULL) {
        return missing_or_absent(p, key, required, detail);
    }
    if (!json_is_integer(v)) {
        *detail = apr_psprintf(p, "field '%s' must be an integer", key);
        return SHOP_E_INVALID_REQUEST;
    }
    n = json_integer_value(v);
    if (n > SHOP_JSON_INT_MAX || n < -SHOP_JSON_INT_MAX) {
        *detail = apr_psprintf(p, "field '%s' is beyond 2^53-1", key);
        return SHOP_E_INVALID_REQUEST;
    }
    if (present) {
        *present = 1;
    }
    *out = (apr_int64_t)n;
    return SHOP_OK;
}

/* Characters, not bytes: jansson has already checked the UTF-8. */
static apr_size_t utf8_chars(const char *s, apr_size_t len)
{
    apr_size_t i, n = 0;

    for (i = 0; i < len; i++) {
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return n;
}

shop_err shop_json_string(apr_pool_t *p, const json_t *obj, const char *key,
                          int required, apr_size_t max_len,
                          const char **out, const char **detail)
{
    const json_t *v = json_object_get(obj, key);
    apr_size_t len;

    *out = NULL;
    if (v == NULL) {
        return missing_or_absent(p, key, required, detail);
    }
    if (!json_is_string(v)) {
        *detail = apr_psprintf(p, "field '%s' must be a string", key);
        return SHOP_E_INVALID_REQUEST;
    }
    len = json_string_length(v);
    if (len == 0 || utf8_chars(json_string_value(v), len) > max_len
        || memchr(json_string_value(v), 0, len)) {
        *detail = apr_psprintf(p, "field '%s' must be 1..%" APR_SIZE_T_FMT
                               " characters", key, max_len);
        return SHOP_E_INVALID_REQUEST;
    }
    *out = apr_pstrmemdup(p, json_string_value(v), len);
    return SHOP_OK;
}

shop_err shop_json_bool(apr_pool_t *p, const json_t *obj, const char *key,
                        int required, int *present, int *out,
                        const char **detail)
{
    const json_t *v = json_object_get(obj, key);

    *present = 0;
    if (v == NULL) {
        return missing_or_absent(p, key, required, detail);
    }
    if (!json_is_boolean(v)) {
        *detail = apr_psprintf(p, "field '%s' must be true or false", key);
        return SHOP_E_INVALID_REQUEST;
    }
    *present = 1;
    *out = json_is_true(v);
    return SHOP_OK;
}

int shop_parse_limit(const char *s, int *out)
{
    apr_int64_t v;

    if (s == NULL) {
        *out = SHOP_LIMIT_DEFAULT;
        return 1;
    }
    if (!shop_parse_id(s, &v) || v > SHOP_LIMIT_MAX) {
        return 0;
    }
    *out = (int)v;
    return 1;
}

static void base64_to_url(char *s)
{
    for (; *s; s++) {
        if (*s == '+') *s = '-';
        else if (*s == '/') *s = '_';
        else if (*s == '=') { *s = '\0'; break; }
    }
}

const char *shop_cursor_encode(apr_pool_t *p, apr_int64_t last_id)
{
    const char *plain = apr_psprintf(p, CURSOR_PREFIX "%" APR_INT64_T_FMT, last_id);
    int plain_len = (int)strlen(plain);
    char *enc = apr_palloc(p, apr_base64_encode_len(plain_len));

    apr_base64_encode(enc, plain, plain_len);
    base64_to_url(enc);
    return enc;
}

int shop_cursor_decode(apr_pool_t *p, const char *cursor, apr_int64_t *last_id)
{
    apr_size_t len = strlen(cursor), i;
    char *std, *plain;
    int plain_len;
    apr_int64_t id;

    if (len == 0 || len > 40) {
        return 0;
    }
    /* Back to standard base64 with padding; reject anything else. */
    std = apr_pcalloc(p, len + 4);
    for (i = 0; i < len; i++) {
        char c = cursor[i];
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (!apr_isalnum(c)) return 0;
        std[i] = c;
    }
    while (i % 4) {
        std[i++] = '=';
    }
    plain = apr_pcalloc(p, apr_base64_decode_len(std) + 1);
    plain_len = apr_base64_decode(plain, std);
    if (plain_len <= (int)strlen(CURSOR_PREFIX)
        || strncmp(plain, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) != 0) {
        return 0;
    }
    plain[plain_len] = '\0';
    /* Every byte counts: a NUL inside, or any spelling but the one
     * shop_cursor_encode makes, is not a cursor. */
    if (strlen(plain) != (apr_size_t)plain_len
        || !shop_parse_id(plain + strlen(CURSOR_PREFIX), &id)
        || strcmp(shop_cursor_encode(p, id), cursor) != 0) {
        return 0;
    }
    *last_id = id;
    return 1;
}

int shop_idem_key_valid(const char *key)
{
    apr_size_t n = 0;

    for (; key[n]; n++) {
        if ((unsigned char)key[n] < 0x20 || (unsigned char)key[n] > 0x7e) {
            return 0;
        }
    }
    return n >= 1 && n <= SHOP_IDEM_KEY_MAX;
}

int shop_login_valid(const char *login)
{
    apr_size_t n = 0;

    for (; login[n]; n++) {
        char c = login[n];
        if (!apr_isalnum(c) && c != '.' && c != '_' && c != '@' && c != '-') {
            return 0;
        }
    }
    return n >= 1 && n <= SHOP_LOGIN_MAX;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX and '+'; returns NULL on a broken escape or a NUL byte. */
static char *url_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        }
        else if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len) return NULL;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return NULL;
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

const char *shop_query_get(apr_pool_t *p, const char *args, const char *name,
                           int *bad)
{
    apr_size_t name_len = strlen(name);
    const char *found = NULL;
    const char *s = args;

    while (s && *s) {
        const char *end = strchr(s, '&');
        apr_size_t len = end ? (apr_size_t)(end - s) : strlen(s);

        if (len > name_len && strncmp(s, name, name_len) == 0 && s[name_len] == '=') {
            if (found) {
                *bad = 1;
                return NULL;
            }
            found = url_decode(p, s + name_len + 1, len - name_len - 1);
            if (found == NULL) {
                *bad = 1;
                return NULL;
            }
        }
        else if (len == name_len && strncmp(s, name, name_len) == 0) {
            *bad = 1;           /* "?limit" without a value */
            return NULL;
        }
        s = end ? end + 1 : NULL;
    }
    return found;
}

/* ---- RFC 3339 date-times ------------------------------------------------- */

/* n digits at s, as a number; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!apr_isdigit(s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

/* "Z", or "+HH:MM" / "-HH:MM" ending the string. */
static int valid_offset(const char *s)
{
    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        return 1;
    }
    return (s[0] == '+' || s[0] == '-') && s[3] == ':' && s[6] == '\0'
           && digits(s + 1, 2) >= 0 && digits(s + 1, 2) <= 23
           && digits(s + 4, 2) >= 0 && digits(s + 4, 2) <= 59;
}

int shop_rfc3339_valid(const char *s)
{
    int year, month, day;

    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't')
        || s[13] != ':' || s[16] != ':') {
        return 0;
    }
    year = digits(s, 4);
    month = digits(s + 5, 2);
    day = digits(s + 8, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1
        || day > days_in_month(year, month)
        || digits(s + 11, 2) < 0 || digits(s + 11, 2) > 23
        || digits(s + 14, 2) < 0 || digits(s + 14, 2) > 59
        || digits(s + 17, 2) < 0 || digits(s + 17, 2) > 60) {
        return 0;
    }
    s += 19;
    if (*s == '.') {
        const char *frac = ++s;
        while (apr_isdigit(*s)) {
            s++;
        }
        if (s == frac || s - frac > 9) {
            return 0;
        }
    }
    return valid_offset(s);
}
