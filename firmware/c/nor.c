/* nor.c: NOR flash emulated in RAM (see nor.h for the rules it enforces). */
#include "nor.h"

#include <string.h>

static struct {
    uint8_t *bytes;
    uint32_t size;
    uint32_t *violations;
} chip;

void nor_attach(uint8_t *bytes, uint32_t size, uint32_t *violations) {
    chip.bytes = bytes;
    chip.size = size - size % NOR_PAGE;
    chip.violations = violations;
}

static bool refuse(void) {
    ++*chip.violations;
    return false;
}

/* `len` bytes at `addr` lie inside the chip. */
static bool inside(uint32_t addr, size_t len) {
    return addr <= chip.size && len <= chip.size - addr;
}

void nor_erase_all(void) { memset(chip.bytes, 0xFF, chip.size); }

bool nor_erase(uint32_t addr) {
    if (addr % NOR_PAGE || !inside(addr, NOR_PAGE)) return refuse();
    memset(chip.bytes + addr, 0xFF, NOR_PAGE);
    return true;
}

bool nor_program(uint32_t addr, const void *src, size_t len) {
    const uint8_t *from = src;
    if (addr % NOR_WORD || len % NOR_WORD || !inside(addr, len)) return refuse();
    uint8_t *cells = chip.bytes + addr;
    for (size_t i = 0; i < len; i++)
        if (from[i] & ~cells[i]) return refuse(); /* would set a bit that is 0 */
    for (size_t i = 0; i < len; i++) cells[i] &= from[i];
    return true;
}

bool nor_program_word(uint32_t addr, uint32_t word) { return nor_program(addr, &word, 4); }

const uint8_t *nor_read(uint32_t addr, size_t len) {
    if (!inside(addr, len)) {
        refuse();
        return NULL;
    }
    return chip.bytes + addr;
}

uint32_t nor_word(uint32_t addr) {
    uint32_t word = 0xFFFFFFFFu;
    if (addr % NOR_WORD || !inside(addr, NOR_WORD)) refuse();
    else memcpy(&word, chip.bytes + addr, NOR_WORD);
    return word;
}

uint32_t nor_violations(void) { return *chip.violations; }
