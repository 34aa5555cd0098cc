//! The board selected by the cargo feature: its name, QEMU machine and UART0.

#[cfg(any(
    all(feature = "lm3s6965", feature = "mps2"),
    all(feature = "lm3s6965", feature = "microbit"),
    all(feature = "mps2", feature = "microbit"),
))]
compile_error!("enable exactly one board feature: lm3s6965, mps2 or microbit");

/// The board's UART0 driver.
#[cfg(feature = "lm3s6965")]
pub type Uart = crate::pl011::Pl011;
/// The QEMU machine (`-machine`) this build runs on.
#[cfg(feature = "lm3s6965")]
pub const MACHINE: &str = "lm3s6965evb";
/// A one-line description of the board and its UART.
#[cfg(feature = "lm3s6965")]
pub const DESCRIPTION: &str = "lm3s6965evb (Cortex-M3), PL011 UART0 at 0x4000C000";

/// Takes UART0 and sets it up. Call it once, or use [`with_uart`]: the driver assumes it
/// owns the device.
#[cfg(feature = "lm3s6965")]
pub fn uart() -> Uart {
    // SAFETY: 0x4000_C000 is the LM3S6965's UART0 and this is its only driver. 12 MHz is the
    // board's default clock.
    unsafe { crate::pl011::Pl011::new(0x4000_C000, 12_000_000, 115_200) }
}

/// The board's UART0 driver.
#[cfg(feature = "mps2")]
pub type Uart = crate::cmsdk::CmsdkUart;
/// The QEMU machine (`-machine`) this build runs on.
#[cfg(feature = "mps2")]
pub const MACHINE: &str = "mps2-an386";
/// A one-line description of the board and its UART.
#[cfg(feature = "mps2")]
pub const DESCRIPTION: &str = "mps2-an386 (Cortex-M4F), CMSDK APB UART0 at 0x40004000";

/// Takes UART0 and sets it up. Call it once, or use [`with_uart`]: the driver assumes it
/// owns the device.
#[cfg(feature = "mps2")]
pub fn uart() -> Uart {
    // SAFETY: 0x4000_4000 is UART0 of the MPS2 FPGA images and this is its only driver; the
    // APB clock is 25 MHz.
    unsafe { crate::cmsdk::CmsdkUart::new(0x4000_4000, 25_000_000, 115_200) }
}

/// The QEMU machine (`-machine`) this build runs on.
#[cfg(feature = "microbit")]
pub const MACHINE: &str = "microbit";
/// A one-line description of the board (no UART driver here).
#[cfg(feature = "microbit")]
pub const DESCRIPTION: &str = "microbit (Cortex-M0), semihosting only";

#[cfg(feature = "uart")]
static UART: cortex_m::interrupt::Mutex<core::cell::RefCell<Option<Uart>>> =
    cortex_m::interrupt::Mutex::new(core::cell::RefCell::new(None));

/// Runs `f` with the board's UART0, set up on first use. Interrupts are masked while `f`
/// runs (the driver polls; nothing else may touch the UART meanwhile).
#[cfg(feature = "uart")]
pub fn with_uart<R>(f: impl FnOnce(&mut Uart) -> R) -> R {
    cortex_m::interrupt::free(|cs| {
        let mut slot = UART.borrow(cs).borrow_mut();
        f(slot.get_or_insert_with(uart))
    })
}
