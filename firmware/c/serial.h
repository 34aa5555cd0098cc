/* serial.h: the device side of the serial framing of `scomo::drivers::serial` (the Rust
 * crate's module documentation is the specification): requests out, answers in, over UART0.
 * One exchange at a time; every function blocks until it is done. */
#ifndef SERIAL_H
#define SERIAL_H

#include <stddef.h>
#include <stdint.h>

/* Frame kinds. */
enum {
    SERIAL_POST_DM = 0x01,
    SERIAL_GET_RANGE = 0x02,
    SERIAL_POST_NOTIFY = 0x03,
    SERIAL_DATA = 0x10,
    SERIAL_END = 0x11,
    SERIAL_RESPONSE = 0x81,
    SERIAL_FAULT = 0x82,
};

/* The largest payload of one frame. */
#define SERIAL_MAX_PAYLOAD 1024
/* The largest body chunk this device takes (announced as its max chunk). */
#define SERIAL_CHUNK 512
/* Longest header value kept from an answer. */
#define SERIAL_TEXT_CAP 192

/* A request. Strings are NUL-terminated; NULL for an absent optional field. */
struct serial_request {
    int kind;                 /* SERIAL_POST_DM, SERIAL_GET_RANGE or SERIAL_POST_NOTIFY */
    const char *url;
    const char *content_type; /* POST_DM, POST_NOTIFY */
    const char *hmac;         /* POST_DM */
    uint32_t offset;          /* GET_RANGE */
    const char *if_range;     /* GET_RANGE */
};

/* The head of an answer: the HTTP status and headers (empty strings when absent), or a fault. */
struct serial_answer {
    int fault;                /* 0: a response; else the bridge's fault code */
    uint16_t status;
    char content_type[SERIAL_TEXT_CAP];
    char hmac[SERIAL_TEXT_CAP];
    char etag[SERIAL_TEXT_CAP];
    char content_range[SERIAL_TEXT_CAP];
    int64_t content_length;   /* -1 when absent */
};

/* Receives body bytes as they arrive; returns 0 to go on, anything else to drop the rest. */
typedef int (*serial_sink)(void *user, const uint8_t *bytes, size_t len);

/* Sends `req` with `body` and reads the answer's head into `*answer`. Returns 0, or -1 when
 * the line failed (then the stream may be out of step). */
int serial_ask(const struct serial_request *req, const uint8_t *body, size_t len,
               struct serial_answer *answer);

/* Reads the answer's body (after a response, not after a fault), giving it to `sink` chunk
 * by chunk; after the sink says stop (or with a NULL sink), the rest is read and dropped.
 * Returns the body's length, or -1 when a frame was damaged or the lengths disagree (the
 * body was read to its end). */
int32_t serial_body(serial_sink sink, void *user);

#endif
