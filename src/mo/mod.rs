//! Management objects: SCOMO, DevInfo, DevDetail and DMAcc.
