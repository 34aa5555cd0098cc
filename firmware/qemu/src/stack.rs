//! Stack high-water measurement: paint the free stack with a pattern once, then find the
//! deepest word the program has overwritten since.

/// The pattern painted into the free stack.
const PAINT: u32 = 0xC0DE_5A5A;

/// Bytes left unpainted below the stack pointer when painting (the painter's own frame).
const MARGIN: usize = 256;

unsafe extern "C" {
    /// The lowest address of the stack (the end of static RAM), from cortex-m-rt's `link.x`.
    static _stack_end: u32;
    /// The initial stack pointer (the top of RAM), from cortex-m-rt's `link.x`.
    static _stack_start: u32;
}

fn bounds() -> (usize, usize) {
    (
        core::ptr::addr_of!(_stack_end) as usize,
        core::ptr::addr_of!(_stack_start) as usize,
    )
}

/// Paints the free stack, from the end of static RAM up to a little below the current stack
/// pointer. Call it once, early in `main`; [`high_water`] measures from then on.
pub fn paint() {
    let (bottom, _) = bounds();
    let top = (cortex_m::register::msp::read() as usize).saturating_sub(MARGIN);
    let mut at = bottom;
    while at + 4 <= top {
        // SAFETY: `[bottom, top)` lies between the end of static data and below the live
        // stack frames (the stack pointer minus a margin for this function's own frame), so
        // nothing in the program uses it now; the address is 4-byte aligned (cortex-m-rt
        // asserts `_stack_end % 4 == 0`).
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

/// The most stack used since [`paint`], in bytes from the top of RAM: the distance from
/// the initial stack pointer to the lowest word that no longer holds the pattern.
pub fn high_water() -> usize {
    let (bottom, top) = bounds();
    let mut at = bottom;
    while at < top {
        // SAFETY: `at` is a 4-byte aligned address inside RAM (between the end of static
        // data and the top of the stack); reading it has no side effect.
        let word = unsafe { core::ptr::read_volatile(at as *const u32) };
        if word != PAINT {
            break;
        }
        at += 4;
    }
    top - at
}

/// The bytes of RAM between the end of static data and the top of RAM: the stack's room.
pub fn room() -> usize {
    let (bottom, top) = bounds();
    top - bottom
}

/// Whether the stack has reached the end of static RAM since [`paint`]: the lowest word of
/// the stack's room no longer holds the pattern. Static data just below it may be damaged.
pub fn overflowed() -> bool {
    high_water() >= room()
}
