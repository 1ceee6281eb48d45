// http.c - libcurl behind http.h: one POST of a JSON body, response in memory.
#include "http.h"
#include "buf.h"

#include "status.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Bodies larger than this are cut off as an error (a chat reply is a few KB).
#define HTTP_MAX_RESPONSE (64u << 20)

int http_init(void) {
    CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (c != CURLE_OK) {
        CD_ERR("curl_global_init failed: %s", curl_easy_strerror(c));
        return CD_EIO;
    }
    return CD_OK;
}

void http_cleanup(void) {
    curl_global_cleanup();
}

typedef struct Sink {
    Buf b;
    int overflow;
} Sink;

static size_t sink_write(char *data, size_t size, size_t nmemb, void *user) {
    Sink *s = user;
    size_t k = size * nmemb;
    if (s->b.n + k + 1 > HTTP_MAX_RESPONSE) {
        s->overflow = 1;
        return 0;   // makes curl stop with CURLE_WRITE_ERROR
    }
    return buf_append(&s->b, data, k) == CD_OK ? k : 0;
}

// The user's no_proxy list plus the loopback names: a local test server or a
// local model must never be sent through a proxy.
static void no_proxy_list(char *buf, size_t n) {
    const char *env = getenv("no_proxy");
    if (!env || !*env) env = getenv("NO_PROXY");
    snprintf(buf, n, "localhost,127.0.0.1,::1%s%s", env && *env ? "," : "", env ? env : "");
}

int http_post_json(const char *url, const char *const *headers, const char *body,
                   double timeout_s, long *status, char **response, size_t *response_len,
                   char *why, size_t whylen) {
    *status = 0;
    *response = NULL;
    if (response_len) *response_len = 0;
    CURL *h = curl_easy_init();
    if (!h) {
        cd_reject(why, whylen, "curl_easy_init failed");
        return CD_EIO;
    }
    struct curl_slist *hl = NULL, *t;
    int rc = CD_OK;
    const char *fixed[] = {"Content-Type: application/json", "Accept: application/json",
                           "Expect:"};   // no 100-continue round trip for big bodies
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed && rc == CD_OK; i++)
        if (!(t = curl_slist_append(hl, fixed[i]))) rc = CD_ENOMEM;
        else hl = t;
    for (int i = 0; headers && headers[i] && rc == CD_OK; i++)
        if (!(t = curl_slist_append(hl, headers[i]))) rc = CD_ENOMEM;
        else hl = t;
    if (rc != CD_OK) {
        curl_slist_free_all(hl);
        curl_easy_cleanup(h);
        cd_reject(why, whylen, "out of memory building headers");
        return CD_EIO;
    }
    char noproxy[1024], errbuf[CURL_ERROR_SIZE] = "";
    no_proxy_list(noproxy, sizeof noproxy);
    long ms = timeout_s > 0 ? (long)(timeout_s * 1000.0 + 0.5) : 0;
    Sink sink = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms && ms < 30000 ? ms : 30000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);   // timeouts without SIGALRM
    curl_easy_setopt(h, CURLOPT_NOPROXY, noproxy);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "cocodiff-describe");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");   // whatever curl can decode
    CURLcode c = curl_easy_perform(h);
    if (c == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        if (!sink.b.p) sink.b.p = calloc(1, 1);
        if (!sink.b.p) {
            rc = CD_EIO;
            cd_reject(why, whylen, "out of memory reading the response");
        } else {
            *response = sink.b.p;
            if (response_len) *response_len = sink.b.n;
            sink.b.p = NULL;
        }
    } else {
        rc = CD_EIO;
        if (c == CURLE_OPERATION_TIMEDOUT)
            cd_reject(why, whylen, "timed out after %.1f s (%s)", timeout_s,
                      errbuf[0] ? errbuf : curl_easy_strerror(c));
        else if (sink.overflow)
            cd_reject(why, whylen, "response larger than %u bytes", HTTP_MAX_RESPONSE);
        else
            cd_reject(why, whylen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(c));
    }
    buf_free(&sink.b);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return rc;
}
