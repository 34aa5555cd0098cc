/* stores.c: the component store and the state store of scomo.h on emulated NOR flash.
 *
 * Component store: key k owns slot k, `slot_pages` pages from address k * slot_pages * PAGE.
 * The slot's first page is its meta page; package offset x lives at x in the data pages
 * that follow. Meta page, in 4-byte words:
 *
 *   word 0      "SCPK" (begin magic)         \ the begin record, programmed by `begin`
 *   word 1      declared size                 | (after the erase of the meta page); a slot
 *   word 2      CRC-32 of words 0-1           / whose record fails its CRC holds nothing
 *   word 3      commit word: erased = partial, else the package's length (`commit`)
 *   word 4 + p  progress marker of data page p: programmed (0) once page p is full
 *
 * `write` programs whole words as bytes arrive (the last 0-3 bytes wait in RAM); a data
 * page is erased just before its first word, and its marker programmed after its last. The
 * durable length is the number of leading programmed markers in pages; `resume` after a
 * reset continues there (the next word programmed erases that page again). `commit`
 * programs the waiting bytes (padded with 0xFF), then the commit word: one word program,
 * so the package is complete or still partial (a word program is taken as atomic). `abort`
 * and `remove` (and `begin`, before its record) clear word 0 and then erase the meta page:
 * once word 0 is cleared the slot holds nothing, even if a cut leaves the erase half done;
 * the data pages are erased again as they are reused.
 *
 * State store: two banks of `bank_pages` pages after the slots, each a whole snapshot of
 * all records:
 *
 *   bytes 0-15  header: "SCST", sequence number, bytes of records, CRC-32 of the sequence
 *               number, that length and the records
 *   bytes 16-   records, each: id (u16) and length (u16) in one word, then the bytes,
 *               padded with 0xFF to a whole word
 *
 * The valid bank (magic and CRC right) with the higher sequence number is the current one.
 * `write` and `remove` erase the other bank, program the current records but the one
 * changed, then the new record, then the header last: until the header's last word is
 * programmed the old bank is current, afterwards the new one, so after a cut each record
 * reads back as before the call or as the call left it. */
#include "stores.h"

#include <string.h>

#define SLOT_MAGIC 0x4B504353u /* "SCPK" */
#define BANK_MAGIC 0x54534353u /* "SCST" */
#define ERASED 0xFFFFFFFFu
#define META_WORDS 4u /* begin record and commit word, before the markers */

static struct stores_layout layout;

static uint32_t crc32(uint32_t crc, const uint8_t *bytes, size_t len) {
    crc = ~crc;
    while (len--) {
        crc ^= *bytes++;
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1u));
    }
    return ~crc;
}

static uint32_t round_word(size_t n) {
    return (uint32_t)((n + NOR_WORD - 1) & ~(NOR_WORD - 1));
}

/* ---- Component store ---- */

/* A package being written since the store started (RAM only: lost in a reset). */
static struct writer {
    bool live;
    uint32_t declared, written; /* bytes taken; all but the last written % 4 programmed */
    uint8_t tail[NOR_WORD];     /* those last bytes */
} writers[STORES_MAX_SLOTS];

/* What a slot's meta page says. */
struct meta {
    scomo_package_state state;
    uint32_t declared, len, durable;
};

static uint32_t data_pages(void) { return layout.slot_pages - 1; }
static uint32_t meta_addr(uint16_t k) { return (uint32_t)k * layout.slot_pages * NOR_PAGE; }
static uint32_t data_addr(uint16_t k) { return meta_addr(k) + NOR_PAGE; }
static uint32_t marker_addr(uint16_t k, uint32_t page) {
    return meta_addr(k) + (META_WORDS + page) * NOR_WORD;
}

static struct meta meta_of(uint16_t k) {
    struct meta m = {SCOMO_PACKAGE_NONE, 0, 0, 0};
    const uint8_t *begin = nor_read(meta_addr(k), 3 * NOR_WORD);
    if (!begin || nor_word(meta_addr(k)) != SLOT_MAGIC ||
        nor_word(meta_addr(k) + 8) != crc32(0, begin, 2 * NOR_WORD))
        return m;
    m.declared = nor_word(meta_addr(k) + 4);
    uint32_t commit = nor_word(meta_addr(k) + 12);
    if (commit != ERASED) {
        m.state = SCOMO_PACKAGE_COMPLETE;
        m.len = m.durable = commit;
        return m;
    }
    /* Leading full pages, and no more than the declared size holds (the padding `commit`
     * programs may fill the last page when the commit word is not programmed yet). */
    uint32_t full = 0;
    while (full < m.declared / NOR_PAGE && nor_word(marker_addr(k, full)) != ERASED) full++;
    m.state = SCOMO_PACKAGE_PARTIAL;
    m.len = m.durable = full * NOR_PAGE;
    return m;
}

/* Programs the word of package offset `at` (a multiple of 4): erases its page first when
 * it is the page's first word, marks the page full after its last. */
static bool program_data(uint16_t k, uint32_t at, const uint8_t *word) {
    uint32_t page = at / NOR_PAGE;
    if (at % NOR_PAGE == 0 && !nor_erase(data_addr(k) + at)) return false;
    if (!nor_program(data_addr(k) + at, word, NOR_WORD)) return false;
    return (at + NOR_WORD) % NOR_PAGE || nor_program_word(marker_addr(k, page), 0);
}

/* The writer of partial package `k`; after a reset, one that continues at the durable
 * length. NULL when the key holds no partial package. */
static struct writer *writer_of(uint16_t k) {
    struct writer *w = &writers[k];
    if (w->live) return w;
    struct meta m = meta_of(k);
    if (m.state != SCOMO_PACKAGE_PARTIAL) return NULL;
    *w = (struct writer){.live = true, .declared = m.declared, .written = m.durable};
    return w;
}

/* Empties slot `k`: clears its begin magic (the slot holds nothing from then on, whatever
 * a cut leaves of the erase), then erases the meta page. */
static bool empty_slot(uint16_t k) {
    writers[k].live = false;
    if (nor_word(meta_addr(k)) != ERASED && !nor_program_word(meta_addr(k), 0)) return false;
    return nor_erase(meta_addr(k));
}

static scomo_result cs_begin(void *u, uint16_t k, uint64_t declared) {
    (void)u;
    if (k >= layout.slots) return SCOMO_RESULT_INVALID_KEY;
    if (declared > (uint64_t)data_pages() * NOR_PAGE) return SCOMO_RESULT_TOO_LARGE;
    uint32_t record[3] = {SLOT_MAGIC, (uint32_t)declared, 0};
    record[2] = crc32(0, (const uint8_t *)record, 2 * NOR_WORD);
    if (!empty_slot(k) || !nor_program(meta_addr(k), record, sizeof record))
        return SCOMO_RESULT_IO;
    writers[k] = (struct writer){.live = true, .declared = (uint32_t)declared};
    return SCOMO_RESULT_OK;
}

static scomo_result cs_write(void *u, uint16_t k, uint64_t off, const uint8_t *d, size_t n,
                             uint64_t *durable) {
    (void)u;
    if (k >= layout.slots) return SCOMO_RESULT_INVALID_KEY;
    struct writer *w = writer_of(k);
    if (!w || off != w->written) return SCOMO_RESULT_WRONG_STATE;
    if (off + n > w->declared) return SCOMO_RESULT_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        w->tail[w->written % NOR_WORD] = d[i];
        if (++w->written % NOR_WORD == 0 && !program_data(k, w->written - NOR_WORD, w->tail)) {
            w->live = false;
            return SCOMO_RESULT_IO;
        }
    }
    *durable = w->written / NOR_PAGE * NOR_PAGE; /* every full page has its marker */
    return SCOMO_RESULT_OK;
}

static scomo_result cs_commit(void *u, uint16_t k, uint64_t len) {
    (void)u;
    if (k >= layout.slots) return SCOMO_RESULT_INVALID_KEY;
    struct writer *w = writer_of(k);
    if (!w || len > w->written) return SCOMO_RESULT_WRONG_STATE;
    uint32_t rest = w->written % NOR_WORD;
    if (rest) {
        memset(w->tail + rest, 0xFF, NOR_WORD - rest);
        if (!program_data(k, w->written - rest, w->tail)) return SCOMO_RESULT_IO;
    }
    w->live = false;
    return nor_program_word(meta_addr(k) + 12, (uint32_t)len) ? SCOMO_RESULT_OK
                                                                : SCOMO_RESULT_IO;
}

static scomo_result cs_remove(void *u, uint16_t k) {
    (void)u;
    if (k >= layout.slots) return SCOMO_RESULT_INVALID_KEY;
    return empty_slot(k) ? SCOMO_RESULT_OK : SCOMO_RESULT_IO;
}

static scomo_result cs_inspect(void *u, uint16_t k, scomo_package_info *i) {
    (void)u;
    if (k >= layout.slots) return SCOMO_RESULT_INVALID_KEY;
    struct meta m = meta_of(k);
    *i = (scomo_package_info){m.state, m.declared, m.len, m.durable};
    return SCOMO_RESULT_OK;
}

static scomo_result cs_resume(void *u, uint16_t k, scomo_package_info *i) {
    scomo_result r = cs_inspect(u, k, i);
    if (r != SCOMO_RESULT_OK) return r;
    if (i->state == SCOMO_PACKAGE_NONE) return SCOMO_RESULT_NOT_FOUND;
    if (i->state == SCOMO_PACKAGE_COMPLETE) return SCOMO_RESULT_WRONG_STATE;
    struct writer *w = writer_of(k);
    if (!w) return SCOMO_RESULT_CORRUPTED;
    i->len = w->written; /* exact when written since the start, else the durable length */
    return SCOMO_RESULT_OK;
}

static scomo_result cs_read(void *u, uint16_t k, uint64_t off, uint8_t *buf, size_t cap,
                            size_t *n) {
    (void)u;
    if (k >= layout.slots) return SCOMO_RESULT_INVALID_KEY;
    struct meta m = meta_of(k); /* readable: all of a complete package, durable of a partial */
    uint64_t left = off < m.durable ? m.durable - off : 0;
    *n = left < cap ? (size_t)left : cap;
    if (*n == 0) return SCOMO_RESULT_OK;
    const uint8_t *from = nor_read(data_addr(k) + (uint32_t)off, *n);
    if (!from) return SCOMO_RESULT_IO;
    memcpy(buf, from, *n);
    return SCOMO_RESULT_OK;
}

/* ---- State store ---- */

struct bank {
    uint32_t addr, seq, len; /* len: bytes of records after the header */
};

static uint32_t bank_size(void) { return layout.bank_pages * NOR_PAGE; }
static uint32_t bank_addr(int b) {
    return (uint32_t)layout.slots * layout.slot_pages * NOR_PAGE + (uint32_t)b * bank_size();
}

/* CRC-32 of a bank's sequence number, length and records. */
static uint32_t bank_crc(uint32_t addr, uint32_t seq, uint32_t len) {
    uint32_t crc = crc32(0, (const uint8_t *)&seq, 4);
    crc = crc32(crc, (const uint8_t *)&len, 4);
    return crc32(crc, nor_read(addr + STORES_BANK_HEADER, len), len);
}

/* Whether bank `b` holds a valid snapshot; fills `*bank`. */
static bool bank_valid(int b, struct bank *bank) {
    uint32_t addr = bank_addr(b);
    bank->addr = addr;
    bank->seq = nor_word(addr + 4);
    bank->len = nor_word(addr + 8);
    return nor_word(addr) == BANK_MAGIC && bank->len <= bank_size() - STORES_BANK_HEADER &&
           nor_word(addr + 12) == bank_crc(addr, bank->seq, bank->len);
}

/* The current bank, found on the chip at the first use after a start, then kept. */
static struct {
    bool known, any;
    struct bank bank;
} cur;

/* The current bank; false when neither is valid (no records yet). */
static bool current(struct bank *bank) {
    if (!cur.known) {
        struct bank b0, b1;
        bool v0 = bank_valid(0, &b0), v1 = bank_valid(1, &b1);
        cur.any = v0 || v1;
        cur.bank = v0 && (!v1 || b0.seq > b1.seq) ? b0 : b1;
        cur.known = true;
    }
    *bank = cur.bank;
    return cur.any;
}

/* Walks the records of `bank`: the record at `*at` (start with 0); false at the end. */
static bool record_at(const struct bank *bank, uint32_t *at, uint16_t *id, uint32_t *len,
                      uint32_t *addr) {
    if (*at + STORES_RECORD_HEADER > bank->len) return false;
    uint32_t head = nor_word(bank->addr + STORES_BANK_HEADER + *at);
    *id = (uint16_t)head;
    *len = head >> 16;
    *addr = bank->addr + STORES_BANK_HEADER + *at + STORES_RECORD_HEADER;
    *at += STORES_RECORD_HEADER + round_word(*len);
    return *at <= bank->len;
}

static bool find(uint16_t want, uint32_t *addr, uint32_t *len) {
    struct bank bank;
    uint16_t id;
    if (!current(&bank)) return false;
    for (uint32_t at = 0; record_at(&bank, &at, &id, len, addr);)
        if (id == want) return true;
    return false;
}

/* Writes the other bank: every current record but `id`, then `id` with `len` bytes when
 * `put`, then the header. */
static scomo_result rewrite(uint16_t id, bool put, const uint8_t *bytes, size_t len) {
    struct bank old = {0, 0, 0}, bank;
    bool had = current(&old);
    uint32_t need = put ? STORES_RECORD_HEADER + round_word(len) : 0;
    uint16_t rid;
    uint32_t rlen, raddr;
    for (uint32_t at = 0; had && record_at(&old, &at, &rid, &rlen, &raddr);)
        if (rid != id) need += STORES_RECORD_HEADER + round_word(rlen);
    if (need > bank_size() - STORES_BANK_HEADER) return SCOMO_RESULT_NO_SPACE;

    int to = had && old.addr == bank_addr(0) ? 1 : 0;
    bank.addr = bank_addr(to);
    for (uint32_t p = 0; p < layout.bank_pages; p++)
        if (!nor_erase(bank.addr + p * NOR_PAGE)) return SCOMO_RESULT_IO;
    uint32_t to_addr = bank.addr + STORES_BANK_HEADER;
    for (uint32_t at = 0; had && record_at(&old, &at, &rid, &rlen, &raddr);) {
        uint32_t size = STORES_RECORD_HEADER + round_word(rlen);
        if (rid == id) continue;
        if (!nor_program(to_addr, nor_read(raddr - STORES_RECORD_HEADER, size), size))
            return SCOMO_RESULT_IO;
        to_addr += size;
    }
    if (put) {
        uint32_t whole = (uint32_t)len / NOR_WORD * NOR_WORD, last = ERASED;
        if (len > whole) memcpy(&last, bytes + whole, len - whole);
        if (!nor_program_word(to_addr, id | (uint32_t)len << 16) ||
            !nor_program(to_addr + STORES_RECORD_HEADER, bytes, whole) ||
            (len > whole && !nor_program_word(to_addr + STORES_RECORD_HEADER + whole, last)))
            return SCOMO_RESULT_IO;
        to_addr += STORES_RECORD_HEADER + round_word(len);
    }
    bank.seq = had ? old.seq + 1 : 1;
    bank.len = to_addr - bank.addr - STORES_BANK_HEADER;
    uint32_t header[4] = {BANK_MAGIC, bank.seq, bank.len,
                          bank_crc(bank.addr, bank.seq, bank.len)};
    if (!nor_program(bank.addr, header, sizeof header)) return SCOMO_RESULT_IO;
    cur.any = true;
    cur.bank = bank;
    return SCOMO_RESULT_OK;
}

static scomo_result ss_read(void *u, uint16_t id, uint8_t *buf, size_t cap, size_t *len) {
    (void)u;
    uint32_t addr, rlen;
    if (!find(id, &addr, &rlen)) return SCOMO_RESULT_NOT_FOUND;
    if (rlen > cap) return SCOMO_RESULT_BUFFER_TOO_SMALL;
    memcpy(buf, nor_read(addr, rlen), rlen);
    *len = rlen;
    return SCOMO_RESULT_OK;
}

static scomo_result ss_write(void *u, uint16_t id, const uint8_t *b, size_t len) {
    (void)u;
    if (len > layout.max_record) return SCOMO_RESULT_TOO_LARGE;
    return rewrite(id, true, b, len);
}

static scomo_result ss_remove(void *u, uint16_t id) {
    (void)u;
    uint32_t addr, len;
    return find(id, &addr, &len) ? rewrite(id, false, NULL, 0) : SCOMO_RESULT_OK;
}

static scomo_result ss_next(void *u, const uint16_t *after, uint16_t *next) {
    (void)u;
    struct bank bank;
    uint16_t id;
    uint32_t len, addr;
    int32_t best = -1;
    if (!current(&bank)) return SCOMO_RESULT_NOT_FOUND;
    for (uint32_t at = 0; record_at(&bank, &at, &id, &len, &addr);)
        if ((!after || id > *after) && (best < 0 || id < best)) best = id;
    if (best < 0) return SCOMO_RESULT_NOT_FOUND;
    *next = (uint16_t)best;
    return SCOMO_RESULT_OK;
}

bool stores_init(const struct stores_layout *l, scomo_component_store *components,
                 scomo_state_store *state) {
    uint32_t size = STORES_NOR_SIZE(l->slots, l->slot_pages, l->bank_pages);
    if (l->slots == 0 || l->slots > STORES_MAX_SLOTS || l->slot_pages < 2 ||
        (META_WORDS + l->slot_pages - 1) * NOR_WORD > NOR_PAGE ||
        l->max_record > 0xFFFF ||
        STORES_BANK_HEADER + STORES_RECORD_HEADER + round_word(l->max_record) >
            l->bank_pages * NOR_PAGE ||
        !nor_read(0, size))
        return false;
    layout = *l;
    *components = (scomo_component_store){
        .slots = l->slots, .slot_capacity = (uint64_t)data_pages() * NOR_PAGE,
        .begin = cs_begin, .write = cs_write, .commit = cs_commit, .abort = cs_remove,
        .resume = cs_resume, .read = cs_read, .inspect = cs_inspect, .remove = cs_remove};
    *state = (scomo_state_store){.max_record_len = l->max_record, .read = ss_read,
                                 .write = ss_write, .remove = ss_remove, .next = ss_next};
    return true;
}
