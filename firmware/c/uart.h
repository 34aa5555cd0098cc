/* uart.h: UART0 of the MPS2 boards (ARM CMSDK APB UART), polled. */
#ifndef UART_H
#define UART_H

#include <stddef.h>
#include <stdint.h>

void uart_init(void);
uint8_t uart_getc(void);
void uart_read(uint8_t *p, size_t n);
void uart_write(const uint8_t *p, size_t n);

#endif
