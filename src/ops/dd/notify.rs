//! The install-notify status report (digest 9.3): one table of codes, texts and the SCOMO
//! results they map to.
use super::DdError;
use crate::codes::ResultCode;

/// Defines [`InstallStatus`] from its one table: variant, code, report text, SCOMO result.
macro_rules! install_statuses {
    ($( $(#[$meta:meta])* $variant:ident = $code:literal, $text:literal, $result:ident; )+) => {
        /// A status of the install-notify report posted to `installNotifyURI`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum InstallStatus {
            $( $(#[$meta])* $variant, )+
        }

        impl InstallStatus {
            /// Every status, in table order.
            pub const ALL: &'static [InstallStatus] = &[$(InstallStatus::$variant,)+];

            /// The longest report [`write_report`](Self::write_report) writes.
            pub const MAX_REPORT_LEN: usize = longest(&[$($text.len(),)+]) + 4;

            /// The three-digit code.
            pub const fn code(self) -> u16 {
                match self { $( InstallStatus::$variant => $code, )+ }
            }

            /// The text that follows the code in the report.
            pub const fn text(self) -> &'static str {
                match self { $( InstallStatus::$variant => $text, )+ }
            }

            /// The SCOMO result the download ends with when this status is reported
            /// (digest 9.3; where the digest offers two, the first is taken).
            pub const fn result(self) -> ResultCode {
                match self { $( InstallStatus::$variant => ResultCode::$result, )+ }
            }

            /// The status a code names.
            pub const fn from_code(code: u16) -> Option<Self> {
                match code {
                    $( $code => Some(InstallStatus::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

/// The largest of `lengths`.
const fn longest(lengths: &[usize]) -> usize {
    match lengths {
        [] => 0,
        [first, rest @ ..] => {
            let rest = longest(rest);
            if *first > rest { *first } else { rest }
        }
    }
}

install_statuses! {
    /// 900: the object arrived and is accepted.
    Success = 900, "Success", Successful;
    /// 901: not enough memory for the object.
    InsufficientMemory = 901, "Insufficient memory", DownloadOutOfMemory;
    /// 902: the user cancelled.
    UserCancelled = 902, "User Cancelled", UserCancelled;
    /// 903: the network went away during the download.
    LossOfService = 903, "Loss of Service", DownloadFailed;
    /// 905: what arrived does not match the descriptor (for example its size).
    AttributeMismatch = 905, "Attribute mismatch", DownloadFailed;
    /// 906: the descriptor is invalid.
    InvalidDescriptor = 906, "Invalid descriptor", DownloadFailed;
    /// 951: the descriptor's `DDVersion` is not supported.
    InvalidDdVersion = 951, "Invalid DDVersion", DownloadFailed;
    /// 952: the device aborted the download.
    DeviceAborted = 952, "Device Aborted", ClientError;
    /// 953: the object's type is not supported.
    NonAcceptableContent = 953, "Non-Acceptable Content", UnsupportedEnvType;
    /// 954: the object could not be fetched (an HTTP error).
    LoaderError = 954, "Loader Error", DownloadServerError;
}

impl InstallStatus {
    /// Writes the report body, `"<code> <text>"` (for example `900 Success`), into `out`.
    ///
    /// # Errors
    /// [`DdError::BufferTooSmall`] when `out` is shorter than the report
    /// ([`MAX_REPORT_LEN`](Self::MAX_REPORT_LEN) always suffices).
    pub fn write_report(self, out: &mut [u8]) -> Result<&str, DdError> {
        let code = self.code();
        let digits = [
            b'0' + (code / 100 % 10) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
            b' ',
        ];
        let text = self.text().as_bytes();
        let len = digits.len() + text.len();
        let dst = out.get_mut(..len).ok_or(DdError::BufferTooSmall)?;
        let (head, tail) = dst.split_at_mut(digits.len());
        head.copy_from_slice(&digits);
        tail.copy_from_slice(text);
        core::str::from_utf8(dst).map_err(|_| DdError::BufferTooSmall)
    }

    /// The status a report body starts with: three digits of a known code, then the end or
    /// white space (the text after it varies between clients and is not checked).
    pub fn from_report(body: &str) -> Option<Self> {
        let body = body.trim_start();
        let digits = body.get(..3)?;
        let after = body.get(3..)?;
        if !digits.bytes().all(|b| b.is_ascii_digit())
            || !after.chars().next().is_none_or(char::is_whitespace)
        {
            return None;
        }
        Self::from_code(digits.parse().ok()?)
    }
}
