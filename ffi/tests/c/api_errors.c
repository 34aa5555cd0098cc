/* Every error path of the C API: NULL pointers, too little or misaligned memory, calls out
 * of order, handles never initialised, copied, or used after release, re-entrant calls
 * from a callback, bad configuration values, and callbacks that fail or lie.
 *
 * Built with -std=c11 -Wall -Wextra -Werror -fsanitize=address,undefined against the
 * checked-in header and the static library; run by the Rust test `c_api_errors`.
 * Prints one line per failed check and "N passed, M failed"; exit status 0 when all pass. */

#define _GNU_SOURCE /* memmem */
#include "scomo.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define EXPECT(expr, want)                                                                  \
    do {                                                                                    \
        scomo_result got_ = (expr);                                                         \
        if (got_ == (want)) {                                                               \
            passed++;                                                                       \
        } else {                                                                            \
            failed++;                                                                       \
            fprintf(stderr, "%s:%d: %s\n    = %s, want %s\n", __FILE__, __LINE__, #expr,    \
                    scomo_result_name(got_), scomo_result_name(want));                      \
        }                                                                                   \
    } while (0)

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (cond) {                                                                         \
            passed++;                                                                       \
        } else {                                                                            \
            failed++;                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);        \
        }                                                                                   \
    } while (0)

/* ---- A platform in memory, with knobs to make it fail ---------------------------------- */

#define SLOTS 2
#define SLOT_CAP 4096
#define RECORDS 16
#define RECORD_CAP SCOMO_SCRATCH_CAP

struct slot {
    int state;
    uint64_t declared, len;
    uint8_t bytes[SLOT_CAP];
};

struct record {
    int used;
    uint16_t id;
    size_t len;
    uint8_t bytes[RECORD_CAP];
};

struct device {
    struct slot slots[SLOTS];
    struct record records[RECORDS];
    scomo_result state_read_result; /* forced result of the state store's read, if not OK */
    scomo_result random_result;     /* forced result of the random source, if not OK */
    scomo_result write_result;      /* forced result of the component store's write */
    int random_calls;
    scomo_agent *reenter;           /* when set, the random source calls back into it */
    scomo_result reentered_poll, reentered_release;
    int log_lines;
};

static struct device dev;

static scomo_result cs_begin(void *user, uint16_t key, uint64_t declared) {
    struct device *d = user;
    if (key >= SLOTS) return SCOMO_RESULT_INVALID_KEY;
    if (declared > SLOT_CAP) return SCOMO_RESULT_TOO_LARGE;
    d->slots[key].state = SCOMO_PACKAGE_PARTIAL;
    d->slots[key].declared = declared;
    d->slots[key].len = 0;
    return SCOMO_RESULT_OK;
}

static scomo_result cs_write(void *user, uint16_t key, uint64_t offset, const uint8_t *data,
                             size_t len, uint64_t *durable) {
    struct device *d = user;
    struct slot *s = &d->slots[key];
    if (d->write_result != SCOMO_RESULT_OK) return d->write_result;
    if (offset != s->len || offset + len > s->declared) return SCOMO_RESULT_IO;
    memcpy(s->bytes + offset, data, len);
    s->len += len;
    *durable = s->len;
    return SCOMO_RESULT_OK;
}

static scomo_result cs_commit(void *user, uint16_t key, uint64_t len) {
    struct device *d = user;
    d->slots[key].state = SCOMO_PACKAGE_COMPLETE;
    d->slots[key].len = len;
    return SCOMO_RESULT_OK;
}

static scomo_result cs_abort(void *user, uint16_t key) {
    struct device *d = user;
    d->slots[key].state = SCOMO_PACKAGE_NONE;
    return SCOMO_RESULT_OK;
}

static scomo_result cs_inspect(void *user, uint16_t key, scomo_package_info *info) {
    struct device *d = user;
    if (key >= SLOTS) return SCOMO_RESULT_INVALID_KEY;
    info->state = d->slots[key].state;
    info->declared_size = d->slots[key].declared;
    info->len = d->slots[key].len;
    info->durable_len = d->slots[key].len;
    return SCOMO_RESULT_OK;
}

static scomo_result cs_resume(void *user, uint16_t key, scomo_package_info *info) {
    return cs_inspect(user, key, info);
}

static scomo_result cs_read(void *user, uint16_t key, uint64_t offset, uint8_t *buf, size_t cap,
                            size_t *read) {
    struct device *d = user;
    struct slot *s = &d->slots[key];
    size_t n = offset >= s->len ? 0 : (size_t)(s->len - offset);
    if (n > cap) n = cap;
    memcpy(buf, s->bytes + offset, n);
    *read = n;
    return SCOMO_RESULT_OK;
}

static scomo_result cs_remove(void *user, uint16_t key) {
    struct device *d = user;
    d->slots[key].state = SCOMO_PACKAGE_NONE;
    return SCOMO_RESULT_OK;
}

static struct record *find(struct device *d, uint16_t id) {
    for (int i = 0; i < RECORDS; i++)
        if (d->records[i].used && d->records[i].id == id) return &d->records[i];
    return NULL;
}

static scomo_result ss_read(void *user, uint16_t id, uint8_t *buf, size_t cap, size_t *len) {
    struct device *d = user;
    if (d->state_read_result != SCOMO_RESULT_OK) return d->state_read_result;
    struct record *r = find(d, id);
    if (!r) return SCOMO_RESULT_NOT_FOUND;
    if (r->len > cap) return SCOMO_RESULT_BUFFER_TOO_SMALL;
    memcpy(buf, r->bytes, r->len);
    *len = r->len;
    return SCOMO_RESULT_OK;
}

static scomo_result ss_write(void *user, uint16_t id, const uint8_t *bytes, size_t len) {
    struct device *d = user;
    struct record *r = find(d, id);
    for (int i = 0; !r && i < RECORDS; i++)
        if (!d->records[i].used) r = &d->records[i];
    if (!r) return SCOMO_RESULT_NO_SPACE;
    if (len > RECORD_CAP) return SCOMO_RESULT_TOO_LARGE;
    r->used = 1;
    r->id = id;
    r->len = len;
    memcpy(r->bytes, bytes, len);
    return SCOMO_RESULT_OK;
}

static scomo_result ss_remove(void *user, uint16_t id) {
    struct record *r = find(user, id);
    if (r) r->used = 0;
    return SCOMO_RESULT_OK;
}

static scomo_result ss_next(void *user, const uint16_t *after, uint16_t *next) {
    struct device *d = user;
    int best = -1;
    for (int i = 0; i < RECORDS; i++) {
        if (!d->records[i].used) continue;
        uint16_t id = d->records[i].id;
        if (after && id <= *after) continue;
        if (best < 0 || id < best) best = id;
    }
    if (best < 0) return SCOMO_RESULT_NOT_FOUND;
    *next = (uint16_t)best;
    return SCOMO_RESULT_OK;
}

static scomo_result in_install(void *user, scomo_package *package, bool inactive,
                               const scomo_install_request *request,
                               scomo_component_sink *sink, scomo_outcome *outcome) {
    (void)user, (void)package, (void)inactive, (void)request, (void)sink;
    *outcome = SCOMO_OUTCOME_DONE;
    return SCOMO_RESULT_OK;
}

static scomo_result in_by_id(void *user, const char *id, scomo_outcome *outcome) {
    (void)user, (void)id;
    *outcome = SCOMO_OUTCOME_DONE;
    return SCOMO_RESULT_OK;
}

static scomo_result random_fill(void *user, uint8_t *buf, size_t len) {
    struct device *d = user;
    d->random_calls++;
    if (d->reenter) {
        scomo_action action;
        d->reentered_poll = scomo_agent_poll(d->reenter, 0, &action);
        d->reentered_release = scomo_agent_release(d->reenter);
    }
    if (d->random_result != SCOMO_RESULT_OK) return d->random_result;
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(rand() & 0xff);
    return SCOMO_RESULT_OK;
}

static void log_line(void *user, scomo_log_level level, const char *line) {
    struct device *d = user;
    (void)level;
    CHECK(line != NULL && strlen(line) <= SCOMO_LOG_LINE_CAP);
    d->log_lines++;
}

static scomo_platform platform(void) {
    scomo_platform p = {
        .components = {.user = &dev, .slots = SLOTS, .slot_capacity = SLOT_CAP,
                       .begin = cs_begin, .write = cs_write, .commit = cs_commit,
                       .abort = cs_abort, .resume = cs_resume, .read = cs_read,
                       .inspect = cs_inspect, .remove = cs_remove},
        .state = {.user = &dev, .max_record_len = RECORD_CAP, .read = ss_read,
                  .write = ss_write, .remove = ss_remove, .next = ss_next},
        .installer = {.user = &dev, .install = in_install, .activate = in_by_id,
                      .deactivate = in_by_id, .remove = in_by_id},
        .random = {.user = &dev, .fill = random_fill},
        .log = {.user = &dev, .emit = log_line, .max_level = SCOMO_LOG_DEBUG},
    };
    return p;
}

static scomo_config config(void) {
    scomo_config c = {
        .server_uri = "http://127.0.0.1:9/dm",
        .server_id = "scomo-test-server",
        .device_id = "IMEI:356938035643809",
        .encoding = SCOMO_ENCODING_XML,
        .client_auth = SCOMO_AUTH_MD5,
        .client_user = "dev-user",
        .client_password = "dev-pass",
        .server_auth = SCOMO_AUTH_MD5,
        .server_password = "srv-pass",
        .max_msg_size = 8192,
    };
    return c;
}

/* Storage: one properly aligned block, and a raw buffer to misalign. */
static scomo_agent_storage storage, copy;
static _Alignas(8) unsigned char raw[SCOMO_AGENT_STORAGE_SIZE + 16];

/* ---- The checks ------------------------------------------------------------------------- */

static void sizes_and_names(void) {
    CHECK(scomo_agent_storage_size() > 0);
    CHECK(scomo_agent_storage_size() <= SCOMO_AGENT_STORAGE_SIZE);
    CHECK(scomo_agent_storage_align() <= SCOMO_AGENT_STORAGE_ALIGN);
    CHECK(sizeof(scomo_agent_storage) == SCOMO_AGENT_STORAGE_SIZE);
    const scomo_result codes[] = {
        SCOMO_RESULT_OK, SCOMO_RESULT_NULL_POINTER, SCOMO_RESULT_TOO_SMALL,
        SCOMO_RESULT_MISALIGNED, SCOMO_RESULT_NOT_INITIALIZED, SCOMO_RESULT_RELEASED,
        SCOMO_RESULT_MOVED, SCOMO_RESULT_WRONG_ORDER, SCOMO_RESULT_BUSY,
        SCOMO_RESULT_INVALID_ARGUMENT, SCOMO_RESULT_TOO_LONG, SCOMO_RESULT_PANICKED,
        SCOMO_RESULT_NOTIFICATION_UNAUTHORIZED, SCOMO_RESULT_NOTIFICATION_REPLAYED,
        SCOMO_RESULT_NOTIFICATION_MALFORMED, SCOMO_RESULT_CAPACITY, SCOMO_RESULT_CREDENTIALS,
        SCOMO_RESULT_NOT_FOUND, SCOMO_RESULT_INVALID_KEY, SCOMO_RESULT_NO_SPACE,
        SCOMO_RESULT_TOO_LARGE, SCOMO_RESULT_BUFFER_TOO_SMALL, SCOMO_RESULT_CORRUPTED,
        SCOMO_RESULT_WRONG_STATE, SCOMO_RESULT_IO, SCOMO_RESULT_FAILED,
        SCOMO_RESULT_OUT_OF_MEMORY, SCOMO_RESULT_INVALID_PACKAGE,
        SCOMO_RESULT_UNSUPPORTED_ENV_TYPE, SCOMO_RESULT_NOT_IMPLEMENTED,
        SCOMO_RESULT_RANDOM_FAILED,
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *name = scomo_result_name(codes[i]);
        CHECK(strncmp(name, "SCOMO_RESULT_", 13) == 0 && strcmp(name, "SCOMO_RESULT_UNKNOWN") != 0);
    }
    CHECK(strcmp(scomo_result_name(-1), "SCOMO_RESULT_UNKNOWN") == 0);
}

/* Every agent function with a NULL handle answers SCOMO_RESULT_NULL_POINTER. */
static void null_handles(void) {
    scomo_action action;
    scomo_config c = config();
    scomo_fetch_head head = {.status = 200, .content_length = -1};
    scomo_flow flow;
    size_t n;
    EXPECT(scomo_agent_configure(NULL, &c), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_notification(NULL, (const uint8_t *)"x", 1), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_request_session(NULL, NULL), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_poll(NULL, 0, &action), SCOMO_RESULT_NULL_POINTER);
    CHECK(action.kind == SCOMO_ACTION_NONE);
    EXPECT(scomo_agent_dm_answer(NULL, NULL, 0, NULL, NULL, &action), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_end_session(NULL), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_fetch_head(NULL, &head, &flow), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_fetch_body(NULL, NULL, 0, &flow), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_fetch_end(NULL, SCOMO_FETCH_DONE), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_notify_done(NULL, true), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_pending_reports(NULL, &n), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_release(NULL), SCOMO_RESULT_NULL_POINTER);
    /* The handles of installer callbacks, outside a callback. */
    uint8_t buf[4];
    uint64_t size;
    scomo_component comp = {.id = "c"};
    EXPECT(scomo_package_size(NULL, &size), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_package_read(NULL, buf, sizeof buf, &n), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_package_seek(NULL, 0), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_sink_add(NULL, &comp), SCOMO_RESULT_NULL_POINTER);
    static _Alignas(8) unsigned char stale[64]; /* zeroed: never a live handle */
    EXPECT(scomo_package_size((scomo_package *)stale, &size), SCOMO_RESULT_INVALID_ARGUMENT);
    EXPECT(scomo_sink_add((scomo_component_sink *)stale, &comp), SCOMO_RESULT_INVALID_ARGUMENT);
}

static void init_errors(void) {
    scomo_platform p = platform();
    scomo_agent *agent = NULL;
    size_t need = scomo_agent_storage_size();
    EXPECT(scomo_agent_init(NULL, sizeof storage, &p, &agent), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_init(&storage, sizeof storage, NULL, &agent), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_init(&storage, sizeof storage, &p, NULL), SCOMO_RESULT_NULL_POINTER);
    /* Too little memory. */
    EXPECT(scomo_agent_init(&storage, 0, &p, &agent), SCOMO_RESULT_TOO_SMALL);
    EXPECT(scomo_agent_init(&storage, need - 1, &p, &agent), SCOMO_RESULT_TOO_SMALL);
    /* Misaligned memory (large enough). */
    for (size_t off = 1; off < SCOMO_AGENT_STORAGE_ALIGN; off++)
        EXPECT(scomo_agent_init((scomo_agent_storage *)(void *)(raw + off), need, &p, &agent),
               SCOMO_RESULT_MISALIGNED);
    CHECK(agent == NULL);
    /* Incomplete platform tables. */
    scomo_platform q = p;
    q.components.write = NULL;
    EXPECT(scomo_agent_init(&storage, sizeof storage, &q, &agent), SCOMO_RESULT_INVALID_ARGUMENT);
    q = p;
    q.components.slots = 0;
    EXPECT(scomo_agent_init(&storage, sizeof storage, &q, &agent), SCOMO_RESULT_INVALID_ARGUMENT);
    q = p;
    q.state.next = NULL;
    EXPECT(scomo_agent_init(&storage, sizeof storage, &q, &agent), SCOMO_RESULT_INVALID_ARGUMENT);
    q = p;
    q.state.max_record_len = 0;
    EXPECT(scomo_agent_init(&storage, sizeof storage, &q, &agent), SCOMO_RESULT_INVALID_ARGUMENT);
    q = p;
    q.installer.remove = NULL;
    EXPECT(scomo_agent_init(&storage, sizeof storage, &q, &agent), SCOMO_RESULT_INVALID_ARGUMENT);
    q = p;
    q.random.fill = NULL;
    EXPECT(scomo_agent_init(&storage, sizeof storage, &q, &agent), SCOMO_RESULT_INVALID_ARGUMENT);
    CHECK(agent == NULL);
    /* Optional callbacks may be NULL. */
    q = p;
    q.installer.consent = NULL;
    q.installer.verify = NULL;
    q.log.emit = NULL;
    EXPECT(scomo_agent_init(&storage, need, &q, &agent), SCOMO_RESULT_OK);
    CHECK(agent != NULL);
    /* A live agent is not initialised over. */
    scomo_agent *again = NULL;
    EXPECT(scomo_agent_init(&storage, sizeof storage, &p, &again), SCOMO_RESULT_WRONG_ORDER);
    CHECK(again == NULL);
    EXPECT(scomo_agent_release(agent), SCOMO_RESULT_OK);
}

/* Memory that never held an agent, or was overwritten, is no handle. */
static void not_initialized(void) {
    scomo_action action;
    static scomo_agent_storage zeroed, garbage;
    memset(&garbage, 0xa5, sizeof garbage);
    EXPECT(scomo_agent_poll((scomo_agent *)(void *)&zeroed, 0, &action), SCOMO_RESULT_NOT_INITIALIZED);
    EXPECT(scomo_agent_poll((scomo_agent *)(void *)&garbage, 0, &action), SCOMO_RESULT_NOT_INITIALIZED);
    EXPECT(scomo_agent_release((scomo_agent *)(void *)&garbage), SCOMO_RESULT_NOT_INITIALIZED);
}

static void configure_errors(scomo_agent *agent) {
    scomo_config c;
    EXPECT(scomo_agent_configure(agent, NULL), SCOMO_RESULT_NULL_POINTER);
    c = config();
    c.server_uri = NULL;
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_NULL_POINTER);
    c = config();
    c.device_id = NULL;
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_NULL_POINTER);
    c = config();
    c.encoding = 7;
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_INVALID_ARGUMENT);
    c = config();
    c.client_auth = -1;
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_INVALID_ARGUMENT);
    c = config();
    c.device_id = "\xff\xfe not UTF-8";
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_INVALID_ARGUMENT);
    c = config();
    c.device_id = "";
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_INVALID_ARGUMENT);
    c = config();
    c.max_msg_size = 100;
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_INVALID_ARGUMENT);
    char long_uri[SCOMO_URI_CAP + 32];
    memset(long_uri, 'a', sizeof long_uri - 1);
    long_uri[sizeof long_uri - 1] = 0;
    c = config();
    c.server_uri = long_uri;
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_TOO_LONG);
    char long_secret[SCOMO_SECRET_CAP + 2];
    memset(long_secret, 's', sizeof long_secret - 1);
    long_secret[sizeof long_secret - 1] = 0;
    c = config();
    c.client_password = long_secret;
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_TOO_LONG);
    /* A state store that fails while the agent recovers: a storage error, nothing booted. */
    c = config();
    dev.state_read_result = SCOMO_RESULT_IO;
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_IO);
    dev.state_read_result = SCOMO_RESULT_CORRUPTED;
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_CORRUPTED);
    dev.state_read_result = SCOMO_RESULT_OK;
    /* Still unconfigured: polling is out of order. */
    scomo_action action;
    EXPECT(scomo_agent_poll(agent, 0, &action), SCOMO_RESULT_WRONG_ORDER);
}

/* Calls that need a configured agent, or an action they answer. */
static void out_of_order(scomo_agent *agent, int configured) {
    scomo_action action;
    scomo_fetch_head head = {.status = 200, .content_length = 3};
    scomo_flow flow = -1;
    size_t n;
    if (!configured) {
        EXPECT(scomo_agent_poll(agent, 0, &action), SCOMO_RESULT_WRONG_ORDER);
        CHECK(action.kind == SCOMO_ACTION_NONE);
        EXPECT(scomo_agent_notification(agent, (const uint8_t *)"abc", 3), SCOMO_RESULT_WRONG_ORDER);
        EXPECT(scomo_agent_request_session(agent, NULL), SCOMO_RESULT_WRONG_ORDER);
        EXPECT(scomo_agent_pending_reports(agent, &n), SCOMO_RESULT_WRONG_ORDER);
    } else {
        scomo_config c = config();
        EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_WRONG_ORDER);
    }
    EXPECT(scomo_agent_dm_answer(agent, (const uint8_t *)"x", 1, "text/plain", NULL, &action),
           SCOMO_RESULT_WRONG_ORDER);
    CHECK(action.kind == SCOMO_ACTION_NONE);
    EXPECT(scomo_agent_end_session(agent), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_fetch_head(agent, &head, &flow), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_fetch_body(agent, (const uint8_t *)"abc", 3, &flow), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_fetch_end(agent, SCOMO_FETCH_DONE), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_notify_done(agent, true), SCOMO_RESULT_WRONG_ORDER);
    CHECK(flow == -1);
}

static void running_errors(scomo_agent *agent) {
    scomo_action action;
    size_t n = 99;
    EXPECT(scomo_agent_poll(agent, 0, NULL), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_pending_reports(agent, NULL), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_pending_reports(agent, &n), SCOMO_RESULT_OK);
    CHECK(n == 0);
    EXPECT(scomo_agent_poll(agent, 0, &action), SCOMO_RESULT_OK);
    CHECK(action.kind == SCOMO_ACTION_IDLE);

    /* Package #0: NULL bytes, garbage, a bad digest. */
    EXPECT(scomo_agent_notification(agent, NULL, 24), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_notification(agent, (const uint8_t *)"abc", 3),
           SCOMO_RESULT_NOTIFICATION_MALFORMED);
    /* A well-formed Package #0 with a zero digest: 16 digest bytes, version 12 in the top
     * 10 bits of a 40-bit header, session id 1, the server id. */
    uint8_t pkg0[64] = {0};
    pkg0[16] = 0x03;
    pkg0[22] = 0x01;
    pkg0[23] = 17;
    memcpy(pkg0 + 24, "scomo-test-server", 17);
    EXPECT(scomo_agent_notification(agent, pkg0, 24 + 17), SCOMO_RESULT_NOTIFICATION_UNAUTHORIZED);
    pkg0[16] = 0x05; /* version 20 */
    EXPECT(scomo_agent_notification(agent, pkg0, 24 + 17), SCOMO_RESULT_NOTIFICATION_MALFORMED);

    /* Session requests: too long, not UTF-8, no entropy. */
    char long_id[SCOMO_REQUEST_CAP + 8];
    memset(long_id, 'p', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    EXPECT(scomo_agent_request_session(agent, long_id), SCOMO_RESULT_TOO_LONG);
    EXPECT(scomo_agent_request_session(agent, "\xc3\x28"), SCOMO_RESULT_INVALID_ARGUMENT);
    dev.random_result = SCOMO_RESULT_IO;
    EXPECT(scomo_agent_request_session(agent, NULL), SCOMO_RESULT_RANDOM_FAILED);
    dev.random_result = SCOMO_RESULT_OK;

    /* A callback that calls back into the agent is refused, and the outer call goes on. */
    dev.reenter = agent;
    int calls = dev.random_calls;
    EXPECT(scomo_agent_request_session(agent, "pkg-1"), SCOMO_RESULT_OK);
    dev.reenter = NULL;
    CHECK(dev.random_calls > calls);
    EXPECT(dev.reentered_poll, SCOMO_RESULT_BUSY);
    EXPECT(dev.reentered_release, SCOMO_RESULT_BUSY);

    /* The session starts: Package 1 to send. */
    EXPECT(scomo_agent_poll(agent, 1, &action), SCOMO_RESULT_OK);
    CHECK(action.kind == SCOMO_ACTION_SEND);
    CHECK(action.body != NULL && action.body_len > 0 && !action.last);
    CHECK(action.url != NULL && strcmp(action.url, "http://127.0.0.1:9/dm") == 0);
    CHECK(action.content_type != NULL &&
          strcmp(action.content_type, "application/vnd.syncml.dm+xml") == 0);
    CHECK(action.body_len > 0 && memmem(action.body, action.body_len, "pkg-1", 5) != NULL);
    /* An answer is owed now. */
    EXPECT(scomo_agent_poll(agent, 2, &action), SCOMO_RESULT_WRONG_ORDER);
    CHECK(action.kind == SCOMO_ACTION_NONE);
    EXPECT(scomo_agent_request_session(agent, NULL), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_fetch_end(agent, SCOMO_FETCH_DONE), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_dm_answer(agent, NULL, 10, "application/vnd.syncml.dm+xml", NULL, &action),
           SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_dm_answer(agent, (const uint8_t *)"x", 1, NULL, NULL, NULL),
           SCOMO_RESULT_NULL_POINTER);
    /* Garbage from the network is no API error: the device ends the session. */
    const char *junk = "<html>502 Bad Gateway</html>";
    EXPECT(scomo_agent_dm_answer(agent, (const uint8_t *)junk, strlen(junk), "text/html",
                                 "\xff", &action),
           SCOMO_RESULT_OK);
    CHECK((action.kind == SCOMO_ACTION_SEND && action.last) ||
          action.kind == SCOMO_ACTION_SESSION_ENDED);
    if (action.kind == SCOMO_ACTION_SEND) {
        /* The last message needs no answer. */
        EXPECT(scomo_agent_dm_answer(agent, (const uint8_t *)"x", 1, "text/plain", NULL, &action),
               SCOMO_RESULT_WRONG_ORDER);
        EXPECT(scomo_agent_poll(agent, 3, &action), SCOMO_RESULT_OK);
    }
    CHECK(action.kind == SCOMO_ACTION_IDLE || action.kind == SCOMO_ACTION_WAIT ||
          action.kind == SCOMO_ACTION_SESSION_ENDED);

    /* A failed transport ends a session too. */
    EXPECT(scomo_agent_request_session(agent, NULL), SCOMO_RESULT_OK);
    do {
        EXPECT(scomo_agent_poll(agent, 4, &action), SCOMO_RESULT_OK);
    } while (action.kind == SCOMO_ACTION_WAIT || action.kind == SCOMO_ACTION_SESSION_ENDED);
    CHECK(action.kind == SCOMO_ACTION_SEND);
    EXPECT(scomo_agent_end_session(agent), SCOMO_RESULT_OK);
    EXPECT(scomo_agent_end_session(agent), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_poll(agent, 5, &action), SCOMO_RESULT_OK);

    /* A misaligned handle. */
    EXPECT(scomo_agent_poll((scomo_agent *)(void *)((unsigned char *)agent + 1), 0, &action),
           SCOMO_RESULT_MISALIGNED);
    /* A copy of the storage is not the agent. */
    memcpy(&copy, &storage, sizeof storage);
    EXPECT(scomo_agent_poll((scomo_agent *)(void *)&copy, 0, &action), SCOMO_RESULT_MOVED);
    EXPECT(scomo_agent_release((scomo_agent *)(void *)&copy), SCOMO_RESULT_MOVED);
}

/* ---- A scripted server: its message makes a download job, so a FETCH can be misused ---- */

/* Writes the server's message `msg_id` for the session of the device's message `sent`
 * (its SessionID copied), with `commands` after the Status for the device's header. */
static size_t server_message(char *out, size_t cap, const scomo_action *sent, int msg_id,
                             const char *commands) {
    char session[16] = "";
    const char *p = memmem(sent->body, sent->body_len, "<SessionID>", 11);
    if (p) sscanf(p + 11, "%15[^<]", session);
    int n = snprintf(
        out, cap,
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr><VerDTD>1.2</VerDTD>"
        "<VerProto>DM/1.2</VerProto><SessionID>%s</SessionID><MsgID>%d</MsgID>"
        "<Target><LocURI>IMEI:356938035643809</LocURI></Target>"
        "<Source><LocURI>http://127.0.0.1:9/dm</LocURI></Source></SyncHdr><SyncBody>"
        "<Status><CmdID>1</CmdID><MsgRef>%d</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd>"
        "<TargetRef>http://127.0.0.1:9/dm</TargetRef><SourceRef>IMEI:356938035643809</SourceRef>"
        "<Data>212</Data></Status>%s<Final/></SyncBody></SyncML>",
        session, msg_id, msg_id, commands);
    return (size_t)n;
}

static void fetch_misuse(scomo_agent *agent) {
    static char msg[4096];
    scomo_action a;
    scomo_flow flow = -1;
    const char *ct = "application/vnd.syncml.dm+xml";
    EXPECT(scomo_agent_request_session(agent, NULL), SCOMO_RESULT_OK);
    EXPECT(scomo_agent_poll(agent, 100, &a), SCOMO_RESULT_OK);
    CHECK(a.kind == SCOMO_ACTION_SEND);
    size_t n = server_message(
        msg, sizeof msg, &a, 1,
        "<Add><CmdID>2</CmdID><Item><Target><LocURI>./SCOMO/Download/D1</LocURI></Target>"
        "<Meta><Format xmlns=\"syncml:metinf\">node</Format></Meta></Item></Add>"
        "<Add><CmdID>3</CmdID><Item><Target><LocURI>./SCOMO/Download/D1/PkgID</LocURI></Target>"
        "<Data>pkg-d1</Data></Item></Add>"
        "<Add><CmdID>4</CmdID><Item><Target><LocURI>./SCOMO/Download/D1/PkgURL</LocURI></Target>"
        "<Data>http://127.0.0.1:9/pkg/d1</Data></Item></Add>"
        "<Exec><CmdID>5</CmdID><Correlator>c-d1</Correlator><Item><Target>"
        "<LocURI>./SCOMO/Download/D1/Operations/Download</LocURI></Target></Item></Exec>");
    EXPECT(scomo_agent_dm_answer(agent, (const uint8_t *)msg, n, ct, NULL, &a), SCOMO_RESULT_OK);
    /* The device acknowledges (the Exec answered 202); the server closes the session. */
    CHECK(a.kind == SCOMO_ACTION_SEND && !a.last);
    CHECK(memmem(a.body, a.body_len, "<Data>202</Data>", 16) != NULL);
    n = server_message(msg, sizeof msg, &a, 2, "");
    EXPECT(scomo_agent_dm_answer(agent, (const uint8_t *)msg, n, ct, NULL, &a), SCOMO_RESULT_OK);
    CHECK(a.kind == SCOMO_ACTION_SESSION_ENDED);
    CHECK(a.session.end == SCOMO_SESSION_COMPLETED);
    do {
        EXPECT(scomo_agent_poll(agent, 200, &a), SCOMO_RESULT_OK);
    } while (a.kind == SCOMO_ACTION_WAIT && a.wait_until_ms <= 200);
    CHECK(a.kind == SCOMO_ACTION_FETCH);
    CHECK(a.url != NULL && strcmp(a.url, "http://127.0.0.1:9/pkg/d1") == 0 && a.offset == 0);

    /* Misuse during the fetch. */
    scomo_fetch_head head = {.status = 200, .content_type = "application/octet-stream",
                             .content_length = 10};
    EXPECT(scomo_agent_poll(agent, 201, &a), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_request_session(agent, NULL), SCOMO_RESULT_OK); /* due after the fetch */
    EXPECT(scomo_agent_fetch_body(agent, (const uint8_t *)"abc", 3, &flow), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_fetch_head(agent, NULL, &flow), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_fetch_head(agent, &head, NULL), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_fetch_end(agent, 77), SCOMO_RESULT_INVALID_ARGUMENT);
    EXPECT(scomo_agent_notify_done(agent, true), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_dm_answer(agent, (const uint8_t *)"x", 1, ct, NULL, &a), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_fetch_head(agent, &head, &flow), SCOMO_RESULT_OK);
    CHECK(flow == SCOMO_FLOW_CONTINUE);
    EXPECT(scomo_agent_fetch_head(agent, &head, &flow), SCOMO_RESULT_WRONG_ORDER);
    EXPECT(scomo_agent_fetch_body(agent, NULL, 4, &flow), SCOMO_RESULT_NULL_POINTER);
    EXPECT(scomo_agent_fetch_body(agent, (const uint8_t *)"abc", 3, NULL), SCOMO_RESULT_NULL_POINTER);
    /* The component store fails: like a flash failure, the download stops. */
    dev.write_result = SCOMO_RESULT_IO;
    EXPECT(scomo_agent_fetch_body(agent, (const uint8_t *)"abcde", 5, &flow), SCOMO_RESULT_OK);
    CHECK(flow == SCOMO_FLOW_STOP);
    dev.write_result = SCOMO_RESULT_OK;
    EXPECT(scomo_agent_fetch_end(agent, SCOMO_FETCH_DONE), SCOMO_RESULT_OK);
    EXPECT(scomo_agent_fetch_end(agent, SCOMO_FETCH_DONE), SCOMO_RESULT_WRONG_ORDER);
    /* The failed download is reported to the server in the session that comes next. */
    int sends = 0;
    for (int i = 0; i < 8 && sends == 0; i++) {
        EXPECT(scomo_agent_poll(agent, 300 + (uint64_t)i, &a), SCOMO_RESULT_OK);
        if (a.kind == SCOMO_ACTION_SEND) sends++;
        if (a.kind == SCOMO_ACTION_FETCH) EXPECT(scomo_agent_fetch_end(agent, SCOMO_FETCH_UNREACHABLE), SCOMO_RESULT_OK);
    }
    CHECK(sends == 1);
    EXPECT(scomo_agent_end_session(agent), SCOMO_RESULT_OK);
}

static void after_release(scomo_agent *agent) {
    scomo_action action;
    scomo_config c = config();
    size_t n;
    EXPECT(scomo_agent_release(agent), SCOMO_RESULT_OK);
    EXPECT(scomo_agent_release(agent), SCOMO_RESULT_RELEASED);
    EXPECT(scomo_agent_poll(agent, 0, &action), SCOMO_RESULT_RELEASED);
    CHECK(action.kind == SCOMO_ACTION_NONE);
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_RELEASED);
    EXPECT(scomo_agent_request_session(agent, NULL), SCOMO_RESULT_RELEASED);
    EXPECT(scomo_agent_notify_done(agent, false), SCOMO_RESULT_RELEASED);
    EXPECT(scomo_agent_pending_reports(agent, &n), SCOMO_RESULT_RELEASED);
    /* The passwords are gone from the storage. */
    CHECK(memmem(&storage, sizeof storage, "dev-pass", 8) == NULL);
    CHECK(memmem(&storage, sizeof storage, "srv-pass", 8) == NULL);
}

int main(void) {
    srand(1);
    sizes_and_names();
    null_handles();
    init_errors();
    not_initialized();

    scomo_platform p = platform();
    scomo_agent *agent = NULL;
    EXPECT(scomo_agent_init(&storage, sizeof storage, &p, &agent), SCOMO_RESULT_OK);
    out_of_order(agent, 0);
    configure_errors(agent);
    scomo_config c = config();
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_OK);
    out_of_order(agent, 1);
    running_errors(agent);
    after_release(agent);

    /* The storage is reusable, and a new agent recovers from the stores. This one trusts
     * the transport (no server password), so a scripted server message can drive it. */
    agent = NULL;
    EXPECT(scomo_agent_init(&storage, sizeof storage, &p, &agent), SCOMO_RESULT_OK);
    c.server_password = NULL;
    EXPECT(scomo_agent_configure(agent, &c), SCOMO_RESULT_OK);
    scomo_action action;
    EXPECT(scomo_agent_poll(agent, 10, &action), SCOMO_RESULT_OK);
    fetch_misuse(agent);
    EXPECT(scomo_agent_release(agent), SCOMO_RESULT_OK);
    CHECK(dev.log_lines > 0);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
