//! The numbers the protocol carries: SyncML/DM status codes and SCOMO result codes.
//!
//! Each number is written exactly once, in the tables below (digest 7.5 and 4).

/// Defines a fieldless enum from one table — each variant and its number, written once —
/// with `ALL`, the number's getter and the lookup back (`None` for a number not in the
/// table). Used for every numbered fact of the crate: status and result codes, SCOMO
/// Status/State values, leaf rows, frame kinds.
macro_rules! number_table {
    (
        $repr:ty, $get:ident, $from:ident, $what:literal;
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )+
        }

        impl $name {
            /// Every entry of the table, in table order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            #[doc = $what]
            pub const fn $get(self) -> $repr {
                self as $repr
            }

            /// The table entry for this number, if there is one.
            pub const fn $from(value: $repr) -> Option<Self> {
                match value {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use number_table;

number_table! {
    u16, code, from_code, "The number carried on the wire.";
    /// A SyncML / OMA DM status code (digest 7.5), the value of a `Status/Data` element.
    pub enum StatusCode {
        /// 200 OK.
        Ok = 200,
        /// 202 Accepted for processing; the result comes later (Exec, Alert).
        Accepted = 202,
        /// 212 Authentication accepted for the whole session.
        AuthAccepted = 212,
        /// 213 Chunked item accepted and buffered (Large Object chunk).
        ChunkAccepted = 213,
        /// 214 Operation cancelled (UI alert cancelled by the user).
        Cancelled = 214,
        /// 215 Not executed (user declined, Sequence aborted).
        NotExecuted = 215,
        /// 216 Atomic roll back OK.
        AtomicRollbackOk = 216,
        /// 304 "No" answer to a 1101 confirm-or-reject alert.
        NotModified = 304,
        /// 400 Bad request (malformed or unknown element).
        BadRequest = 400,
        /// 401 Unauthorized (bad credentials).
        Unauthorized = 401,
        /// 403 Forbidden for a reason other than the ACL.
        Forbidden = 403,
        /// 404 Not found.
        NotFound = 404,
        /// 405 Command not allowed.
        NotAllowed = 405,
        /// 406 Optional feature not supported.
        OptionalFeatureNotSupported = 406,
        /// 407 Missing credentials / authentication required.
        AuthenticationRequired = 407,
        /// 408 Request timeout.
        RequestTimeout = 408,
        /// 412 Incomplete command.
        IncompleteCommand = 412,
        /// 413 Request entity too large.
        RequestEntityTooLarge = 413,
        /// 414 URI too long.
        UriTooLong = 414,
        /// 415 Unsupported media type or format.
        UnsupportedMediaType = 415,
        /// 416 Requested range not satisfiable.
        RangeNotSatisfiable = 416,
        /// 418 Already exists.
        AlreadyExists = 418,
        /// 420 Device full.
        DeviceFull = 420,
        /// 424 Size mismatch (reassembled Large Object differs from Meta Size).
        SizeMismatch = 424,
        /// 425 Permission denied by the ACL.
        PermissionDenied = 425,
        /// 500 Command failed.
        CommandFailed = 500,
        /// 501 Command not implemented.
        NotImplemented = 501,
        /// 506 Processing error.
        ProcessingError = 506,
        /// 507 Atomic failed.
        AtomicFailed = 507,
        /// 510 Data store failure.
        DataStoreFailure = 510,
        /// 516 Atomic roll back failed.
        AtomicRollbackFailed = 516,
        /// 517 Atomic response too large to fit in a message.
        AtomicResponseTooLarge = 517,
    }
}

impl StatusCode {
    /// Whether the code reports success (2xx).
    pub const fn is_success(self) -> bool {
        self.code() < 300
    }
}

number_table! {
    u16, code, from_code, "The number carried on the wire.";
    /// An OMA DM alert code (digest 7.6), the `Data` of an `Alert`.
    pub enum AlertCode {
        /// 1100 DISPLAY (server to client: show a text).
        Display = 1100,
        /// 1101 CONFIRM OR REJECT.
        Confirm = 1101,
        /// 1102 TEXT INPUT.
        TextInput = 1102,
        /// 1103 SINGLE CHOICE.
        SingleChoice = 1103,
        /// 1104 MULTIPLE CHOICE.
        MultipleChoice = 1104,
        /// 1200 SERVER-INITIATED MGMT (Package 1 answering a Package #0).
        ServerInitiated = 1200,
        /// 1201 CLIENT-INITIATED MGMT.
        ClientInitiated = 1201,
        /// 1222 NEXT MESSAGE: send the next message of your package.
        NextMessage = 1222,
        /// 1223 SESSION ABORT.
        SessionAbort = 1223,
        /// 1224 CLIENT EVENT.
        ClientEvent = 1224,
        /// 1225 NO END OF DATA: a new command came before the last chunk of a Large Object.
        NoEndOfData = 1225,
        /// 1226 GENERIC ALERT (SCOMO results).
        Generic = 1226,
    }
}

number_table! {
    u16, code, from_code, "The number carried on the wire.";
    /// A SCOMO result code (digest 4), carried in a Generic Alert's `<ResultCode>`, never
    /// in a SyncML `Status`.
    pub enum ResultCode {
        /// 1200 Successful.
        Successful = 1200,
        /// 1400 Client error (unspecified).
        ClientError = 1400,
        /// 1401 User cancelled.
        UserCancelled = 1401,
        /// 1402 Download failed.
        DownloadFailed = 1402,
        /// 1403 Alternate-download authentication failure.
        DownloadAuthFailure = 1403,
        /// 1404 Download failed: out of memory.
        DownloadOutOfMemory = 1404,
        /// 1405 Install failed.
        InstallFailed = 1405,
        /// 1406 Install failed: out of memory.
        InstallOutOfMemory = 1406,
        /// 1407 Package validation failed.
        ValidationFailed = 1407,
        /// 1408 Remove failed.
        RemoveFailed = 1408,
        /// 1409 Activate failed.
        ActivateFailed = 1409,
        /// 1410 Deactivate failed.
        DeactivateFailed = 1410,
        /// 1411 Not implemented.
        NotImplemented = 1411,
        /// 1412 Undefined error.
        UndefinedError = 1412,
        /// 1413 Operation rejected: unsupported environment type.
        UnsupportedEnvType = 1413,
        /// 1500 Alternate download server error.
        DownloadServerError = 1500,
        /// 1501 Alternate download server unavailable.
        DownloadServerUnavailable = 1501,
    }
}

/// The vendor-specified ranges of SCOMO result codes (digest 4): successful, client error
/// and alternate-download server error.
pub const VENDOR_RESULT_RANGES: [core::ops::RangeInclusive<u16>; 3] =
    [1250..=1299, 1450..=1499, 1550..=1599];

/// A SCOMO result as carried on the wire: a standard code or a vendor-specified one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ScomoResult(u16);

impl ScomoResult {
    /// A standard result.
    pub const fn standard(code: ResultCode) -> Self {
        Self(code.code())
    }

    /// A vendor-specified result; `None` unless `code` lies in one of
    /// [`VENDOR_RESULT_RANGES`].
    pub fn vendor(code: u16) -> Option<Self> {
        VENDOR_RESULT_RANGES
            .iter()
            .any(|r| r.contains(&code))
            .then_some(Self(code))
    }

    /// Any valid result number: a standard code or a vendor one.
    pub fn from_code(code: u16) -> Option<Self> {
        match ResultCode::from_code(code) {
            Some(c) => Some(Self::standard(c)),
            None => Self::vendor(code),
        }
    }

    /// The number carried in `<ResultCode>`.
    pub const fn code(self) -> u16 {
        self.0
    }

    /// Whether the result reports success (12xx).
    pub const fn is_success(self) -> bool {
        self.0 >= 1200 && self.0 < 1300
    }
}

impl From<ResultCode> for ScomoResult {
    fn from(code: ResultCode) -> Self {
        Self::standard(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip_through_their_numbers() {
        for &c in StatusCode::ALL {
            assert_eq!(StatusCode::from_code(c.code()), Some(c));
        }
        assert_eq!(StatusCode::from_code(299), None);
        assert_eq!(StatusCode::PermissionDenied.code(), 425);
    }

    #[test]
    fn result_codes_round_trip_and_vendor_ranges_are_checked() {
        for &c in ResultCode::ALL {
            assert_eq!(ScomoResult::from_code(c.code()), Some(c.into()));
        }
        assert_eq!(ScomoResult::from_code(1451).map(|r| r.code()), Some(1451));
        assert_eq!(ScomoResult::from_code(1300), None);
        assert_eq!(ScomoResult::from_code(1600), None);
        assert!(ScomoResult::standard(ResultCode::Successful).is_success());
        assert!(!ScomoResult::standard(ResultCode::InstallFailed).is_success());
    }
}
