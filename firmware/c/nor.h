/* nor.h: NOR flash emulated in RAM, with the rules of real NOR flash.
 *
 * - Erase works on whole pages of NOR_PAGE bytes and sets every byte to 0xFF.
 * - Programming works on whole 4-byte words at 4-byte-aligned addresses and only clears
 *   bits: a program that would turn a 0 bit into a 1 fails (programming 0xFF over anything,
 *   or the same value again, is allowed, as NOR flash allows it).
 * - Reads are free: any address, any length, straight from memory.
 *
 * A refused call (misaligned, outside the chip, or setting a bit) changes nothing, returns
 * false and counts one violation. The chip is the caller's buffer: in `.noinit`, which the
 * startup code does not zero, it keeps its content across a system reset like real flash. */
#ifndef NOR_H
#define NOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOR_PAGE 1024u /* erase unit, bytes */
#define NOR_WORD 4u    /* program unit, bytes */

/* Uses `size` bytes (whole pages) at `bytes` (4-byte aligned) as the chip; refused calls are
 * counted in `*violations` (keep it where it survives a reset too). Changes no content. */
void nor_attach(uint8_t *bytes, uint32_t size, uint32_t *violations);
/* Erases the whole chip (a blank device). */
void nor_erase_all(void);
/* Erases the page starting at `addr`. */
bool nor_erase(uint32_t addr);
/* Programs `len` bytes (whole words) from `src` at `addr`. */
bool nor_program(uint32_t addr, const void *src, size_t len);
/* Programs one word (native byte order, as a read of `nor_word` returns it). */
bool nor_program_word(uint32_t addr, uint32_t word);
/* Where `len` bytes at `addr` can be read; NULL (and a violation) when outside the chip. */
const uint8_t *nor_read(uint32_t addr, size_t len);
/* The aligned word at `addr` (0xFFFFFFFF, and a violation, when outside or misaligned). */
uint32_t nor_word(uint32_t addr);
/* Refused calls so far. */
uint32_t nor_violations(void);

#endif
