/* stores.h: the component store and the state store of scomo.h on the emulated NOR flash
 * (nor.h). stores.c describes the layouts and what survives a power cut. */
#ifndef STORES_H
#define STORES_H

#include <stdbool.h>
#include <stdint.h>

#include "nor.h"
#include "scomo.h"

#define STORES_MAX_SLOTS 4u     /* component-store keys at most */
#define STORES_BANK_HEADER 16u  /* bytes before a state bank's records */
#define STORES_RECORD_HEADER 4u /* bytes before each record's bytes */

/* Where the stores lie on the chip: the component slots from address 0, then the two state
 * banks. */
struct stores_layout {
    uint16_t slots;      /* component-store keys (at most STORES_MAX_SLOTS) */
    uint32_t slot_pages; /* pages per key: one meta page, then the data pages */
    uint32_t bank_pages; /* pages per state bank */
    size_t max_record;   /* the longest state record `write` takes */
};

/* NOR bytes a layout takes. */
#define STORES_NOR_SIZE(slots, slot_pages, bank_pages)                                        \
    (((slots) * (slot_pages) + 2u * (bank_pages)) * NOR_PAGE)

/* Fills the two callback tables for `layout` on the attached chip; false when the layout
 * does not fit the chip or the meta page. Reads and changes nothing on the chip. */
bool stores_init(const struct stores_layout *layout, scomo_component_store *components,
                 scomo_state_store *state);

#endif
