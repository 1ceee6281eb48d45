// mock-llm.c - a fake OpenAI-compatible chat-completions server for the
// cocodiff-describe tests. Plain POSIX sockets, one connection at a time,
// loopback only. Built by tests/3410-describe.sh into its temp folder:
//   mpicc -std=c11 -D_GNU_SOURCE tests/tools/mock-llm.c -o mock-llm -ljansson
//
// USAGE: mock-llm --port-file F [--requests N] [--idle S] [--count-file F]
//                 [--log F] [--status C1,C2,...] [--malformed K] [--hang K]
//                 [--missing-part NAME] [--fences] [--dirty] [--expect-key KEY]
//   --port-file F     binds 127.0.0.1 port 0 and writes the port to F (and stdout)
//   --requests N      exit after N requests (default 0: no limit)
//   --idle S          exit when no request came for S seconds (default 20)
//   --count-file F    the number of requests so far, rewritten after each one
//   --log F           one line per request: "N<TAB>class<TAB>what was answered"
//   --status LIST     request i (1-based) of the first ones gets HTTP LIST[i]
//   --malformed K     requests 1..K get broken replies (cycling: body not JSON,
//                     content not JSON, no choices, a part that is not a string)
//   --hang K          request K gets no answer until the client hangs up
//   --missing-part N  requests for class N get a reply without "foot" (always)
//   --fences          the content is wrapped in ```json ... ``` fences
//   --dirty           fields carry tabs and newlines (cleaned by the client, they
//                     read as without --dirty)
//   --expect-key KEY  HTTP 401 unless "Authorization: Bearer KEY"
// A good reply echoes the class name into every field: "head: the head in NAME."
// Requests that do not look like the client's (model, two messages, the
// temperature, response_format json_object, "Action: NAME" in the user
// message) get HTTP 400. Exit status 0, or 1 on a setup error.
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *const KEYS[7] = {"sentence", "head", "hand", "arm", "hip", "leg", "foot"};

typedef struct Opts {
    const char *port_file, *count_file, *log_file, *missing_part, *expect_key;
    long requests, malformed, hang;
    double idle_s;
    int statuses[64], nstatus, fences, dirty;
} Opts;

static void die(const char *msg) {
    fprintf(stderr, "mock-llm: %s: %s\n", msg, strerror(errno));
    exit(1);
}

static void write_file_atomic(const char *path, const char *text) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) die(tmp);
    fputs(text, f);
    fclose(f);
    if (rename(tmp, path) != 0) die(path);
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) {
            if (k < 0 && errno == EINTR) continue;
            return;   // the client went away (it timed out): nothing to do
        }
        p += k;
        n -= (size_t)k;
    }
}

static void respond(int fd, int status, const char *body) {
    const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request"
                       : status == 401 ? "Unauthorized" : status == 429 ? "Too Many Requests"
                       : status >= 500 ? "Server Error" : "Error";
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, reason, strlen(body));
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

static void respond_error(int fd, int status, const char *msg) {
    json_t *j = json_pack("{s:{s:s, s:s}}", "error", "message", msg, "type", "mock_error");
    char *s = json_dumps(j, JSON_COMPACT);
    respond(fd, status, s);
    free(s);
    json_decref(j);
}

// Header value (case-insensitive name) from the raw header block, or NULL.
static const char *header(const char *head, const char *name, char *buf, size_t n) {
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (!strncasecmp(h, name, nl) && h[nl] == ':') {
            h += nl + 1;
            while (*h == ' ') h++;
            const char *e = strstr(h, "\r\n");
            size_t k = e ? (size_t)(e - h) : strlen(h);
            if (k >= n) k = n - 1;
            memcpy(buf, h, k);
            buf[k] = 0;
            return buf;
        }
    }
    return NULL;
}

// Reads one request: *head gets the header block, *body the body. 0 on success.
static int read_request(int fd, char **head, char **body) {
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    char *end = NULL;
    while (!end) {
        if (n == cap) { free(b); return -1; }
        ssize_t k = recv(fd, b + n, cap - n, 0);
        if (k <= 0) { free(b); return -1; }
        n += (size_t)k;
        b[n] = 0;
        end = strstr(b, "\r\n\r\n");
    }
    *end = 0;
    char val[256];
    size_t len = header(b, "Content-Length", val, sizeof val) ? strtoul(val, NULL, 10) : 0;
    if (header(b, "Expect", val, sizeof val) && !strcasecmp(val, "100-continue"))
        send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    size_t have = n - (size_t)(end + 4 - b);
    char *bd = malloc(len + 1);
    memcpy(bd, end + 4, have < len ? have : len);
    while (have < len) {
        ssize_t k = recv(fd, bd + have, len - have, 0);
        if (k <= 0) { free(b); free(bd); return -1; }
        have += (size_t)k;
    }
    bd[len] = 0;
    *head = b;
    *body = bd;
    return 0;
}

static const char *str_or_empty(const json_t *j) {
    const char *s = json_string_value(j);
    return s ? s : "";
}

// Checks the request is the client's and pulls out the class name.
static const char *request_class(const char *body, char *name, size_t n) {
    json_t *j = json_loads(body, 0, NULL);
    const char *why = NULL, *user = NULL;
    json_t *msgs = json_object_get(j, "messages");
    json_t *rf = json_object_get(j, "response_format");
    if (!j) why = "body is not JSON";
    else if (!json_is_string(json_object_get(j, "model"))) why = "no model";
    else if (json_array_size(msgs) != 2) why = "want 2 messages";
    else if (strcmp(str_or_empty(json_object_get(json_array_get(msgs, 0), "role")),
                    "system"))
        why = "first message is not the system one";
    else if (!json_is_string(json_object_get(json_array_get(msgs, 0), "content")))
        why = "no system prompt";
    else if (!(user = json_string_value(json_object_get(json_array_get(msgs, 1), "content"))))
        why = "no user message";
    else if (!json_is_number(json_object_get(j, "temperature"))) why = "no temperature";
    else if (strcmp(str_or_empty(json_object_get(rf, "type")), "json_object"))
        why = "response_format is not json_object";
    else {
        const char *a = strstr(user, "Action: ");
        if (!a) why = "no 'Action: ' in the user message";
        else {
            a += 8;
            size_t k = strcspn(a, "\n");
            if (k >= n) k = n - 1;
            memcpy(name, a, k);
            name[k] = 0;
        }
    }
    json_decref(j);
    return why;
}

static char *good_content(const Opts *o, const char *name, int drop_foot) {
    json_t *obj = json_object();
    for (int k = 0; k < 7; k++) {
        if (drop_foot && !strcmp(KEYS[k], "foot")) continue;
        char text[1024];
        if (k == 0) snprintf(text, sizeof text, "%sA person performs %s.", o->dirty ? "\n " : "",
                             name);
        else snprintf(text, sizeof text, o->dirty ? "The %s\tin\r\n %s.\n" : "The %s in %s.",
                      KEYS[k], name);
        json_object_set_new(obj, KEYS[k], json_string(text));
    }
    char *s = json_dumps(obj, JSON_INDENT(2));
    json_decref(obj);
    if (o->fences) {
        char *f = malloc(strlen(s) + 32);
        sprintf(f, "```json\n%s\n```\n", s);
        free(s);
        s = f;
    }
    return s;
}

static char *completion(const char *content) {
    json_t *j = json_pack("{s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:s}]}", "id", "mock-1", "object",
                          "chat.completion", "choices", "index", 0, "message", "role",
                          "assistant", "content", content, "finish_reason", "stop");
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

// Serves one request; what says what was answered (for the log).
static void serve(const Opts *o, int fd, long nreq, char *cls, size_t clsn, const char **what) {
    char *head = NULL, *body = NULL, val[512];
    cls[0] = 0;
    if (read_request(fd, &head, &body) != 0) {
        *what = "unreadable request";
        return;
    }
    const char *bad = request_class(body, cls, clsn);
    if (nreq == o->hang) {
        *what = "hang";
        struct pollfd p = {fd, POLLIN, 0};
        for (int i = 0; i < 600; i++) {   // until the client hangs up, at most 60 s
            char c;
            if (poll(&p, 1, 100) > 0 && recv(fd, &c, 1, 0) <= 0) break;
        }
    } else if (strncmp(head, "POST /v1/chat/completions ", 26) &&
               strncmp(head, "POST /chat/completions ", 23)) {
        *what = "404 wrong path";
        respond_error(fd, 404, "unknown path");
    } else if (o->expect_key && (!header(head, "Authorization", val, sizeof val) ||
                                 strncmp(val, "Bearer ", 7) || strcmp(val + 7, o->expect_key))) {
        *what = "401 bad key";
        respond_error(fd, 401, "Incorrect API key provided");
    } else if (bad) {
        *what = bad;
        respond_error(fd, 400, bad);
    } else if (nreq <= o->nstatus) {
        static char w[32];
        snprintf(w, sizeof w, "status %d", o->statuses[nreq - 1]);
        *what = w;
        respond_error(fd, o->statuses[nreq - 1], "mock failure");
    } else if (nreq <= o->malformed) {
        char *s = NULL;
        switch (nreq % 4) {
        case 1: *what = "malformed body"; respond(fd, 200, "{\"choices\": [{\"message\": "); break;
        case 2:
            *what = "malformed content";
            s = completion("Sure! Here is {\"sentence\": \"broken");
            respond(fd, 200, s);
            break;
        case 3: *what = "no choices"; respond(fd, 200, "{\"id\": \"x\", \"choices\": []}"); break;
        default:
            *what = "part not a string";
            s = completion("{\"sentence\": \"s\", \"head\": 1, \"hand\": \"h\", \"arm\": \"a\", "
                           "\"hip\": \"h\", \"leg\": \"l\", \"foot\": \"f\"}");
            respond(fd, 200, s);
        }
        free(s);
    } else {
        int drop = o->missing_part && !strcmp(o->missing_part, cls);
        char *c = good_content(o, cls, drop);
        char *s = completion(c);
        *what = drop ? "missing foot" : "good";
        respond(fd, 200, s);
        free(s);
        free(c);
    }
    free(head);
    free(body);
}

static void usage_exit(void) {
    fprintf(stderr, "usage: mock-llm --port-file F [--requests N] [--idle S] [--count-file F] "
                    "[--log F] [--status C,..] [--malformed K] [--hang K] [--missing-part NAME] "
                    "[--fences] [--dirty] [--expect-key KEY]\n");
    exit(1);
}

int main(int argc, char **argv) {
    Opts o = {.idle_s = 20};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--fences")) { o.fences = 1; continue; }
        if (!strcmp(a, "--dirty")) { o.dirty = 1; continue; }
        if (!v) usage_exit();
        i++;
        if (!strcmp(a, "--port-file")) o.port_file = v;
        else if (!strcmp(a, "--count-file")) o.count_file = v;
        else if (!strcmp(a, "--log")) o.log_file = v;
        else if (!strcmp(a, "--missing-part")) o.missing_part = v;
        else if (!strcmp(a, "--expect-key")) o.expect_key = v;
        else if (!strcmp(a, "--requests")) o.requests = atol(v);
        else if (!strcmp(a, "--malformed")) o.malformed = atol(v);
        else if (!strcmp(a, "--hang")) o.hang = atol(v);
        else if (!strcmp(a, "--idle")) o.idle_s = atof(v);
        else if (!strcmp(a, "--status")) {
            char *s = strdup(v);
            for (char *t = strtok(s, ","); t && o.nstatus < 64; t = strtok(NULL, ","))
                o.statuses[o.nstatus++] = atoi(t);
            free(s);
        } else usage_exit();
    }
    if (!o.port_file) usage_exit();
    signal(SIGPIPE, SIG_IGN);

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) die("socket");
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;   // the kernel picks a free port
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0) die("bind 127.0.0.1:0");
    if (listen(ls, 16) != 0) die("listen");
    socklen_t sl = sizeof sa;
    if (getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) die("getsockname");
    char text[64];
    snprintf(text, sizeof text, "%d\n", ntohs(sa.sin_port));
    write_file_atomic(o.port_file, text);
    printf("%s", text);
    fflush(stdout);

    long nreq = 0;
    if (o.count_file) write_file_atomic(o.count_file, "0\n");
    FILE *log = o.log_file ? fopen(o.log_file, "a") : NULL;
    if (o.log_file && !log) die(o.log_file);
    for (;;) {
        struct pollfd p = {ls, POLLIN, 0};
        int r = poll(&p, 1, (int)(o.idle_s * 1000));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;   // idle: nobody is coming
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        struct timeval tv = {10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        nreq++;
        char cls[512];
        const char *what = "";
        serve(&o, fd, nreq, cls, sizeof cls, &what);
        close(fd);
        if (log) {
            fprintf(log, "%ld\t%s\t%s\n", nreq, cls, what);
            fflush(log);
        }
        if (o.count_file) {
            snprintf(text, sizeof text, "%ld\n", nreq);
            write_file_atomic(o.count_file, text);
        }
        if (o.requests && nreq >= o.requests) break;
    }
    if (log) fclose(log);
    close(ls);
    return 0;
}
