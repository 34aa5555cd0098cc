/* main.c: the seed flows on a Cortex-M in C. The same device as the Rust `seed-flows` image,
 * written against the C API (`scomo.h`, the `scomo-ffi` static library): the agent in memory
 * the firmware reserves, the platform as C callbacks, all network traffic over UART0 through
 * the host bridge (serial.c), driven round by round by the bridge's `seed-flows` backend
 * (control requests `scomo-bridge:config`, `:next` and `:report`; see firmware/README.md).
 *
 * Stores: the component store and the state store on NOR flash emulated in RAM (stores.c,
 * nor.c), in `.noinit`, which survives the system reset of the `reboot` round. Every
 * operation the NOR rules refuse is counted; the run fails if there was any.
 *
 * Exit codes: 0 every round ran without a local error, 1 a round failed on the device,
 * 2 a store broke a NOR flash rule, 3 no configuration from the host or the agent would not
 * start, 4 a fault, 5 the stack overflowed while the agent started. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scomo.h"
#include "serial.h"
#include "stores.h"
#include "uart.h"

/* ---- What survives a reset (the emulated NOR flash, the inventory and the boot count) ---- */

/* What each board holds. lm3s6965evb has 64 KiB of RAM in all: the library is built with its
 * `small` capacities (SCOMO_SMALL), the package slots hold the flows' small packages (3-4
 * KiB), and a state bank holds a record as large as the library's scratch buffer and the
 * agent's small records. */
#if defined(BOARD_LM3S6965EVB)
#define BOARD_NAME "lm3s6965evb"
#define SLOT_PAGES 5 /* a meta page and 4 KiB of package */
#define BANK_PAGES 3
#define MSG_CAP 2048u
#define HEAP_RESERVE (2u * 1024u) /* newlib-nano's stdout buffer */
#elif defined(BOARD_MPS2_AN386)
#define BOARD_NAME "mps2-an386"
#define SLOT_PAGES 201 /* a meta page and 200 KiB of package */
#define BANK_PAGES 9
#define MSG_CAP 4096u
#define HEAP_RESERVE (64u * 1024u)
#else
#error "define BOARD_LM3S6965EVB or BOARD_MPS2_AN386 (the Makefile's BOARD does)"
#endif
#define SLOTS 2
#define COMPONENTS 4
#define NOR_SIZE STORES_NOR_SIZE(SLOTS, SLOT_PAGES, BANK_PAGES)
/* Room the agent's other records (authentication, served sessions, acknowledgements,
 * transfer) take in a state bank beside the largest one, the state record. */
#define SMALL_RECORDS 512u
_Static_assert(BANK_PAGES * NOR_PAGE >= STORES_BANK_HEADER + STORES_RECORD_HEADER +
                                            SCOMO_SCRATCH_CAP + SMALL_RECORDS,
               "a state bank holds the state record and the small records");
#define WARM 0x05C0B007u

struct component {
    bool used, active;
    char id[64], version[32];
};
static struct kept {
    uint32_t magic, boots, nor_violations;
    struct component inv[COMPONENTS];
    uint32_t nor[NOR_SIZE / 4]; /* the emulated chip: package slots, then two state banks */
} keep __attribute__((section(".noinit")));

/* ---- Installer: a package starts with `scomo-component id=.. version=.. ...\n` ---- */

/* Copies the value of `key=` in `line` into `out` (`cap` bytes); false when absent. */
static bool manifest_value(const char *line, const char *key, char *out, size_t cap) {
    size_t klen = strlen(key);
    for (const char *p = line; *p; p++) {
        if ((p == line || p[-1] == ' ') && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t n = strcspn(v, " ");
            if (n == 0 || n >= cap) return false;
            memcpy(out, v, n);
            out[n] = 0;
            return true;
        }
    }
    return false;
}

static struct component *component_named(const char *id) {
    for (int i = 0; i < COMPONENTS; i++)
        if (keep.inv[i].used && strcmp(keep.inv[i].id, id) == 0) return &keep.inv[i];
    return NULL;
}

static scomo_result install(void *u, scomo_package *pkg, bool inactive,
                            const scomo_install_request *req, scomo_component_sink *sink,
                            scomo_outcome *outcome) {
    (void)u, (void)req;
    char line[200];
    size_t got = 0;
    scomo_result r = scomo_package_read(pkg, (uint8_t *)line, sizeof line - 1, &got);
    if (r != SCOMO_RESULT_OK) return r;
    line[got] = 0;
    char *nl = strchr(line, '\n');
    const char *prefix = "scomo-component ";
    if (!nl || strncmp(line, prefix, strlen(prefix)) != 0) return SCOMO_RESULT_INVALID_PACKAGE;
    *nl = 0;
    char id[64], version[32] = "";
    if (!manifest_value(line, "id", id, sizeof id)) return SCOMO_RESULT_INVALID_PACKAGE;
    manifest_value(line, "version", version, sizeof version);
    /* Installed already (the same id and version): done, report it again. An update of the
     * same id replaces the entry in one assignment. */
    struct component *c = component_named(id);
    if (!c)
        for (int i = 0; i < COMPONENTS && !c; i++)
            if (!keep.inv[i].used) c = &keep.inv[i];
    if (!c) return SCOMO_RESULT_OUT_OF_MEMORY;
    if (!(c->used && strcmp(c->version, version) == 0)) {
        struct component next = {.used = true, .active = !inactive};
        strcpy(next.id, id);
        strcpy(next.version, version);
        *c = next;
    }
    scomo_component reported = {.id = c->id, .version = c->version, .name = c->id};
    *outcome = SCOMO_OUTCOME_DONE;
    return scomo_sink_add(sink, &reported);
}
static scomo_result set_active(const char *id, bool active, scomo_outcome *outcome) {
    struct component *c = component_named(id);
    if (!c) return SCOMO_RESULT_NOT_FOUND;
    c->active = active;
    *outcome = SCOMO_OUTCOME_DONE;
    return SCOMO_RESULT_OK;
}
static scomo_result activate(void *u, const char *id, scomo_outcome *o) {
    (void)u;
    return set_active(id, true, o);
}
static scomo_result deactivate(void *u, const char *id, scomo_outcome *o) {
    (void)u;
    return set_active(id, false, o);
}
static scomo_result uninstall(void *u, const char *id, scomo_outcome *o) {
    (void)u;
    struct component *c = component_named(id);
    if (c) c->used = false;
    *o = SCOMO_OUTCOME_DONE;
    return SCOMO_RESULT_OK;
}

/* ---- Randomness: xorshift64* (a test image; a real device uses its TRNG) ---- */

static uint64_t rng_state = 0x005C03E0C0FFEE11ull;
static scomo_result random_fill(void *u, uint8_t *buf, size_t len) {
    (void)u;
    for (size_t i = 0; i < len; i++) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        buf[i] = (uint8_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 56);
    }
    return SCOMO_RESULT_OK;
}

/* The Rust library calls this if its code ever panics (a bug): end the run. */
void scomo_panic(void) {
    printf("scomo panicked\n");
    exit(4);
}

/* ---- The line to the host ---- */

/* Collects a body into a buffer; refuses more than fits. */
struct collect {
    uint8_t *buf;
    size_t cap, len;
    bool overflow;
};
static int collect(void *user, const uint8_t *bytes, size_t len) {
    struct collect *c = user;
    if (c->len + len > c->cap) {
        c->overflow = true;
        return 1;
    }
    memcpy(c->buf + c->len, bytes, len);
    c->len += len;
    return 0;
}

/* One exchange whose answer's body goes into `out` (NUL-terminated); returns the HTTP status,
 * or 0 when there is no usable answer. */
static int exchange(const struct serial_request *req, const uint8_t *body, size_t len,
                    struct serial_answer *answer, uint8_t *out, size_t cap, size_t *out_len) {
    if (serial_ask(req, body, len, answer) != 0 || answer->fault) return 0;
    struct collect c = {out, cap - 1, 0, false};
    int32_t n = serial_body(collect, &c);
    if (n < 0 || c.overflow) return 0;
    out[c.len] = 0;
    if (out_len) *out_len = c.len;
    return answer->status;
}

static int control(const char *url, char *out, size_t cap) {
    struct serial_request req = {.kind = SERIAL_GET_RANGE, .url = url};
    struct serial_answer answer;
    return exchange(&req, NULL, 0, &answer, (uint8_t *)out, cap, NULL);
}

/* Feeds a fetch's body to the agent; after it says stop, the rest is dropped. */
static int feed(void *user, const uint8_t *bytes, size_t len) {
    scomo_flow flow = SCOMO_FLOW_CONTINUE;
    if (scomo_agent_fetch_body(user, bytes, len, &flow) != SCOMO_RESULT_OK) return 1;
    return flow == SCOMO_FLOW_STOP;
}

/* ---- Configuration from the host ---- */

static char config_text[512];
static struct {
    const char *server, *device, *user, *password, *server_id, *server_password;
    scomo_encoding encoding;
    scomo_auth auth;
} cfg;

static bool parse_config(void) {
    cfg.encoding = SCOMO_ENCODING_WBXML;
    cfg.auth = SCOMO_AUTH_MD5;
    for (char *line = strtok(config_text, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        const char *v = eq + 1;
        if (!strcmp(line, "server")) cfg.server = v;
        else if (!strcmp(line, "device")) cfg.device = v;
        else if (!strcmp(line, "user")) cfg.user = v;
        else if (!strcmp(line, "password")) cfg.password = v;
        else if (!strcmp(line, "server-id")) cfg.server_id = v;
        else if (!strcmp(line, "server-password")) cfg.server_password = v;
        else if (!strcmp(line, "encoding"))
            cfg.encoding = strcmp(v, "xml") ? SCOMO_ENCODING_WBXML : SCOMO_ENCODING_XML;
        else if (!strcmp(line, "auth"))
            cfg.auth = !strcmp(v, "hmac")    ? SCOMO_AUTH_HMAC
                       : !strcmp(v, "basic") ? SCOMO_AUTH_BASIC
                                             : SCOMO_AUTH_MD5;
    }
    return cfg.server && cfg.device && cfg.server_id;
}

/* ---- Stack high-water: paint once, find the deepest word overwritten ---- */

extern uint32_t _estack[];
extern char end[];
#define PAINT 0xC0DE5A5Au

static uint32_t *stack_bottom(void) {
    /* Above the heap's start; the heap (newlib's stdio buffers) is small: leave it room. */
    return (uint32_t *)((uintptr_t)(end + HEAP_RESERVE + 7) & ~(uintptr_t)7);
}
/* Bytes the stack may take before it reaches the heap's room. */
static size_t stack_room(void) { return (size_t)((char *)_estack - (char *)stack_bottom()); }
static void stack_paint(void) {
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = stack_bottom(); p < sp - 64; p++) *(volatile uint32_t *)p = PAINT;
}
static size_t stack_high_water(void) {
    uint32_t *p = stack_bottom();
    while (p < _estack && *(volatile uint32_t *)p == PAINT) p++;
    return (size_t)((char *)_estack - (char *)p);
}

/* ---- The device ---- */

static scomo_agent_storage storage; /* the agent's memory, reserved by the firmware */
static uint8_t rx[MSG_CAP];         /* the server's messages: the MaxMsgSize advertised */

struct round_stats {
    unsigned sessions, fetches;
};

static void report(unsigned boot, const struct round_stats *s, const char *error) {
    static char text[400];
    int n = snprintf(text, sizeof text, "boot=%u sessions=%u fetches=%u stack=%u installed=",
                     boot, s->sessions, s->fetches, (unsigned)stack_high_water());
    bool first = true;
    for (int i = 0; i < COMPONENTS; i++) {
        if (!keep.inv[i].used) continue;
        n += snprintf(text + n, sizeof text - (size_t)n, "%s%s@%s%c", first ? "" : ",",
                      keep.inv[i].id, keep.inv[i].version, keep.inv[i].active ? '+' : '-');
        first = false;
    }
    snprintf(text + n, sizeof text - (size_t)n, " error=%s", error ? error : "none");
    printf("%s\n", text);
    struct serial_request req = {.kind = SERIAL_POST_NOTIFY, .url = "scomo-bridge:report",
                                 .content_type = "text/plain"};
    struct serial_answer answer;
    char ignored[64];
    if (exchange(&req, (const uint8_t *)text, strlen(text), &answer, (uint8_t *)ignored,
                 sizeof ignored, NULL) != 200) {
        printf("the host did not take the report\n");
        exit(3);
    }
}

/* Runs one client-initiated session and what follows it until the agent is idle; returns
 * NULL, or what went wrong. The clock is virtual: a WAIT moves it to the wake-up time. */
static const char *session_round(scomo_agent *agent, uint64_t *clock, struct round_stats *s) {
    if (scomo_agent_request_session(agent, NULL) != SCOMO_RESULT_OK) return "no-session";
    for (int steps = 0; steps < 10000; steps++) {
        scomo_action a;
        scomo_result r = scomo_agent_poll(agent, *clock, &a);
        if (r != SCOMO_RESULT_OK) return scomo_result_name(r);
        bool first = true;
        while (r == SCOMO_RESULT_OK && a.kind == SCOMO_ACTION_SEND) {
            s->sessions += first;
            first = false;
            struct serial_request req = {.kind = SERIAL_POST_DM, .url = a.url,
                                         .content_type = a.content_type, .hmac = a.hmac};
            struct serial_answer answer;
            size_t len = 0;
            int status = exchange(&req, a.body, a.body_len, &answer, rx, sizeof rx, &len);
            if (a.last) break; /* the session's last message: no answer to give */
            if (status != 200) {
                scomo_agent_end_session(agent);
                return "dm-exchange-failed";
            }
            r = scomo_agent_dm_answer(agent, rx, len, answer.content_type,
                                      answer.hmac[0] ? answer.hmac : NULL, &a);
        }
        if (r != SCOMO_RESULT_OK) return scomo_result_name(r);
        switch (a.kind) {
        case SCOMO_ACTION_FETCH: {
            s->fetches++;
            struct serial_request req = {.kind = SERIAL_GET_RANGE, .url = a.url,
                                         .offset = (uint32_t)a.offset, .if_range = a.if_range};
            struct serial_answer answer;
            scomo_fetch_end how = SCOMO_FETCH_UNREACHABLE;
            if (serial_ask(&req, NULL, 0, &answer) == 0 && !answer.fault) {
                scomo_fetch_head head = {
                    .status = answer.status,
                    .content_type = answer.content_type[0] ? answer.content_type : NULL,
                    .content_length = answer.content_length,
                    .content_range = answer.content_range[0] ? answer.content_range : NULL,
                    .validator = answer.etag[0] ? answer.etag : NULL,
                };
                scomo_flow flow = SCOMO_FLOW_CONTINUE;
                scomo_agent_fetch_head(agent, &head, &flow);
                int32_t n = serial_body(flow == SCOMO_FLOW_STOP ? NULL : feed, agent);
                how = n < 0 ? SCOMO_FETCH_INTERRUPTED : SCOMO_FETCH_DONE;
            }
            if (scomo_agent_fetch_end(agent, how) != SCOMO_RESULT_OK) return "fetch-end";
            break;
        }
        case SCOMO_ACTION_POST_NOTIFY: {
            struct serial_request req = {.kind = SERIAL_POST_NOTIFY, .url = a.url,
                                         .content_type = "text/plain"};
            struct serial_answer answer;
            char ignored[64];
            int status = exchange(&req, a.body, a.body_len, &answer, (uint8_t *)ignored,
                                  sizeof ignored, NULL);
            scomo_agent_notify_done(agent, status >= 200 && status < 300);
            break;
        }
        case SCOMO_ACTION_WAIT:
            if (a.wait_until_ms > *clock) *clock = a.wait_until_ms;
            break;
        case SCOMO_ACTION_IDLE: return NULL;
        case SCOMO_ACTION_RESTART: return "restart-asked";
        default: break; /* SESSION_ENDED: poll again */
        }
    }
    return "too-many-steps";
}

int main(void) {
    stack_paint();
    uart_init();
    bool warm = keep.magic == WARM;
    nor_attach((uint8_t *)keep.nor, sizeof keep.nor, &keep.nor_violations);
    if (!warm) {
        memset(&keep, 0, offsetof(struct kept, nor));
        nor_erase_all(); /* a blank chip */
        keep.magic = WARM;
    }
    unsigned boot = ++keep.boots;
    rng_state ^= boot;
    printf("seed-flows (C) on " BOARD_NAME ", boot %u: NOR flash %s; agent storage %u B "
           "(%u B used), NOR %u B (%u B package slots, %u B state banks), stack room %u B\n",
           boot, warm ? "kept across the reset" : "blank", (unsigned)sizeof storage,
           (unsigned)scomo_agent_storage_size(), (unsigned)sizeof keep.nor,
           (unsigned)(SLOTS * SLOT_PAGES * NOR_PAGE), (unsigned)(2 * BANK_PAGES * NOR_PAGE),
           (unsigned)stack_room());

    if (control("scomo-bridge:config", config_text, sizeof config_text) != 200 ||
        !parse_config()) {
        printf("no configuration from the host\n");
        return 3;
    }
    scomo_platform platform = {
        .installer = {.install = install, .activate = activate, .deactivate = deactivate,
                      .remove = uninstall},
        .random = {.fill = random_fill},
    };
    struct stores_layout layout = {.slots = SLOTS, .slot_pages = SLOT_PAGES,
                                   .bank_pages = BANK_PAGES, .max_record = SCOMO_SCRATCH_CAP};
    if (!stores_init(&layout, &platform.components, &platform.state)) {
        printf("the stores do not fit the NOR flash\n");
        return 3;
    }
    scomo_config config = {
        .server_uri = cfg.server, .server_id = cfg.server_id, .device_id = cfg.device,
        .model = BOARD_NAME " (C)", .encoding = cfg.encoding, .client_auth = cfg.auth,
        .client_user = cfg.user, .client_password = cfg.password,
        .server_auth = cfg.auth == SCOMO_AUTH_HMAC ? SCOMO_AUTH_HMAC : SCOMO_AUTH_MD5,
        .server_password = cfg.server_password, .max_msg_size = sizeof rx,
        .retry_delay_ms = 1000,
    };
    scomo_agent *agent = NULL;
    scomo_result r = scomo_agent_init(&storage, sizeof storage, &platform, &agent);
    if (r == SCOMO_RESULT_OK) r = scomo_agent_configure(agent, &config); /* recovers */
    if (r != SCOMO_RESULT_OK) {
        printf("the agent does not start: %s\n", scomo_result_name(r));
        return 3;
    }
    size_t boot_stack = stack_high_water();
    printf("agent started; %u B of stack used to start it\n", (unsigned)boot_stack);
    if (boot_stack + 64 >= stack_room()) {
        printf("the stack overflowed while starting the agent\n");
        return 5;
    }
    stack_paint(); /* from here on the high-water mark is the flows' */

    uint64_t clock = 0;
    unsigned errors = 0;
    struct round_stats none = {0, 0};
    if (warm) report(boot, &none, NULL); /* the round that asked for the reset */
    for (;;) {
        char next[16];
        if (control("scomo-bridge:next", next, sizeof next) != 200) {
            printf("no next step from the host\n");
            return 3;
        }
        if (!strcmp(next, "done")) break;
        if (!strcmp(next, "reboot")) {
            printf("reset requested: the stores stay, everything else starts over\n");
            *(volatile uint32_t *)0xE000ED0Cu = 0x05FA0004u; /* AIRCR: SYSRESETREQ */
            for (;;) {
            }
        }
        struct round_stats s = {0, 0};
        const char *error =
            strcmp(next, "session") ? "unknown-step" : session_round(agent, &clock, &s);
        errors += error != NULL;
        report(boot, &s, error);
    }
    printf("seed-flows (C): done, %u round(s) with errors, %u NOR flash violation(s); stack "
           "high-water %u B during the flows, %u B to start the agent\n",
           errors, (unsigned)nor_violations(), (unsigned)stack_high_water(),
           (unsigned)boot_stack);
    scomo_agent_release(agent);
    return errors ? 1 : nor_violations() ? 2 : 0;
}
