/* uart_cmsdk.c: the CMSDK APB UART0 of mps2-an386, polled (register level, no vendor
 * headers). The same interface as uart_pl011.c. */
#include "uart.h"

#define REG(off) (*(volatile uint32_t *)(0x40004000u + (off)))
#define DATA 0x00u
#define STATE 0x04u
#define CTRL 0x08u
#define BAUDDIV 0x10u
#define STATE_TXFULL (1u << 0)
#define STATE_RXFULL (1u << 1)

void uart_init(void) {
    REG(CTRL) = 0;
    REG(BAUDDIV) = 25000000u / 115200u; /* >= 16, or QEMU logs a guest error */
    REG(CTRL) = (1u << 0) | (1u << 1);  /* TX_EN | RX_EN */
    (void)REG(DATA); /* QEMU 7.2: makes the chardev poll for input now (else a <= 1 s stall) */
}

uint8_t uart_getc(void) {
    while (!(REG(STATE) & STATE_RXFULL)) {
    }
    return (uint8_t)REG(DATA);
}

void uart_read(uint8_t *p, size_t n) {
    while (n--) *p++ = uart_getc();
}

void uart_write(const uint8_t *p, size_t n) {
    while (n--) {
        while (REG(STATE) & STATE_TXFULL) {
        }
        REG(DATA) = *p++;
    }
}
