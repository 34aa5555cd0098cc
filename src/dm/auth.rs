//! Authentication: basic, MD5 digest and HMAC credentials (digest 7.8).
