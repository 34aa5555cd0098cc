//! Package #0: the server-alerted notification (digest 7.2).
