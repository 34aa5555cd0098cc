/* A device in C: the scomo agent with its platform over files and HTTP over libcurl.
 *
 *   flows <dm-url> <state-dir> <xml|wbxml> <basic|md5|hmac> <server-password|->
 *         [<pkg-id>|- [<package-0-file>]]
 *
 * One run is one boot of the device: it initialises and configures the agent (which
 * recovers what the files hold), takes the Package #0 in <package-0-file> when given, else
 * asks for a session (for component <pkg-id> when given),
 * carries out every action until the agent is idle, and releases it. Exit status: 0 done,
 * 2 usage, 3 a store or API failure, 4 the server unreachable, 5 results still queued,
 * 6 authentication failed.
 *
 * The state directory holds:
 *   rec-XXXX           one state record each (written to a temporary name, synced, renamed)
 *   pkg-K.meta         "<state> <declared> <len>" of component-store key K (same)
 *   pkg-K.data         its bytes (each write synced: the file's size is the durable length)
 *   installed/<id>     "version=<v>\nname=<n>\nactive=<0|1>\n" per installed component
 *
 * Built with -std=c11 -Wall -Wextra -Werror -fsanitize=address,undefined and run by the
 * Rust test `c_flows`, which plays the server. */

#define _POSIX_C_SOURCE 200809L
#include "scomo.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 4
#define SLOT_CAPACITY (1u << 20)
#define RX_CAP 16384
#define MAX_SESSIONS 8
#define DEADLINE_MS 60000

static const char *dir;

static void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "flows: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(code);
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void path(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(out, cap, "%s/", dir);
    vsnprintf(out + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ---- Files: whole-file replace (atomic), read ------------------------------------------ */

/* Writes `len` bytes to `file` atomically: a temporary file, synced, renamed over it. */
static int replace_file(const char *file, const void *bytes, size_t len) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    const uint8_t *p = bytes;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) return -1;
    return rename(tmp, file);
}

/* Reads at most `cap` bytes of `file`; -1 when it does not exist, -2 on error. */
static long read_file(const char *file, void *buf, size_t cap) {
    int fd = open(file, O_RDONLY);
    if (fd < 0) return errno == ENOENT ? -1 : -2;
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, (uint8_t *)buf + total, cap - total);
        if (n < 0) {
            close(fd);
            return -2;
        }
        if (n == 0 || total + (size_t)n == cap) {
            total += (size_t)n;
            break;
        }
        total += (size_t)n;
    }
    close(fd);
    return (long)total;
}

/* ---- State store: one file per record ---------------------------------------------------- */

static scomo_result st_read(void *user, uint16_t id, uint8_t *buf, size_t cap, size_t *len) {
    (void)user;
    char file[512];
    struct stat sb;
    path(file, sizeof file, "rec-%04x", id);
    if (stat(file, &sb) != 0) return errno == ENOENT ? SCOMO_RESULT_NOT_FOUND : SCOMO_RESULT_IO;
    if ((size_t)sb.st_size > cap) return SCOMO_RESULT_BUFFER_TOO_SMALL;
    long n = read_file(file, buf, cap);
    if (n < 0) return n == -1 ? SCOMO_RESULT_NOT_FOUND : SCOMO_RESULT_IO;
    *len = (size_t)n;
    return SCOMO_RESULT_OK;
}

static scomo_result st_write(void *user, uint16_t id, const uint8_t *bytes, size_t len) {
    (void)user;
    char file[512];
    path(file, sizeof file, "rec-%04x", id);
    return replace_file(file, bytes, len) == 0 ? SCOMO_RESULT_OK : SCOMO_RESULT_IO;
}

static scomo_result st_remove(void *user, uint16_t id) {
    (void)user;
    char file[512];
    path(file, sizeof file, "rec-%04x", id);
    return unlink(file) == 0 || errno == ENOENT ? SCOMO_RESULT_OK : SCOMO_RESULT_IO;
}

static scomo_result st_next(void *user, const uint16_t *after, uint16_t *next) {
    (void)user;
    DIR *d = opendir(dir);
    if (!d) return SCOMO_RESULT_IO;
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned id;
        char end;
        if (strlen(e->d_name) != 8 || sscanf(e->d_name, "rec-%4x%c", &id, &end) != 1) continue;
        if (after && id <= *after) continue;
        if (best < 0 || (long)id < best) best = (long)id;
    }
    closedir(d);
    if (best < 0) return SCOMO_RESULT_NOT_FOUND;
    *next = (uint16_t)best;
    return SCOMO_RESULT_OK;
}

/* ---- Component store: a data file and a metadata file per key ---------------------------- */

static int meta_read(uint16_t key, scomo_package_info *info) {
    char file[512], text[96];
    path(file, sizeof file, "pkg-%u.meta", key);
    long n = read_file(file, text, sizeof text - 1);
    memset(info, 0, sizeof *info);
    if (n == -1) return 0; /* nothing */
    if (n < 0) return -1;
    text[n] = 0;
    unsigned long long declared, len;
    int state;
    if (sscanf(text, "%d %llu %llu", &state, &declared, &len) != 3) return -1;
    info->state = state;
    info->declared_size = declared;
    info->len = len;
    info->durable_len = len;
    if (state == SCOMO_PACKAGE_PARTIAL) {
        /* Every write is synced: the data file's size is what survived. */
        struct stat sb;
        path(file, sizeof file, "pkg-%u.data", key);
        uint64_t size = stat(file, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        info->len = info->durable_len = size < declared ? size : declared;
    }
    return 0;
}

static int meta_write(uint16_t key, int state, uint64_t declared, uint64_t len) {
    char file[512], text[96];
    path(file, sizeof file, "pkg-%u.meta", key);
    int n = snprintf(text, sizeof text, "%d %llu %llu\n", state, (unsigned long long)declared,
                     (unsigned long long)len);
    return replace_file(file, text, (size_t)n);
}

static scomo_result cs_begin(void *user, uint16_t key, uint64_t declared) {
    (void)user;
    char file[512];
    if (key >= SLOTS) return SCOMO_RESULT_INVALID_KEY;
    if (declared > SLOT_CAPACITY) return SCOMO_RESULT_TOO_LARGE;
    path(file, sizeof file, "pkg-%u.data", key);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || fsync(fd) != 0 || close(fd) != 0) return SCOMO_RESULT_IO;
    return meta_write(key, SCOMO_PACKAGE_PARTIAL, declared, 0) == 0 ? SCOMO_RESULT_OK
                                                                    : SCOMO_RESULT_IO;
}

static scomo_result cs_write(void *user, uint16_t key, uint64_t offset, const uint8_t *data,
                             size_t len, uint64_t *durable) {
    (void)user;
    char file[512];
    path(file, sizeof file, "pkg-%u.data", key);
    int fd = open(file, O_WRONLY);
    if (fd < 0) return SCOMO_RESULT_IO;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, data + done, len - done, (off_t)(offset + done));
        if (n <= 0) {
            close(fd);
            return SCOMO_RESULT_IO;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) return SCOMO_RESULT_IO;
    *durable = offset + len;
    return SCOMO_RESULT_OK;
}

static scomo_result cs_commit(void *user, uint16_t key, uint64_t len) {
    (void)user;
    scomo_package_info info;
    if (meta_read(key, &info) != 0 || info.state != SCOMO_PACKAGE_PARTIAL)
        return SCOMO_RESULT_WRONG_STATE;
    return meta_write(key, SCOMO_PACKAGE_COMPLETE, info.declared_size, len) == 0
               ? SCOMO_RESULT_OK
               : SCOMO_RESULT_IO;
}

static scomo_result cs_remove(void *user, uint16_t key) {
    (void)user;
    char file[512];
    path(file, sizeof file, "pkg-%u.meta", key); /* the metadata first: then nothing is there */
    if (unlink(file) != 0 && errno != ENOENT) return SCOMO_RESULT_IO;
    path(file, sizeof file, "pkg-%u.data", key);
    if (unlink(file) != 0 && errno != ENOENT) return SCOMO_RESULT_IO;
    return SCOMO_RESULT_OK;
}

static scomo_result cs_inspect(void *user, uint16_t key, scomo_package_info *info) {
    (void)user;
    if (key >= SLOTS) return SCOMO_RESULT_INVALID_KEY;
    return meta_read(key, info) == 0 ? SCOMO_RESULT_OK : SCOMO_RESULT_CORRUPTED;
}

static scomo_result cs_resume(void *user, uint16_t key, scomo_package_info *info) {
    scomo_result r = cs_inspect(user, key, info);
    if (r != SCOMO_RESULT_OK) return r;
    if (info->state == SCOMO_PACKAGE_NONE) return SCOMO_RESULT_NOT_FOUND;
    if (info->state == SCOMO_PACKAGE_COMPLETE) return SCOMO_RESULT_WRONG_STATE;
    return SCOMO_RESULT_OK;
}

static scomo_result cs_read(void *user, uint16_t key, uint64_t offset, uint8_t *buf, size_t cap,
                            size_t *read_len) {
    (void)user;
    char file[512];
    path(file, sizeof file, "pkg-%u.data", key);
    int fd = open(file, O_RDONLY);
    if (fd < 0) return errno == ENOENT ? SCOMO_RESULT_NOT_FOUND : SCOMO_RESULT_IO;
    ssize_t n = pread(fd, buf, cap, (off_t)offset);
    close(fd);
    if (n < 0) return SCOMO_RESULT_IO;
    *read_len = (size_t)n;
    return SCOMO_RESULT_OK;
}

/* ---- Installer: a file per component ------------------------------------------------------ */

/* The package's first line: "scomo-component id=<ID> version=<V> name=<N>". */
struct manifest {
    char id[128], version[64], name[128];
};

static int read_manifest(scomo_package *package, struct manifest *m) {
    char line[512];
    size_t got = 0, n = 0;
    if (scomo_package_seek(package, 0) != SCOMO_RESULT_OK) return -1;
    while (got < sizeof line - 1) {
        if (scomo_package_read(package, (uint8_t *)line + got, sizeof line - 1 - got, &n) !=
            SCOMO_RESULT_OK)
            return -1;
        if (n == 0) break;
        got += n;
    }
    line[got] = 0;
    char *nl = strchr(line, '\n');
    if (!nl) return -1;
    *nl = 0;
    memset(m, 0, sizeof *m);
    if (sscanf(line, "scomo-component id=%127s version=%63s name=%127s", m->id, m->version,
               m->name) != 3)
        return -1;
    return 0;
}

static int component_path(char *out, size_t cap, const char *id) {
    if (strchr(id, '/') || strcmp(id, "..") == 0 || strcmp(id, ".") == 0) return -1;
    path(out, cap, "installed/%s", id);
    return 0;
}

static int write_component(const char *id, const char *version, const char *name, int active) {
    char file[512], text[512];
    if (component_path(file, sizeof file, id) != 0) return -1;
    int n = snprintf(text, sizeof text, "version=%s\nname=%s\nactive=%d\n", version, name, active);
    return replace_file(file, text, (size_t)n);
}

static scomo_result in_install(void *user, scomo_package *package, bool inactive,
                               const scomo_install_request *request,
                               scomo_component_sink *sink, scomo_outcome *outcome) {
    (void)user;
    struct manifest m;
    if (read_manifest(package, &m) != 0) return SCOMO_RESULT_INVALID_PACKAGE;
    /* Idempotent: installing what is installed writes the same file again. */
    if (write_component(m.id, m.version, m.name, !inactive) != 0) return SCOMO_RESULT_FAILED;
    scomo_component c = {.id = m.id, .version = m.version, .name = m.name};
    scomo_result r = scomo_sink_add(sink, &c);
    if (r != SCOMO_RESULT_OK) return r;
    fprintf(stderr, "flows: installed %s %s from %s (%s)\n", m.id, m.version, request->pkg_id,
            inactive ? "inactive" : "active");
    *outcome = SCOMO_OUTCOME_DONE;
    return SCOMO_RESULT_OK;
}

static scomo_result set_active(const char *id, int active, scomo_outcome *outcome) {
    char file[512], text[512], version[64] = "", name[128] = "";
    if (component_path(file, sizeof file, id) != 0) return SCOMO_RESULT_NOT_FOUND;
    long n = read_file(file, text, sizeof text - 1);
    if (n < 0) return SCOMO_RESULT_NOT_FOUND;
    text[n] = 0;
    if (sscanf(text, "version=%63s\nname=%127s", version, name) != 2) return SCOMO_RESULT_FAILED;
    if (write_component(id, version, name, active) != 0) return SCOMO_RESULT_FAILED;
    *outcome = SCOMO_OUTCOME_DONE;
    return SCOMO_RESULT_OK;
}

static scomo_result in_activate(void *user, const char *id, scomo_outcome *outcome) {
    (void)user;
    return set_active(id, 1, outcome);
}

static scomo_result in_deactivate(void *user, const char *id, scomo_outcome *outcome) {
    (void)user;
    return set_active(id, 0, outcome);
}

static scomo_result in_remove(void *user, const char *id, scomo_outcome *outcome) {
    (void)user;
    char file[512];
    if (component_path(file, sizeof file, id) != 0) return SCOMO_RESULT_NOT_FOUND;
    /* Idempotent: removing what is gone is done. */
    if (unlink(file) != 0 && errno != ENOENT) return SCOMO_RESULT_FAILED;
    *outcome = SCOMO_OUTCOME_DONE;
    return SCOMO_RESULT_OK;
}

static scomo_consent in_consent(void *user, scomo_installer_op op, const char *target) {
    (void)user;
    fprintf(stderr, "flows: consent to operation %d on %s: yes\n", (int)op, target);
    return SCOMO_CONSENT_ACCEPT;
}

static scomo_verdict in_verify(void *user, scomo_package *package,
                               const scomo_install_request *request) {
    (void)user, (void)request;
    struct manifest m;
    uint64_t size = 0;
    if (scomo_package_size(package, &size) != SCOMO_RESULT_OK || size == 0)
        return SCOMO_VERDICT_INVALID;
    return read_manifest(package, &m) == 0 ? SCOMO_VERDICT_VALID : SCOMO_VERDICT_INVALID;
}

static scomo_result random_fill(void *user, uint8_t *buf, size_t len) {
    (void)user;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f) return SCOMO_RESULT_RANDOM_FAILED;
    size_t n = fread(buf, 1, len, f);
    fclose(f);
    return n == len ? SCOMO_RESULT_OK : SCOMO_RESULT_RANDOM_FAILED;
}

static void log_line(void *user, scomo_log_level level, const char *line) {
    (void)user;
    fprintf(stderr, "scomo[%d]: %s\n", (int)level, line);
}

/* ---- HTTP (libcurl) -------------------------------------------------------------------------- */

struct response {
    uint8_t *buf;
    size_t cap, len;
    int overflow;
    char content_type[128];
    char hmac[256];
    char content_range[128];
    char validator[256];
    long long content_length;
    long status;
    /* Fetches stream the body into the agent. */
    scomo_agent *agent;
    int head_fed, stopped;
    scomo_result error;
};

static void header_value(const char *line, size_t len, const char *name, char *out, size_t cap) {
    size_t nlen = strlen(name);
    if (len <= nlen + 1 || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':') return;
    const char *v = line + nlen + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    size_t n = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(out, v, n);
    out[n] = 0;
}

static size_t on_header(char *line, size_t size, size_t count, void *user) {
    struct response *r = user;
    size_t len = size * count;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or a 100): forget the last one's headers. */
        r->content_type[0] = r->hmac[0] = r->content_range[0] = r->validator[0] = 0;
        r->content_length = -1;
        const char *sp = memchr(line, ' ', len);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    char length[32] = "";
    header_value(line, len, "Content-Type", r->content_type, sizeof r->content_type);
    header_value(line, len, "x-syncml-hmac", r->hmac, sizeof r->hmac);
    header_value(line, len, "Content-Range", r->content_range, sizeof r->content_range);
    header_value(line, len, "ETag", r->validator, sizeof r->validator);
    if (!r->validator[0])
        header_value(line, len, "Last-Modified", r->validator, sizeof r->validator);
    header_value(line, len, "Content-Length", length, sizeof length);
    if (length[0]) r->content_length = strtoll(length, NULL, 10);
    return len;
}

static size_t on_body(char *data, size_t size, size_t count, void *user) {
    struct response *r = user;
    size_t len = size * count;
    if (len > r->cap - r->len) {
        r->overflow = 1;
        return 0;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return len;
}

static int feed_head(struct response *r) {
    if (r->head_fed) return 0;
    r->head_fed = 1;
    scomo_fetch_head head = {
        .status = (uint16_t)r->status,
        .content_type = r->content_type[0] ? r->content_type : NULL,
        .content_length = r->content_length,
        .content_range = r->content_range[0] ? r->content_range : NULL,
        .validator = r->validator[0] ? r->validator : NULL,
    };
    scomo_flow flow;
    r->error = scomo_agent_fetch_head(r->agent, &head, &flow);
    if (r->error != SCOMO_RESULT_OK || flow == SCOMO_FLOW_STOP) r->stopped = 1;
    return r->stopped ? -1 : 0;
}

static size_t on_fetch_body(char *data, size_t size, size_t count, void *user) {
    struct response *r = user;
    size_t len = size * count;
    if (feed_head(r) != 0) return 0;
    scomo_flow flow;
    r->error = scomo_agent_fetch_body(r->agent, (const uint8_t *)data, len, &flow);
    if (r->error != SCOMO_RESULT_OK || flow == SCOMO_FLOW_STOP) {
        r->stopped = 1;
        return 0;
    }
    return len;
}

static CURL *curl;

/* POSTs a DM message; 0 on a 200 answer read into `r`, else -1. */
static int post_dm(const scomo_action *a, struct response *r) {
    char ct[160], accept[160], mac[320];
    struct curl_slist *h = NULL;
    snprintf(ct, sizeof ct, "Content-Type: %s", a->content_type);
    snprintf(accept, sizeof accept, "Accept: %s", a->content_type);
    h = curl_slist_append(h, ct);
    h = curl_slist_append(h, accept);
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    if (a->hmac) {
        snprintf(mac, sizeof mac, "x-syncml-hmac: %s", a->hmac);
        h = curl_slist_append(h, mac);
    }
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, a->url);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)a->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)a->body_len);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(h);
    if (rc != CURLE_OK) {
        fprintf(stderr, "flows: POST %s: %s\n", a->url, curl_easy_strerror(rc));
        return -1;
    }
    if (r->status != 200) {
        fprintf(stderr, "flows: POST %s: HTTP %ld\n", a->url, r->status);
        return -1;
    }
    return 0;
}

static scomo_fetch_end fetch(scomo_agent *agent, const scomo_action *a) {
    struct response r = {.agent = agent, .content_length = -1};
    char range[64], if_range[320];
    struct curl_slist *h = NULL;
    if (a->offset > 0) {
        snprintf(range, sizeof range, "Range: bytes=%llu-", (unsigned long long)a->offset);
        h = curl_slist_append(h, range);
        if (a->if_range) {
            snprintf(if_range, sizeof if_range, "If-Range: %s", a->if_range);
            h = curl_slist_append(h, if_range);
        }
    }
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, a->url);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_fetch_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    fprintf(stderr, "flows: GET %s from byte %llu\n", a->url, (unsigned long long)a->offset);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(h);
    if (r.error != SCOMO_RESULT_OK)
        die(3, "feeding the fetch: %s", scomo_result_name(r.error));
    if (r.stopped) return SCOMO_FETCH_DONE; /* the agent said stop */
    if (rc == CURLE_OK) {
        if (feed_head(&r) != 0 && r.error != SCOMO_RESULT_OK)
            die(3, "feeding the fetch: %s", scomo_result_name(r.error));
        return SCOMO_FETCH_DONE;
    }
    fprintf(stderr, "flows: GET %s: %s\n", a->url, curl_easy_strerror(rc));
    return r.head_fed ? SCOMO_FETCH_INTERRUPTED : SCOMO_FETCH_UNREACHABLE;
}

static bool post_notify(const scomo_action *a) {
    struct response r = {.content_length = -1};
    uint8_t sink[256];
    r.buf = sink;
    r.cap = sizeof sink;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: text/plain");
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, a->url);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)a->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)a->body_len);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(h);
    fprintf(stderr, "flows: install-notify %.*s: HTTP %ld\n", (int)a->body_len,
            (const char *)a->body, r.status);
    return rc == CURLE_OK && r.status >= 200 && r.status < 300;
}

/* ---- The device ------------------------------------------------------------------------------ */

static scomo_agent_storage storage; /* the agent's memory: static, never moved */
static uint8_t rx[RX_CAP];          /* the receive buffer: MaxMsgSize */

static scomo_platform platform(void) {
    scomo_platform p = {
        .components = {.user = NULL, .slots = SLOTS, .slot_capacity = SLOT_CAPACITY,
                       .begin = cs_begin, .write = cs_write, .commit = cs_commit,
                       .abort = cs_remove, .resume = cs_resume, .read = cs_read,
                       .inspect = cs_inspect, .remove = cs_remove},
        .state = {.user = NULL, .max_record_len = SCOMO_SCRATCH_CAP, .read = st_read,
                  .write = st_write, .remove = st_remove, .next = st_next},
        .installer = {.user = NULL, .install = in_install, .activate = in_activate,
                      .deactivate = in_deactivate, .remove = in_remove,
                      .consent = in_consent, .verify = in_verify},
        .random = {.user = NULL, .fill = random_fill},
        .log = {.user = NULL, .emit = log_line, .max_level = SCOMO_LOG_INFO},
    };
    return p;
}

static scomo_agent *boot(const scomo_config *config) {
    scomo_platform p = platform();
    scomo_agent *agent = NULL;
    scomo_result r = scomo_agent_init(&storage, sizeof storage, &p, &agent);
    if (r != SCOMO_RESULT_OK) die(3, "init: %s", scomo_result_name(r));
    r = scomo_agent_configure(agent, config);
    if (r != SCOMO_RESULT_OK) die(3, "configure: %s", scomo_result_name(r));
    return agent;
}

static int auth_of(const char *s) {
    if (strcmp(s, "basic") == 0) return SCOMO_AUTH_BASIC;
    if (strcmp(s, "md5") == 0) return SCOMO_AUTH_MD5;
    if (strcmp(s, "hmac") == 0) return SCOMO_AUTH_HMAC;
    die(2, "unknown auth scheme %s", s);
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 6) die(2, "usage: flows <dm-url> <state-dir> <xml|wbxml> <auth> <server-pw|-> [pkg-id|-]");
    dir = argv[2];
    char installed[512];
    path(installed, sizeof installed, "installed");
    mkdir(dir, 0755);
    mkdir(installed, 0755);
    const char *request = argc > 6 && strcmp(argv[6], "-") != 0 ? argv[6] : NULL;
    int client_auth = auth_of(argv[4]);
    scomo_config config = {
        .server_uri = argv[1],
        .server_id = "scomo-test-server",
        .device_id = "IMEI:356938035643809",
        .manufacturer = "scomo",
        .model = "flows.c",
        .encoding = strcmp(argv[3], "wbxml") == 0 ? SCOMO_ENCODING_WBXML : SCOMO_ENCODING_XML,
        .client_auth = client_auth,
        .client_user = "dev-user",
        .client_password = "dev-pass",
        .server_auth = client_auth == SCOMO_AUTH_HMAC ? SCOMO_AUTH_HMAC : SCOMO_AUTH_MD5,
        .server_password = strcmp(argv[5], "-") != 0 ? argv[5] : NULL,
        .max_msg_size = RX_CAP,
        .retry_delay_ms = 20,
    };
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(curl = curl_easy_init()))
        die(3, "libcurl does not start");

    scomo_agent *agent = boot(&config);
    scomo_result r;
    if (argc > 7) {
        static uint8_t pkg0[1024];
        long n = read_file(argv[7], pkg0, sizeof pkg0);
        if (n < 0) die(2, "cannot read %s", argv[7]);
        r = scomo_agent_notification(agent, pkg0, (size_t)n);
        if (r != SCOMO_RESULT_OK) die(3, "notification refused: %s", scomo_result_name(r));
    } else {
        r = scomo_agent_request_session(agent, request);
        if (r != SCOMO_RESULT_OK) die(3, "request_session: %s", scomo_result_name(r));
    }

    uint64_t start = now_ms();
    int sessions = 0;
    for (;;) {
        if (now_ms() - start > DEADLINE_MS) die(3, "no end within %d ms", DEADLINE_MS);
        scomo_action a;
        r = scomo_agent_poll(agent, now_ms(), &a);
        if (r != SCOMO_RESULT_OK) die(3, "poll: %s", scomo_result_name(r));
        if (a.kind == SCOMO_ACTION_SEND) sessions++;
        /* A session: send, answer, until it ends. */
        while (a.kind == SCOMO_ACTION_SEND) {
            struct response resp = {.buf = rx, .cap = sizeof rx, .content_length = -1};
            if (post_dm(&a, &resp) != 0 || resp.overflow) {
                scomo_agent_end_session(agent);
                die(4, "the server is unreachable or its answer too long");
            }
            if (a.last) {
                a.kind = SCOMO_ACTION_NONE; /* the session is over: poll next */
                break;
            }
            r = scomo_agent_dm_answer(agent, rx, resp.len,
                                      resp.content_type[0] ? resp.content_type : NULL,
                                      resp.hmac[0] ? resp.hmac : NULL, &a);
            if (r != SCOMO_RESULT_OK) die(3, "dm_answer: %s", scomo_result_name(r));
        }
        switch (a.kind) {
        case SCOMO_ACTION_NONE:
            break;
        case SCOMO_ACTION_SESSION_ENDED:
            if (a.session.end == SCOMO_SESSION_AUTH_FAILED) die(6, "authentication failed");
            if (a.session.end == SCOMO_SESSION_REFUSED_MESSAGE)
                die(4, "the server's message was refused");
            break;
        case SCOMO_ACTION_FETCH:
            r = scomo_agent_fetch_end(agent, fetch(agent, &a));
            if (r != SCOMO_RESULT_OK) die(3, "fetch_end: %s", scomo_result_name(r));
            break;
        case SCOMO_ACTION_POST_NOTIFY:
            r = scomo_agent_notify_done(agent, post_notify(&a));
            if (r != SCOMO_RESULT_OK) die(3, "notify_done: %s", scomo_result_name(r));
            break;
        case SCOMO_ACTION_WAIT: {
            size_t queued = 0;
            scomo_agent_pending_reports(agent, &queued);
            if (sessions >= MAX_SESSIONS && queued > 0) die(5, "%zu results still queued", queued);
            uint64_t t = now_ms();
            if (a.wait_until_ms > t) {
                uint64_t ms = a.wait_until_ms - t < 1000 ? a.wait_until_ms - t : 1000;
                struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                                      .tv_nsec = (long)(ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
            break;
        }
        case SCOMO_ACTION_RESTART:
            /* A restart: release the agent, boot again from the stores. */
            fprintf(stderr, "flows: restart\n");
            if (scomo_agent_release(agent) != SCOMO_RESULT_OK) die(3, "release");
            agent = boot(&config);
            break;
        case SCOMO_ACTION_IDLE: {
            size_t queued = 0;
            scomo_agent_pending_reports(agent, &queued);
            r = scomo_agent_release(agent);
            curl_easy_cleanup(curl);
            curl_global_cleanup();
            if (r != SCOMO_RESULT_OK) die(3, "release: %s", scomo_result_name(r));
            if (queued > 0) die(5, "%zu results still queued", queued);
            printf("done after %d sessions\n", sessions);
            return 0;
        }
        default:
            die(3, "unknown action %d", (int)a.kind);
        }
    }
}
