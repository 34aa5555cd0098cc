/* uart_pl011.c: the PL011 UART0 of lm3s6965evb (at 0x4000C000), polled (register level, no
 * vendor headers). The same interface as uart_cmsdk.c. */
#include "uart.h"

#define REG(off) (*(volatile uint32_t *)(0x4000C000u + (off)))
#define DR 0x000u
#define FR 0x018u
#define IBRD 0x024u
#define FBRD 0x028u
#define LCR_H 0x02Cu
#define CR 0x030u
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)

void uart_init(void) {
    REG(CR) = 0;
    /* 115200 baud from the 12 MHz clock: 12e6 / (16 * 115200) = 6.51 -> 6 + 33/64. */
    REG(IBRD) = 6;
    REG(FBRD) = 33;
    REG(LCR_H) = (3u << 5) | (1u << 4); /* 8 bits, FIFOs on */
    REG(CR) = (1u << 0) | (1u << 8) | (1u << 9); /* UARTEN | TXE | RXE */
}

uint8_t uart_getc(void) {
    while (REG(FR) & FR_RXFE) {
    }
    return (uint8_t)REG(DR);
}

void uart_read(uint8_t *p, size_t n) {
    while (n--) *p++ = uart_getc();
}

void uart_write(const uint8_t *p, size_t n) {
    while (n--) {
        while (REG(FR) & FR_TXFF) {
        }
        REG(DR) = *p++;
    }
}
