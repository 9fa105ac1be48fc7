//! Dates and timestamps as the archive stores and prints them.
//!
//! Calendar dates are `YYYY-MM-DD`; instants are RFC 3339 in UTC with microseconds
//! (`2026-11-23T00:51:30.123456Z`). Both are stored as text in that exact form in every catalog
//! backend: it sorts as it reads, compares byte for byte, and hashes the same in the audit chain.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]");
const TIMESTAMP_FORMAT: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// Parses a `YYYY-MM-DD` calendar date, refusing impossible ones (2023-02-30).
pub fn parse_date(input: &str) -> Result<Date, String> {
    Date::parse(input, DATE_FORMAT).map_err(|_| "is not a real date in the form YYYY-MM-DD".into())
}

pub fn format_date(date: Date) -> String {
    date.format(DATE_FORMAT).expect("a date always formats")
}

/// Parses an RFC 3339 date-time with its offset and brings it to UTC. Years outside 1900–2100
/// are typing errors in an archive of mail.
pub fn parse_timestamp(input: &str) -> Result<OffsetDateTime, String> {
    let parsed = OffsetDateTime::parse(input, &Rfc3339).map_err(|_| {
        "is not an RFC 3339 date-time with an offset (2024-03-05T09:30:00+01:00)".to_string()
    })?;
    parsed
        .checked_to_offset(UtcOffset::UTC)
        .filter(|utc| (1900..=2100).contains(&utc.year()))
        .ok_or_else(|| "is outside the years 1900 to 2100".to_string())
}

/// A timestamp, or a date meaning its midnight UTC: the bounds of date filters.
pub fn parse_instant_or_date(input: &str) -> Result<OffsetDateTime, String> {
    parse_timestamp(input).or_else(|_| {
        parse_date(input)
            .map(|date| date.midnight().assume_utc())
            .map_err(|_| "is not a date (YYYY-MM-DD) or an RFC 3339 date-time".to_string())
    })
}

pub fn format_timestamp(instant: OffsetDateTime) -> String {
    instant
        .to_offset(UtcOffset::UTC)
        .format(TIMESTAMP_FORMAT)
        .expect("a UTC instant always formats")
}

/// Now, in the stored form.
pub fn now_timestamp() -> String {
    format_timestamp(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_refuse_impossible_days() {
        assert_eq!(format_date(parse_date("2024-02-29").unwrap()), "2024-02-29");
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("2023-2-1").is_err());
    }

    #[test]
    fn timestamps_are_stored_in_utc() {
        let instant = parse_timestamp("2024-03-05T09:30:00+01:00").unwrap();
        assert_eq!(format_timestamp(instant), "2024-03-05T08:30:00.000000Z");
        assert!(parse_timestamp("2024-03-05").is_err());
        // Would be year 10000 in UTC.
        assert!(parse_timestamp("9999-12-31T23:59:59-01:00").is_err());
    }
}
