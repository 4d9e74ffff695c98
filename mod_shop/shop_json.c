/*
 * Pool-bound jansson helpers and the problem+json document.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "shop_json.h"

static apr_status_t json_release(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *shop_json_own(apr_pool_t *p, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(p, j, json_release, apr_pool_cleanup_null);
    }
    return j;
}

static const char *dump(apr_pool_t *p, const json_t *j, size_t flags)
{
    char *text = json_dumps(j, flags | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    char *copy;

    if (text == NULL) {
        return "null";
    }
    copy = apr_pstrdup(p, text);
    free(text);
    return copy;
}

const char *shop_json_dump(apr_pool_t *p, const json_t *j)
{
    return dump(p, j, 0);
}

const char *shop_json_canonical(apr_pool_t *p, const json_t *j)
{
    return dump(p, j, JSON_SORT_KEYS);
}

shop_err shop_json_parse_object(apr_pool_t *p, const char *buf, apr_size_t len,
                                json_t **out, const char **detail)
{
    json_error_t jerr;
    json_t *j;

    *out = NULL;
    if (len == 0) {
        *detail = "request body is empty";
        return SHOP_E_INVALID_REQUEST;
    }
    j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        *detail = apr_psprintf(p, "malformed JSON at position %d: %s",
                               jerr.position, jerr.text);
        return SHOP_E_INVALID_REQUEST;
    }
    shop_json_own(p, j);
    if (!json_is_object(j)) {
        *detail = "request body must be a JSON object";
        return SHOP_E_INVALID_REQUEST;
    }
    *out = j;
    return SHOP_OK;
}

json_t *shop_problem_doc(apr_pool_t *p, shop_err e, const char *detail)
{
    const shop_err_info *info = shop_err_get(e);
    json_t *doc = json_pack("{s:s, s:s, s:i, s:s}",
                            "type", shop_err_type_uri(p, e),
                            "title", info->title,
                            "status", info->status,
                            "code", info->code);
    json_t *text = detail ? json_string(detail) : NULL;

    /* Always a detail; the title when none was given (or it was not UTF-8). */
    json_object_set_new(doc, "detail", text ? text : json_string(info->title));
    return shop_json_own(p, doc);
}

const char *shop_rfc3339(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;

    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec);
}

const char *shop_json_compact(apr_pool_t *p, const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);

    return j ? shop_json_dump(p, shop_json_own(p, j)) : text;
}
