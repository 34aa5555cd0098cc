/* uart.h: UART0, polled: uart_cmsdk.c (the MPS2 boards) or uart_pl011.c (lm3s6965evb). */
#ifndef UART_H
#define UART_H

#include <stddef.h>
#include <stdint.h>

void uart_init(void);
uint8_t uart_getc(void);
void uart_read(uint8_t *p, size_t n);
void uart_write(const uint8_t *p, size_t n);

#endif
