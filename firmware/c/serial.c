/* serial.c: the device side of the serial framing (see serial.h). */
#include "serial.h"

#include <string.h>

#include "uart.h"

#define SYNC 0xA5

enum {
    TAG_URL = 1,
    TAG_CONTENT_TYPE = 2,
    TAG_HMAC = 3,
    TAG_OFFSET = 4,
    TAG_IF_RANGE = 6,
    TAG_MAX_CHUNK = 7,
    TAG_STATUS = 8,
    TAG_ETAG = 9,
    TAG_CONTENT_RANGE = 10,
    TAG_CONTENT_LENGTH = 11,
};

/* CRC-16/IBM-3740 (CCITT-FALSE): polynomial 0x1021, initial 0xFFFF, not reflected. */
static uint16_t crc16(uint16_t crc, const uint8_t *p, size_t n) {
    while (n--) {
        crc ^= (uint16_t)(*p++ << 8);
        for (int i = 0; i < 8; i++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static void write_frame(uint8_t kind, const uint8_t *payload, size_t len) {
    uint8_t head[4] = {SYNC, kind, (uint8_t)(len >> 8), (uint8_t)len};
    uint16_t crc = crc16(0xFFFF, head + 1, 3);
    crc = crc16(crc, payload, len);
    uint8_t tail[2] = {(uint8_t)(crc >> 8), (uint8_t)crc};
    uart_write(head, 4);
    uart_write(payload, len);
    uart_write(tail, 2);
}

/* Reads one frame into `buf` (SERIAL_MAX_PAYLOAD bytes); returns its kind, or -1 for a
 * frame that is too long or fails its CRC. Bytes before a SYNC are skipped. */
static int read_frame(uint8_t *buf, size_t *len) {
    while (uart_getc() != SYNC) {
    }
    uint8_t head[3];
    uart_read(head, 3);
    size_t n = (size_t)head[1] << 8 | head[2];
    if (n > SERIAL_MAX_PAYLOAD) return -1;
    uart_read(buf, n);
    uint8_t tail[2];
    uart_read(tail, 2);
    uint16_t crc = crc16(crc16(0xFFFF, head, 3), buf, n);
    if (crc != ((uint16_t)tail[0] << 8 | tail[1])) return -1;
    *len = n;
    return head[0];
}

/* A head being built: fields appended while they fit. */
struct head {
    uint8_t bytes[SERIAL_MAX_PAYLOAD];
    size_t len;
    int full;
};

static void put(struct head *h, uint8_t tag, const void *value, size_t len) {
    if (h->full || h->len + 3 + len > sizeof h->bytes) {
        h->full = 1;
        return;
    }
    h->bytes[h->len] = tag;
    h->bytes[h->len + 1] = (uint8_t)(len >> 8);
    h->bytes[h->len + 2] = (uint8_t)len;
    memcpy(h->bytes + h->len + 3, value, len);
    h->len += 3 + len;
}

static void put_text(struct head *h, uint8_t tag, const char *s) {
    if (s) put(h, tag, s, strlen(s));
}

static uint32_t be(const uint8_t *p, size_t n) {
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

static void copy_text(char *to, const uint8_t *from, size_t n) {
    if (n >= SERIAL_TEXT_CAP) n = SERIAL_TEXT_CAP - 1;
    memcpy(to, from, n);
    to[n] = 0;
}

int serial_ask(const struct serial_request *req, const uint8_t *body, size_t len,
               struct serial_answer *answer) {
    static struct head h;
    h.len = 0;
    h.full = 0;
    put_text(&h, TAG_URL, req->url);
    if (req->kind == SERIAL_GET_RANGE) {
        uint8_t off[4] = {(uint8_t)(req->offset >> 24), (uint8_t)(req->offset >> 16),
                          (uint8_t)(req->offset >> 8), (uint8_t)req->offset};
        put(&h, TAG_OFFSET, off, 4);
        put_text(&h, TAG_IF_RANGE, req->if_range);
    } else {
        put_text(&h, TAG_CONTENT_TYPE, req->content_type);
        put_text(&h, TAG_HMAC, req->hmac);
    }
    uint8_t chunk[2] = {(uint8_t)(SERIAL_CHUNK >> 8), (uint8_t)SERIAL_CHUNK};
    put(&h, TAG_MAX_CHUNK, chunk, 2);
    if (h.full) return -1;
    write_frame((uint8_t)req->kind, h.bytes, h.len);
    for (size_t off = 0; off < len; off += SERIAL_CHUNK) {
        size_t n = len - off < SERIAL_CHUNK ? len - off : SERIAL_CHUNK;
        write_frame(SERIAL_DATA, body + off, n);
    }
    uint8_t total[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                        (uint8_t)len};
    write_frame(SERIAL_END, total, 4);

    memset(answer, 0, sizeof *answer);
    answer->content_length = -1;
    size_t n = 0;
    int kind = read_frame(h.bytes, &n);
    if (kind == SERIAL_FAULT && n == 1) {
        answer->fault = h.bytes[0];
        return 0;
    }
    if (kind != SERIAL_RESPONSE) return -1;
    int status = 0;
    for (size_t at = 0; at + 3 <= n;) {
        uint8_t tag = h.bytes[at];
        size_t flen = (size_t)h.bytes[at + 1] << 8 | h.bytes[at + 2];
        const uint8_t *v = h.bytes + at + 3;
        if (at + 3 + flen > n) return -1;
        switch (tag) {
        case TAG_STATUS:
            if (flen != 2) return -1;
            answer->status = (uint16_t)be(v, 2);
            status = 1;
            break;
        case TAG_CONTENT_TYPE: copy_text(answer->content_type, v, flen); break;
        case TAG_HMAC: copy_text(answer->hmac, v, flen); break;
        case TAG_ETAG: copy_text(answer->etag, v, flen); break;
        case TAG_CONTENT_RANGE: copy_text(answer->content_range, v, flen); break;
        case TAG_CONTENT_LENGTH:
            if (flen != 4) return -1;
            answer->content_length = be(v, 4);
            break;
        default: break; /* unknown tags are skipped */
        }
        at += 3 + flen;
    }
    return status ? 0 : -1;
}

int32_t serial_body(serial_sink sink, void *user) {
    static uint8_t buf[SERIAL_MAX_PAYLOAD];
    uint32_t received = 0;
    int stopped = 0, damaged = 0;
    for (;;) {
        size_t n = 0;
        int kind = read_frame(buf, &n);
        if (kind == SERIAL_DATA) {
            received += (uint32_t)n;
            if (!stopped && (!sink || sink(user, buf, n) != 0)) stopped = 1;
        } else if (kind == SERIAL_END && n == 4) {
            return damaged || be(buf, 4) != received ? -1 : (int32_t)received;
        } else if (kind < 0) {
            damaged = 1; /* a damaged chunk: the body is lost, read on to its end */
        } else {
            return -1;
        }
    }
}
