//! Cron patterns for job schedulers, as BullMQ reads them through cron-parser: five fields
//! (minute, hour, day of month, month, day of week), or six with seconds first; a day of month
//! and a day of week both restricted match either; times in the scheduler's `tz` (UTC without
//! one; any name of the IANA database that chrono-tz carries, links such as `US/Eastern` included). Simulated time 0 is the Unix
//! epoch (Thursday 1 January 1970, 00:00 UTC).

use chrono::TimeZone;
use croner::parser::{CronParser, Seconds};

/// A parsed pattern and its time zone.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    cron: croner::Cron,
    tz: chrono_tz::Tz,
}

impl CronSchedule {
    /// Reads `pattern` in `tz`; the error says what is wrong.
    pub fn parse(pattern: &str, tz: Option<&str>) -> Result<CronSchedule, String> {
        let fields = pattern.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "{pattern:?}: a cron pattern has 5 fields (minute hour day-of-month month \
                 day-of-week), or 6 with seconds first; this has {fields}"
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(pattern)
            .map_err(|e| format!("{pattern:?} is not a cron pattern: {e}"))?;
        let tz = match tz {
            None => chrono_tz::Tz::UTC,
            Some(name) => name.parse().map_err(|_| {
                format!(
                    "{name:?} is not a time zone: an IANA name such as UTC, Europe/Paris, \
                     America/New_York or Asia/Tokyo (the case matters)"
                )
            })?,
        };
        Ok(CronSchedule { cron, tz })
    }

    /// The first time the pattern matches strictly after `after_ms` (whole seconds, as
    /// cron-parser's `next()`), in ms; `None` if it never does again.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let floor = i64::try_from(after_ms / 1000 * 1000).ok()?;
        let from = self.tz.timestamp_millis_opt(floor).single()?;
        let next = self.cron.find_next_occurrence(&from, false).ok()?;
        u64::try_from(next.timestamp_millis()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_times_in_whole_seconds_and_time_zones() {
        let every5 = CronSchedule::parse("*/5 * * * * *", None).unwrap();
        // From 10.5 s: 15 s (not 15.5, as a library keeping the milliseconds would say).
        assert_eq!(every5.next_after(10_500), Some(15_000));
        // Strictly after: from 10 s exactly, 15 s.
        assert_eq!(every5.next_after(10_000), Some(15_000));
        // 09:00 in Paris on 1 January 1970 is 08:00 UTC (CET, UTC+1).
        let paris = CronSchedule::parse("0 9 * * *", Some("Europe/Paris")).unwrap();
        assert_eq!(paris.next_after(0), Some(8 * 3_600_000));
        let utc = CronSchedule::parse("0 9 * * *", None).unwrap();
        assert_eq!(utc.next_after(0), Some(9 * 3_600_000));
        // Zones far from the usual: Chatham Islands at UTC+12:45 in 1970, so 09:00 on the 1st
        // was before the epoch and 09:00 on the 2nd is 20:15 UTC on the 1st; Etc/GMT-14 is
        // UTC+14 (POSIX signs), 09:00 on the 2nd is 19:00 UTC on the 1st.
        let chatham = CronSchedule::parse("0 9 * * *", Some("Pacific/Chatham")).unwrap();
        assert_eq!(chatham.next_after(0), Some(20 * 3_600_000 + 15 * 60_000));
        let plus14 = CronSchedule::parse("0 9 * * *", Some("Etc/GMT-14")).unwrap();
        assert_eq!(plus14.next_after(0), Some(19 * 3_600_000));
        // Day of month 1 or Monday: Monday 5 January comes first after midnight on the 1st.
        let either = CronSchedule::parse("0 0 1 * 1", None).unwrap();
        assert_eq!(either.next_after(0), Some(4 * 86_400_000));
    }

    #[test]
    fn bad_patterns_and_zones_say_why() {
        assert!(CronSchedule::parse("* * *", None)
            .unwrap_err()
            .contains("has 3"));
        assert!(CronSchedule::parse("0 0 0 1 1 1 2030", None)
            .unwrap_err()
            .contains("has 7"));
        assert!(CronSchedule::parse("61 * * * *", None)
            .unwrap_err()
            .contains("not a cron pattern"));
        assert!(CronSchedule::parse("* * * * *", Some("Mars/Base"))
            .unwrap_err()
            .contains("not a time zone"));
        // The whole database: rare zones, links to other zones and Etc's fixed offsets.
        for tz in [
            "UTC",
            "Europe/Paris",
            "America/New_York",
            "Asia/Kolkata",
            "America/Adak",
            "Pacific/Chatham",
            "US/Eastern",
            "Etc/GMT-14",
        ] {
            assert!(CronSchedule::parse("* * * * *", Some(tz)).is_ok(), "{tz}");
        }
    }
}
