/* minimal.c: a complete SCOMO device in C. Stores in RAM (lost at power-off: a real device
 * keeps them in flash, see the contracts), an installer that only records what it installs,
 * HTTP by libcurl. Usage: minimal <dm-server-url> */
#define _POSIX_C_SOURCE 200809L
#include "scomo.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- Component store: 2 packages of up to 64 KiB ---- */
static struct { int state; uint64_t declared, len; uint8_t bytes[65536]; } slot[2];

static scomo_result cs_begin(void *u, uint16_t k, uint64_t declared) {
    (void)u;
    slot[k].state = SCOMO_PACKAGE_PARTIAL;
    slot[k].declared = declared;
    slot[k].len = 0;
    return SCOMO_RESULT_OK;
}
static scomo_result cs_write(void *u, uint16_t k, uint64_t off, const uint8_t *d, size_t n,
                             uint64_t *durable) {
    (void)u;
    memcpy(slot[k].bytes + off, d, n);
    *durable = slot[k].len = off + n;
    return SCOMO_RESULT_OK;
}
static scomo_result cs_commit(void *u, uint16_t k, uint64_t len) {
    (void)u;
    slot[k].state = SCOMO_PACKAGE_COMPLETE;
    slot[k].len = len;
    return SCOMO_RESULT_OK;
}
static scomo_result cs_remove(void *u, uint16_t k) {
    (void)u;
    slot[k].state = SCOMO_PACKAGE_NONE;
    return SCOMO_RESULT_OK;
}
static scomo_result cs_inspect(void *u, uint16_t k, scomo_package_info *i) {
    (void)u;
    i->state = slot[k].state;
    i->declared_size = slot[k].declared;
    i->len = i->durable_len = slot[k].len;
    return SCOMO_RESULT_OK;
}
static scomo_result cs_read(void *u, uint16_t k, uint64_t off, uint8_t *buf, size_t cap,
                            size_t *n) {
    (void)u;
    uint64_t left = off < slot[k].len ? slot[k].len - off : 0;
    *n = left < cap ? (size_t)left : cap;
    memcpy(buf, slot[k].bytes + off, *n);
    return SCOMO_RESULT_OK;
}

/* ---- State store: 8 records ---- */
static struct { int used; uint16_t id; size_t len; uint8_t bytes[SCOMO_SCRATCH_CAP]; } rec[8];

static int find(uint16_t id) {
    for (int i = 0; i < 8; i++) if (rec[i].used && rec[i].id == id) return i;
    return -1;
}
static scomo_result ss_read(void *u, uint16_t id, uint8_t *buf, size_t cap, size_t *len) {
    (void)u;
    int i = find(id);
    if (i < 0) return SCOMO_RESULT_NOT_FOUND;
    if (rec[i].len > cap) return SCOMO_RESULT_BUFFER_TOO_SMALL;
    memcpy(buf, rec[i].bytes, *len = rec[i].len);
    return SCOMO_RESULT_OK;
}
static scomo_result ss_write(void *u, uint16_t id, const uint8_t *b, size_t len) {
    (void)u;
    int i = find(id);
    for (int j = 0; i < 0 && j < 8; j++) if (!rec[j].used) i = j;
    if (i < 0) return SCOMO_RESULT_NO_SPACE;
    rec[i].used = 1;
    rec[i].id = id;
    rec[i].len = len;
    memcpy(rec[i].bytes, b, len);
    return SCOMO_RESULT_OK;
}
static scomo_result ss_remove(void *u, uint16_t id) {
    (void)u;
    int i = find(id);
    if (i >= 0) rec[i].used = 0;
    return SCOMO_RESULT_OK;
}
static scomo_result ss_next(void *u, const uint16_t *after, uint16_t *next) {
    (void)u;
    int best = -1;
    for (int i = 0; i < 8; i++)
        if (rec[i].used && (!after || rec[i].id > *after) && (best < 0 || rec[i].id < best))
            best = rec[i].id;
    if (best < 0) return SCOMO_RESULT_NOT_FOUND;
    *next = (uint16_t)best;
    return SCOMO_RESULT_OK;
}

/* ---- Installer: a package yields one component named by its PkgID ---- */
static scomo_result install(void *u, scomo_package *pkg, bool inactive,
                            const scomo_install_request *req, scomo_component_sink *sink,
                            scomo_outcome *outcome) {
    (void)u;
    uint64_t size = 0;
    scomo_package_size(pkg, &size);
    printf("install %s (%llu bytes, %s)\n", req->pkg_id, (unsigned long long)size,
           inactive ? "inactive" : "active");
    scomo_component c = {.id = req->pkg_id, .version = "1.0"};
    *outcome = SCOMO_OUTCOME_DONE;
    return scomo_sink_add(sink, &c);
}
static scomo_result by_id(void *u, const char *id, scomo_outcome *outcome) {
    (void)u, (void)id;
    *outcome = SCOMO_OUTCOME_DONE;
    return SCOMO_RESULT_OK;
}
static scomo_result random_fill(void *u, uint8_t *buf, size_t len) {
    (void)u;
    FILE *f = fopen("/dev/urandom", "rb");
    size_t n = f ? fread(buf, 1, len, f) : 0;
    if (f) fclose(f);
    return n == len ? SCOMO_RESULT_OK : SCOMO_RESULT_RANDOM_FAILED;
}

/* ---- HTTP ---- */
static uint8_t rx[8192];
static size_t rx_len;
static char rx_type[128], rx_mac[128];

static size_t on_body(char *d, size_t s, size_t n, void *u) {
    (void)u;
    if (rx_len + s * n > sizeof rx) return 0;
    memcpy(rx + rx_len, d, s * n);
    rx_len += s * n;
    return s * n;
}
static size_t on_header(char *data, size_t s, size_t n, void *u) {
    (void)u;
    char line[300];
    size_t len = s * n < sizeof line - 1 ? s * n : sizeof line - 1;
    memcpy(line, data, len);
    line[len] = 0; /* curl's header lines are not NUL-terminated */
    char *out = strncasecmp(line, "Content-Type:", 13) == 0    ? rx_type
                : strncasecmp(line, "x-syncml-hmac:", 14) == 0 ? rx_mac
                                                                : NULL;
    if (out) sscanf(strchr(line, ':') + 1, " %127[^\r\n]", out);
    return s * n;
}
/* POSTs `body` and reads the answer into rx; returns the HTTP status (0: no answer). */
static long post(CURL *c, const char *url, const char *type, const char *mac,
                 const uint8_t *body, size_t len) {
    char h1[160], h2[300];
    struct curl_slist *h = NULL;
    snprintf(h1, sizeof h1, "Content-Type: %s", type);
    h = curl_slist_append(h, h1);
    if (mac) {
        snprintf(h2, sizeof h2, "x-syncml-hmac: %s", mac);
        h = curl_slist_append(h, h2);
    }
    rx_len = 0, rx_type[0] = rx_mac[0] = 0;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return status;
}

static uint64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static scomo_agent_storage storage; /* the agent's memory, reserved by the firmware */

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    scomo_platform platform = {
        .components = {.slots = 2, .slot_capacity = sizeof slot[0].bytes, .begin = cs_begin,
                       .write = cs_write, .commit = cs_commit, .abort = cs_remove,
                       .resume = cs_inspect, .read = cs_read, .inspect = cs_inspect,
                       .remove = cs_remove},
        .state = {.max_record_len = SCOMO_SCRATCH_CAP, .read = ss_read, .write = ss_write,
                  .remove = ss_remove, .next = ss_next},
        .installer = {.install = install, .activate = by_id, .deactivate = by_id,
                      .remove = by_id},
        .random = {.fill = random_fill},
    };
    scomo_config config = {
        .server_uri = argv[1], .server_id = "scomo-test-server",
        .device_id = "IMEI:356938035643809", .encoding = SCOMO_ENCODING_XML,
        .client_auth = SCOMO_AUTH_MD5, .client_user = "dev-user", .client_password = "dev-pass",
        .max_msg_size = sizeof rx,
    };
    scomo_agent *agent = NULL;
    scomo_result r = scomo_agent_init(&storage, sizeof storage, &platform, &agent);
    if (r == SCOMO_RESULT_OK) r = scomo_agent_configure(agent, &config); /* recovers */
    if (r == SCOMO_RESULT_OK) r = scomo_agent_request_session(agent, NULL);
    CURL *curl = curl_easy_init();
    scomo_action a = {.kind = SCOMO_ACTION_NONE};
    while (r == SCOMO_RESULT_OK && a.kind != SCOMO_ACTION_IDLE) {
        r = scomo_agent_poll(agent, now_ms(), &a);
        while (r == SCOMO_RESULT_OK && a.kind == SCOMO_ACTION_SEND) {
            if (post(curl, a.url, a.content_type, a.hmac, a.body, a.body_len) != 200) {
                r = scomo_agent_end_session(agent); /* no answer: the session is over */
                break;
            }
            if (a.last) break; /* the session's last message: no answer to give */
            r = scomo_agent_dm_answer(agent, rx, rx_len, rx_type, rx_mac[0] ? rx_mac : NULL, &a);
        }
        if (r == SCOMO_RESULT_OK && a.kind == SCOMO_ACTION_FETCH) {
            /* This device takes packages pushed in the session only. */
            r = scomo_agent_fetch_end(agent, SCOMO_FETCH_UNREACHABLE);
        } else if (r == SCOMO_RESULT_OK && a.kind == SCOMO_ACTION_POST_NOTIFY) {
            long status = post(curl, a.url, "text/plain", NULL, a.body, a.body_len);
            r = scomo_agent_notify_done(agent, status >= 200 && status < 300);
        } else if (r == SCOMO_RESULT_OK && a.kind == SCOMO_ACTION_WAIT) {
            struct timespec t = {0, 10 * 1000 * 1000}; /* or sleep until a.wait_until_ms */
            nanosleep(&t, NULL);
        } else if (r == SCOMO_RESULT_OK && a.kind == SCOMO_ACTION_RESTART) {
            scomo_agent_release(agent); /* a reboot: the agent recovers from the stores */
            r = scomo_agent_init(&storage, sizeof storage, &platform, &agent);
            if (r == SCOMO_RESULT_OK) r = scomo_agent_configure(agent, &config);
        }
    }
    size_t queued = 0;
    if (r == SCOMO_RESULT_OK) r = scomo_agent_pending_reports(agent, &queued);
    printf("%s, %zu results queued\n", scomo_result_name(r), queued);
    scomo_agent_release(agent);
    curl_easy_cleanup(curl);
    return r == SCOMO_RESULT_OK && queued == 0 ? 0 : 1;
}
