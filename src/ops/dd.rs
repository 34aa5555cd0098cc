//! OMA download descriptors (digest 9.2) and install-notify reports (digest 9.3).
