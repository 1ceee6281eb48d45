// http.h - the one place that talks HTTP (libcurl). Only http.c includes curl.
//
// defines: http_init, http_cleanup, http_post_json
#pragma once
#include <stddef.h>

// Process-wide set-up and tear-down of the HTTP library; call once from main
// before / after every request (not thread-safe, like curl_global_init).
int http_init(void);
void http_cleanup(void);

// POSTs body (JSON) to url with "Content-Type: application/json" plus the
// extra headers (a NULL-terminated array of "Name: value" strings, may be
// NULL), waiting at most timeout_s seconds for the whole exchange.
// Returns CD_OK when a response came back, whatever its HTTP status:
// *status gets the status code, *response a malloc'ed NUL-terminated body
// (caller frees) and *response_len its length (may be NULL). Returns CD_EIO
// when no response came (connection refused, timeout, TLS, ...) with why
// saying what failed ("timed out after 5.0 s", ...); *response is NULL then.
// Requests to localhost / 127.0.0.1 / ::1 never go through a proxy.
int http_post_json(const char *url, const char *const *headers, const char *body,
                   double timeout_s, long *status, char **response, size_t *response_len,
                   char *why, size_t whylen);
