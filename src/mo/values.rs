//! The values of the SCOMO `Status` and `State` leaves (digest section 3), one table each.
//! The SCOMO result codes (digest section 4) are in [`crate::codes::ResultCode`].

use crate::codes::number_table;

number_table! {
    u8, value, from_value, "The number the leaf holds.";
    /// `Download/<X>/Status` (digest 3.1).
    pub enum DownloadStatus {
        /// 10 Idle / start: no data yet (also after a fully successful DownloadInstall).
        Idle = 10,
        /// 20 Download failed, no data kept.
        DownloadFailed = 20,
        /// 30 Download progressing.
        DownloadProgressing = 30,
        /// 40 Download complete: data present.
        DownloadComplete = 40,
        /// 50 Install progressing (DownloadInstall*).
        InstallProgressing = 50,
        /// 60 Install failed, downloaded package still on the device.
        InstallFailedWithData = 60,
        /// 70 Install failed, downloaded package deleted.
        InstallFailedWithoutData = 70,
    }
}

number_table! {
    u8, value, from_value, "The number the leaf holds.";
    /// `Inventory/Delivered/<X>/Status` (digest 3.2).
    pub enum DeliveredStatus {
        /// 10 Idle: no install or remove started.
        Idle = 10,
        /// 20 Remove failed, package still on the device.
        RemoveFailed = 20,
        /// 30 Remove progressing.
        RemoveProgressing = 30,
        /// 40 Install progressing.
        InstallProgressing = 40,
        /// 50 Install failed, package kept.
        InstallFailedWithData = 50,
        /// 60 Install failed, package gone.
        InstallFailedWithoutData = 60,
    }
}

number_table! {
    u8, value, from_value, "The number the leaf holds.";
    /// `Inventory/Delivered/<X>/State` (digest 3.3).
    pub enum DeliveredState {
        /// 10 Delivered: on the device, not installed.
        Delivered = 10,
        /// 20 Installed: its components were installed.
        Installed = 20,
    }
}

number_table! {
    u8, value, from_value, "The number the leaf holds.";
    /// `Inventory/Deployed/<X>/Status` (digest 3.4).
    pub enum DeployedStatus {
        /// 10 Idle.
        Idle = 10,
        /// 20 Remove failed, component still present.
        RemoveFailed = 20,
        /// 30 Remove progressing.
        RemoveProgressing = 30,
        /// 40 Activate failed, component still inactive.
        ActivateFailed = 40,
        /// 50 Activate progressing.
        ActivateProgressing = 50,
        /// 60 Deactivate failed, component still active.
        DeactivateFailed = 60,
        /// 70 Deactivate progressing.
        DeactivateProgressing = 70,
    }
}

number_table! {
    u8, value, from_value, "The number the leaf holds.";
    /// `Inventory/Deployed/<X>/State` (digest 3.5).
    pub enum DeployedState {
        /// 10 Inactive.
        Inactive = 10,
        /// 20 Active.
        Active = 20,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_match_the_digest() {
        for &s in DownloadStatus::ALL {
            assert_eq!(DownloadStatus::from_value(s.value()), Some(s));
        }
        for &s in DeliveredStatus::ALL {
            assert_eq!(DeliveredStatus::from_value(s.value()), Some(s));
        }
        for &s in DeployedStatus::ALL {
            assert_eq!(DeployedStatus::from_value(s.value()), Some(s));
        }
        assert_eq!(DeliveredStatus::InstallFailedWithoutData.value(), 60);
        assert_eq!(
            DeliveredState::from_value(20),
            Some(DeliveredState::Installed)
        );
        assert_eq!(DeployedState::from_value(20), Some(DeployedState::Active));
        assert_eq!(DownloadStatus::from_value(15), None);
    }
}
