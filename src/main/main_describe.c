// main_describe.c - cocodiff-describe: class descriptions from a language model.
//
// USAGE: cocodiff-describe --classes LIST --out FILE.tsv [--endpoint URL]
//            [--model NAME] [--api-key-env VAR] [--id-base 0|1] [--retries N]
//            [--timeout S] [--limit N] [--backoff S] [--quiet]
// Writes (or extends) a descriptions file (datasets/README.md) for the class
// list LIST, one request per missing class to an OpenAI-compatible
// chat-completions endpoint (POST {endpoint}/chat/completions).
// Resumable: valid rows already in FILE.tsv are kept, malformed ones are
// reported and redone; each new row is appended and flushed when done; the
// final file is rewritten in id order through FILE.tsv.partial + rename.
// Serial; runs under mpirun too (rank 0 works). Exit 0 all classes done,
// 1 some classes failed (the file keeps the others) or a runtime error,
// 2 usage error.
#include "cli.h"
#include "descriptions.h"
#include "dist.h"
#include "fsutil.h"
#include "http.h"
#include "status.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

// ---------------------------------------------------------------------------
// The prompt: the only place its wording lives. The reply is one JSON object
// with these seven keys (sentence + the parts of descriptions.h, same order).

static const char *const REPLY_KEYS[1 + DESC_NPARTS] = {"sentence", "head", "hand", "arm",
                                                        "hip",      "leg",  "foot"};

static const char PROMPT_SYSTEM[] =
    "You describe human actions for a model that recognises actions from body skeletons "
    "(joint positions over time). For the action class you are given, reply with one JSON "
    "object with exactly these keys, each a string: \"sentence\", \"head\", \"hand\", \"arm\", "
    "\"hip\", \"leg\", \"foot\".\n"
    "- \"sentence\": one sentence describing the whole action as a person performs it.\n"
    "- \"head\", \"hand\", \"arm\", \"hip\", \"leg\", \"foot\": one or two short sentences on "
    "what that body part does in this action: the direction it moves, the path it follows, and "
    "what it touches (the body, an object, the floor or another person). If the part stays "
    "still, say how it is held.\n"
    "Be specific enough to tell this action apart from similar ones (for example drinking "
    "versus eating, putting on a shoe versus taking it off, sitting down versus standing up). "
    "Use plain, common English words. No lists, no markdown, nothing outside the JSON object.";

// %s is the class name. tests/tools/mock-llm.c reads the name after "Action: ".
static const char PROMPT_USER_FMT[] = "Action: %s\nReply with the JSON object only.";

// ---------------------------------------------------------------------------
// Options

typedef struct Options {
    const char *classes, *out, *endpoint, *model, *key_env;
    int id_base, retries, limit, quiet, insecure_http;
    double timeout_s, backoff_s;
} Options;

#define BACKOFF_CAP_S 30.0         // longest wait between two attempts
#define MAX_CONSECUTIVE_FAILED 5   // this many classes failing in a row stops the run

static void usage(FILE *f) {
    fprintf(f,
            "usage: cocodiff-describe --classes LIST --out FILE.tsv [--endpoint URL]\n"
            "           [--model NAME] [--api-key-env VAR] [--id-base 0|1] [--retries N]\n"
            "           [--timeout S] [--limit N] [--backoff S] [--quiet] [--insecure-http]\n"
            "  --classes      class list, one name per line (a trailing '.' is dropped)\n"
            "  --out          descriptions file to write or extend (resumable)\n"
            "  --endpoint     OpenAI-compatible API base (default https://api.openai.com/v1)\n"
            "  --model        model name (default gpt-4o-mini)\n"
            "  --api-key-env  environment variable holding the API key (default\n"
            "                 OPENAI_API_KEY; optional for http://127.0.0.1 / localhost)\n"
            "  --id-base      id of the list's first line: 1 for NTU (default), 0 for Kinetics\n"
            "  --retries      extra attempts per class after a failure (default 4); waits\n"
            "                 backoff, 2x, 4x ... (at most %.0f s); HTTP 429/5xx, timeouts,\n"
            "                 bad replies are retried, other 4xx are not\n"
            "  --timeout      seconds per request (default 60)\n"
            "  --limit        only the first N classes of the list (a trial run)\n"
            "  --backoff      first wait between attempts in seconds (default 1)\n"
            "  --quiet        no per-class progress lines\n"
            "  --insecure-http  send the API key over plain http:// to a host other than\n"
            "                 this machine (refused without it: anyone on the way reads it)\n"
            "Stops early after %d classes in a row fail, or on HTTP 401/403/404.\n"
            "Exit 0: every class done; 1: some classes failed (the file keeps the\n"
            "others; run again to retry them) or an i/o error; 2: usage error.\n" CLI_COMMON_USAGE,
            BACKOFF_CAP_S, MAX_CONSECUTIVE_FAILED);
}

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || !*v || x < lo || x > hi) {
        fprintf(stderr, "error: %s wants an integer in [%d, %d], got '%s'\n", opt, lo, hi, v);
        return CD_EARG;
    }
    *out = (int)x;
    return CD_OK;
}

static int parse_seconds(const char *opt, const char *v, double lo, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || !*v || !(x >= lo) || x > 86400) {
        fprintf(stderr, "error: %s wants seconds in [%g, 86400], got '%s'\n", opt, lo, v);
        return CD_EARG;
    }
    *out = x;
    return CD_OK;
}

static int parse_args(int argc, char **argv, Options *o) {
    *o = (Options){.endpoint = "https://api.openai.com/v1", .model = "gpt-4o-mini",
                   .key_env = "OPENAI_API_KEY", .id_base = 1, .retries = 4, .timeout_s = 60,
                   .backoff_s = 1, .limit = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = CD_OK;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        } else if (!strcmp(a, "--insecure-http")) {
            o->insecure_http = 1;
            continue;
        }
        static const char *const valued[] = {"--classes", "--out", "--endpoint", "--model", "--api-key-env",
                                             "--id-base", "--retries", "--limit", "--timeout", "--backoff", NULL};
        if (!v) return cli_bad_option("cocodiff-describe", 0, a, valued);
        if (!strcmp(a, "--classes")) o->classes = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--endpoint")) o->endpoint = v;
        else if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--api-key-env")) o->key_env = v;
        else if (!strcmp(a, "--id-base")) rc = parse_int(a, v, 0, 1, &o->id_base);
        else if (!strcmp(a, "--retries")) rc = parse_int(a, v, 0, 100, &o->retries);
        else if (!strcmp(a, "--limit")) rc = parse_int(a, v, 1, 1000000, &o->limit);
        else if (!strcmp(a, "--timeout")) rc = parse_seconds(a, v, 0.001, &o->timeout_s);
        else if (!strcmp(a, "--backoff")) rc = parse_seconds(a, v, 0, &o->backoff_s);
        else return cli_bad_option("cocodiff-describe", 0, a, valued);
        if (rc != CD_OK) return rc;
        i++;
    }
    if (!o->classes || !o->out) {
        fprintf(stderr, "error: --classes and --out are required\n");
        return CD_EARG;
    }
    if (strncmp(o->endpoint, "http://", 7) && strncmp(o->endpoint, "https://", 8)) {
        fprintf(stderr, "error: --endpoint must start with http:// or https://, got '%s'\n",
                o->endpoint);
        return CD_EARG;
    }
    if (!*o->model || !*o->key_env) {
        fprintf(stderr, "error: --model and --api-key-env must not be empty\n");
        return CD_EARG;
    }
    return CD_OK;
}

// http://127.0.0.1[:port]/..., http://localhost..., http://[::1]...
static int endpoint_is_local(const char *url) {
    const char *h = strstr(url, "://");
    if (!h) return 0;
    h += 3;
    const char *names[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t n = strlen(names[i]);
        if (!strncmp(h, names[i], n) && (h[n] == 0 || h[n] == ':' || h[n] == '/')) return 1;
    }
    return 0;
}

// ---------------------------------------------------------------------------
// One request and its reply

enum { TRY_OK, TRY_RETRY, TRY_FAIL, TRY_FATAL };

static char *build_request(const char *model, const char *class_name) {
    size_t n = sizeof PROMPT_USER_FMT + strlen(class_name);
    char *user = cd_malloc(n);
    if (!user) return NULL;
    snprintf(user, n, PROMPT_USER_FMT, class_name);
    json_t *req = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:f, s:{s:s}}", "model", model,
                            "messages", "role", "system", "content", PROMPT_SYSTEM, "role",
                            "user", "content", user, "temperature", 0.2, "response_format",
                            "type", "json_object");
    free(user);
    if (!req) return NULL;
    char *s = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(req);
    return s;
}

// Control characters (tabs, newlines) become spaces; runs of spaces collapse;
// the ends are trimmed. In place.
static void clean_text(char *s) {
    char *w = s;
    int space = 1;   // drops leading spaces
    for (const char *r = s; *r; r++) {
        unsigned char c = (unsigned char)*r;
        if (c < 0x20 || c == 0x7f) c = ' ';
        if (c == ' ') {
            if (!space) *w++ = ' ';
            space = 1;
        } else {
            *w++ = (char)c;
            space = 0;
        }
    }
    if (w > s && w[-1] == ' ') w--;
    *w = 0;
}

// A short, one-line excerpt of a body for error messages: the API's
// error.message when it is JSON, else its first bytes.
static void body_excerpt(const char *body, char *buf, size_t n) {
    buf[0] = 0;
    if (!body || !n) return;
    json_t *j = json_loads(body, 0, NULL);
    const char *msg = NULL;
    if (j) {
        json_t *e = json_object_get(j, "error");
        msg = json_string_value(json_is_object(e) ? json_object_get(e, "message") : e);
    }
    snprintf(buf, n, "%s", msg ? msg : body);
    json_decref(j);
    clean_text(buf);
    if (strlen(buf) + 1 >= n && n > 4) strcpy(buf + n - 4, "...");
}

// Strips ``` fences (```json ... ```) and surrounding whitespace, in place.
static char *strip_fences(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    if (!strncmp(s, "```", 3)) {
        char *nl = strchr(s, '\n');
        s = nl ? nl + 1 : s + 3;
    }
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n", s[n - 1])) s[--n] = 0;
    if (n >= 3 && !strcmp(s + n - 3, "```")) s[n -= 3] = 0;
    return s;
}

// Judges one HTTP exchange. TRY_OK: text[0..6] (malloc'ed, cleaned) are the
// sentence and the six parts. Otherwise why says what was wrong.
static int judge_reply(long status, const char *body, char *text[1 + DESC_NPARTS], char *why,
                       size_t whylen) {
    char ex[200];
    if (status != 200) {
        body_excerpt(body, ex, sizeof ex);
        cd_reject(why, whylen, "HTTP %ld%s%s", status, ex[0] ? ": " : "", ex);
        if (status == 429 || status == 408 || status >= 500) return TRY_RETRY;
        if (status == 401 || status == 403 || status == 404) return TRY_FATAL;
        return TRY_FAIL;
    }
    json_error_t err;
    json_t *top = json_loads(body, 0, &err);
    if (!top) {
        cd_reject(why, whylen, "the response is not JSON (%s at line %d)", err.text, err.line);
        return TRY_RETRY;
    }
    json_t *content = json_object_get(
        json_object_get(json_array_get(json_object_get(top, "choices"), 0), "message"),
        "content");
    if (!json_is_string(content)) {
        json_decref(top);
        cd_reject(why, whylen, "the response has no choices[0].message.content string");
        return TRY_RETRY;
    }
    char *copy = strdup(json_string_value(content));
    json_decref(top);
    if (!copy) {
        cd_reject(why, whylen, "out of memory");
        return TRY_FAIL;
    }
    json_t *obj = json_loads(strip_fences(copy), 0, &err);
    free(copy);
    if (!json_is_object(obj)) {
        if (obj) cd_reject(why, whylen, "the message content is JSON but not an object");
        else cd_reject(why, whylen, "the message content is not JSON (%s)", err.text);
        json_decref(obj);
        return TRY_RETRY;
    }
    int rc = TRY_OK;
    for (int k = 0; k < 1 + DESC_NPARTS; k++) text[k] = NULL;
    for (int k = 0; k < 1 + DESC_NPARTS && rc == TRY_OK; k++) {
        json_t *v = json_object_get(obj, REPLY_KEYS[k]);
        if (!v) cd_reject(why, whylen, "the reply misses \"%s\"", REPLY_KEYS[k]);
        else if (!json_is_string(v)) cd_reject(why, whylen, "\"%s\" is not a string", REPLY_KEYS[k]);
        else if (!(text[k] = strdup(json_string_value(v)))) cd_reject(why, whylen, "out of memory");
        else {
            clean_text(text[k]);
            if (!text[k][0]) cd_reject(why, whylen, "\"%s\" is empty", REPLY_KEYS[k]);
        }
        if (!text[k] || !text[k][0]) rc = TRY_RETRY;
    }
    json_decref(obj);
    if (rc != TRY_OK)
        for (int k = 0; k < 1 + DESC_NPARTS; k++) free(text[k]), text[k] = NULL;
    return rc;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

typedef struct Client {
    const Options *o;
    const Dist *d;
    char url[2048];
    char auth[1024];   // "Authorization: Bearer ..." or empty
} Client;

// All attempts for one class. TRY_OK with text filled, else TRY_FAIL/TRY_FATAL
// with why = the last error.
static int describe_class(const Client *cl, int id, const char *name, char *text[1 + DESC_NPARTS],
                          char *why, size_t whylen) {
    char *body = build_request(cl->o->model, name);
    if (!body) {
        cd_reject(why, whylen, "out of memory building the request");
        return TRY_FAIL;
    }
    const char *headers[] = {cl->auth[0] ? cl->auth : NULL, NULL};
    int attempts = 1 + cl->o->retries, rc = TRY_FAIL, used = 0;
    double wait = cl->o->backoff_s;
    for (int a = 1; a <= attempts; a++) {
        long status = 0;
        char *resp = NULL;
        used = a;
        if (http_post_json(cl->url, headers, body, cl->o->timeout_s, &status, &resp, NULL, why,
                           whylen) != CD_OK)
            rc = TRY_RETRY;   // no response: refused, reset, timed out
        else
            rc = judge_reply(status, resp, text, why, whylen);
        free(resp);
        if (rc == TRY_OK || rc == TRY_FATAL || rc == TRY_FAIL) break;
        if (a < attempts) {
            log_warn(cl->d, "class %d '%s': attempt %d/%d failed: %s; retrying in %.1f s", id,
                     name, a, attempts, why, wait);
            sleep_s(wait);
            wait = wait * 2 < BACKOFF_CAP_S ? wait * 2 : BACKOFF_CAP_S;
        } else {
            rc = TRY_FAIL;
        }
    }
    free(body);
    if (rc != TRY_OK) {
        size_t n = strnlen(why, whylen);
        if (n + 1 < whylen)
            snprintf(why + n, whylen - n, " (after %d attempt%s)", used, used > 1 ? "s" : "");
    }
    return rc;
}

// ---------------------------------------------------------------------------
// The run

static void report_bad_row(void *ctx, const char *path, int line, const char *why) {
    log_warn((const Dist *)ctx, "%s:%d: %s; that class will be requested again", path, line, why);
}

// Returns the exit code.
// The endpoint's URL and authorisation. 0, or 2 (usage: no API key for a
// remote endpoint).
static int client_setup(const Options *o, Client *cl) {
    const char *key = getenv(o->key_env);
    if (key && !*key) key = NULL;
    if (!key && !endpoint_is_local(o->endpoint)) {
        fprintf(stderr,
                "error: no API key: environment variable %s is not set (needed for %s; "
                "--api-key-env names another variable)\n",
                o->key_env, o->endpoint);
        return 2;
    }
    // The key in clear text to another machine: refused unless asked for
    // (as docker does for an insecure registry, pip for --trusted-host).
    if (key && !strncmp(o->endpoint, "http://", 7) && !endpoint_is_local(o->endpoint)) {
        if (!o->insecure_http) {
            fprintf(stderr,
                    "error: %s is plain http to another machine: the API key in %s would cross the network "
                    "unencrypted (HINT: use https://, or pass --insecure-http if that network is trusted)\n",
                    o->endpoint, o->key_env);
            return 2;
        }
        fprintf(stderr, "warning: --insecure-http: the API key in %s is sent unencrypted to %s\n", o->key_env,
                o->endpoint);
    }
    if (key) snprintf(cl->auth, sizeof cl->auth, "Authorization: Bearer %s", key);
    size_t el = strlen(o->endpoint);
    while (el && o->endpoint[el - 1] == '/') el--;
    snprintf(cl->url, sizeof cl->url, "%.*s/chat/completions", (int)el, o->endpoint);

    return 0;
}

// What the output already holds (*have, *nbad malformed rows dropped),
// checked against the class list; rewritten clean (header, valid rows in id
// order) when it is new, damaged or out of order. 0, 1 (I/O) or 2 (not this
// class list's file).
static int load_existing(const Options *o, const Dist *d, const DescClassList *list, Descriptions **have_out,
                         char *why, size_t whylen) {
    Descriptions *have = NULL;
    int nbad = 0;
    struct stat st;
    int existed = stat(o->out, &st) == 0;
    if (descriptions_salvage(o->out, &have, &nbad, report_bad_row, (void *)d, why, whylen) !=
        CD_OK) {
        fprintf(stderr, "error: %s (not overwriting it: is --out the right file?)\n", why);
        *have_out = have;
        return 2;
    }
    int in_order = 1;
    for (int i = 0; i < have->n; i++) {
        const DescClass *c = &have->cls[i];
        int k = c->id - o->id_base;
        if (k < 0 || k >= list->n || strcmp(c->name, list->names[k])) {
            fprintf(stderr,
                    "error: %s:%d: class id %d '%s' is not in %s (%s); is --out for another "
                    "class list, or --id-base wrong? (not overwriting it)\n",
                    o->out, c->line, c->id, c->name, o->classes,
                    k < 0 || k >= list->n ? "no such id" : list->names[k]);
            *have_out = have;
            return 2;
        }
        if (i && c->line < have->cls[i - 1].line) in_order = 0;
    }
    if (have->n == 0 && !have->preamble) {   // a new file: say where it came from
        char note[1024];
        const char *base = strrchr(o->classes, '/');
        snprintf(note, sizeof note,
                 "Class descriptions for %s, written by a language model (%s) through "
                 "cocodiff-describe; format: datasets/README.md",
                 base ? base + 1 : o->classes, o->model);
        clean_text(note);
        size_t n = strlen(note) + 4;
        if ((have->preamble = cd_malloc(n))) snprintf(have->preamble, n, "# %s\n", note);
    }
    if (!existed || nbad || !in_order || have->n == 0) {
        // Start clean: header + the valid rows in id order.
        if (fs_mkdir_parent(o->out) != 0) {
            fprintf(stderr, "error: %s: cannot create its folder: %s\n", o->out, strerror(errno));
            *have_out = have;
            return 1;
        }
        if (descriptions_write(o->out, have, why, whylen) != CD_OK) {
            fprintf(stderr, "error: %s\n", why);
            *have_out = have;
            return 1;
        }
        if (nbad) log_info(d, "describe | %s: dropped %d malformed row%s, kept %d", o->out, nbad,
                           nbad == 1 ? "" : "s", have->n);
    }
    *have_out = have;
    return 0;
}

// Requests every missing class in turn, appending each good answer to f;
// stops on a fatal endpoint error or MAX_CONSECUTIVE_FAILED failures in a
// row. *added / *failed / *stopped say how it went; returns 1 when writing f
// failed, else 0.
static int request_missing(const Options *o, const Dist *d, Client *cl, const DescClassList *list, Descriptions *have,
                           const char *missing, int upto, int todo, FILE *f, int *added_out, int *failed_out,
                           int *stopped_out) {
    char why[1024];
    int code = 0;
    int done_n = 0, failed = 0, in_a_row = 0, stopped = 0, added = 0;
    double t0 = dist_wtime();
    for (int k = 0; k < upto && !stopped; k++) {
        if (!missing[k]) continue;
        int id = k + o->id_base;
        const char *name = list->names[k];
        char *text[1 + DESC_NPARTS] = {0};
        double t1 = dist_wtime();
        int rc = describe_class(cl, id, name, text, why, sizeof why);
        done_n++;
        if (rc == TRY_OK) {
            rc = descriptions_add(have, id, name, text[0], (const char *const *)&text[1], why,
                                  sizeof why);
            if (rc == CD_OK && descriptions_append_row(f, &have->cls[have->n - 1]) != CD_OK) {
                fprintf(stderr, "error: writing %s: %s\n", o->out, strerror(errno));
                code = 1;
                stopped = 1;
            } else if (rc != CD_OK) {
                fprintf(stderr, "error: class %d '%s': %s\n", id, name, why);
                failed++;
            } else {
                added++;
                in_a_row = 0;
            }
            rc = rc == CD_OK ? TRY_OK : TRY_FAIL;
        } else {
            failed++;
            in_a_row++;
            fprintf(stderr, "error: class %d '%s' failed: %s\n", id, name, why);
            if (rc == TRY_FATAL) {
                fprintf(stderr,
                        "error: stopping: the endpoint refuses requests (check --endpoint, "
                        "--model and the API key in %s)\n",
                        o->key_env);
                stopped = 1;
            } else if (in_a_row >= MAX_CONSECUTIVE_FAILED) {
                fprintf(stderr, "error: stopping: %d classes in a row failed\n", in_a_row);
                stopped = 1;
            }
        }
        for (int j = 0; j < 1 + DESC_NPARTS; j++) free(text[j]);
        if (!o->quiet) {
            double el_s = dist_wtime() - t0, rate = el_s > 0 ? done_n / el_s : 0;
            char eta[48] = "ETA -";
            if (rate > 0 && done_n < todo) {
                double s = (todo - done_n) / rate;
                snprintf(eta, sizeof eta, "ETA %dm%02ds", (int)(s / 60), (int)s % 60);
            }
            log_info(d, "describe | class %d/%d | id %d '%s' %s in %.1f s | %.2f classes/s | %s",
                     done_n, todo, id, name, rc == TRY_OK ? "done" : "FAILED", dist_wtime() - t1,
                     rate, eta);
        }
    }
    *added_out = added;
    *failed_out = failed;
    *stopped_out = stopped;
    return code;
}

static int run(const Options *o, const Dist *d) {
    char why[1024];
    DescClassList list;
    if (descriptions_list_load(o->classes, o->id_base, &list, why, sizeof why) != CD_OK) {
        fprintf(stderr, "error: class list: %s\n", why);
        return 2;
    }
    int code = 0;
    Descriptions *have = NULL;
    char *missing = NULL;
    FILE *f = NULL;
    Client cl = {.o = o, .d = d};
    if ((code = client_setup(o, &cl))) goto done;
    if ((code = load_existing(o, d, &list, &have, why, sizeof why))) goto done;
    int upto = o->limit && o->limit < list.n ? o->limit : list.n, todo = 0;
    missing = cd_calloc((size_t)upto, 1);
    if (!missing) {
        code = 1;
        goto done;
    }
    for (int k = 0; k < upto; k++)
        if (descriptions_find(have, k + o->id_base) < 0) missing[k] = 1, todo++;
    log_info(d, "describe | %s: %d classes%s | %d already in %s | %d to request | %s at %s",
             o->classes, list.n, upto < list.n ? " (--limit: first ones only)" : "", have->n,
             o->out, todo, o->model, cl.url);
    if (todo == 0) {
        log_info(d, "describe | nothing to do: %s is complete", o->out);
        goto done;
    }

    if (http_init() != CD_OK) {
        code = 1;
        goto done;
    }
    f = fopen(o->out, "a");
    if (!f) {
        fprintf(stderr, "error: cannot append to %s: %s\n", o->out, strerror(errno));
        code = 1;
        goto done_http;
    }
    int failed = 0, stopped = 0, added = 0;
    double t0 = dist_wtime();
    code = request_missing(o, d, &cl, &list, have, missing, upto, todo, f, &added, &failed, &stopped);
    if (fclose(f) != 0 && !code) {
        fprintf(stderr, "error: closing %s: %s\n", o->out, strerror(errno));
        code = 1;
    }
    f = NULL;
    if (added) {   // appended rows may sit after larger ids: rewrite in id order
        descriptions_sort(have);
        if (descriptions_write(o->out, have, why, sizeof why) != CD_OK) {
            fprintf(stderr, "error: %s\n", why);
            code = 1;
        }
    }
    int left = todo - added;
    log_info(d, "describe | %d new, %d kept, %d failed%s -> %s (%d/%d classes) in %.1f s", added,
             have->n - added, failed, stopped && left > failed ? " (stopped early)" : "", o->out,
             have->n, list.n, dist_wtime() - t0);
    if (left && !code) {
        fprintf(stderr, "error: %d of %d requested classes not done; run again to retry them\n",
                left, todo);
        code = 1;
    }
done_http:
    http_cleanup();
done:
    if (f) fclose(f);
    free(missing);
    descriptions_free(have);
    descriptions_list_free(&list);
    return code;
}

int main(int argc, char **argv) {
    Dist d = {0};
    int start = cli_start(&d, &argc, &argv, "cocodiff-describe");
    if (start != CLI_GO_ON) return start;
    Options o;
    int code = 0;
    if (parse_args(argc, argv, &o) != CD_OK) {
        if (d.rank == 0) usage(stderr);
        code = 2;
    } else if (d.rank == 0) {   // serial: one process talks to the endpoint
        code = run(&o, &d);
    }
    dist_bcast_bytes(&d, &code, sizeof code, 0);
    dist_finalize(&d);
    return code;
}
