//! The text formats the API reads, as OpenAPI schemas: calendar dates, instants, SHA-256
//! names. Parameters and fields declare one of these types (`Option<CalendarDate>`) instead of a bare
//! string, so the document says exactly what `crate::dates` and `Sha256Hex` accept, and API
//! testing tools generate values the server takes and values it refuses.
//!
//! The patterns are exact for what they can express: impossible days (2023-02-30) are outside
//! them, leap years included. What a pattern cannot say is in the description.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// Month and day of any year, February 29 aside.
const MONTH_DAY: &str = "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])\
    |(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)";
/// Leap years among 0000–9999 (every fourth, centuries only when divisible by 400).
const LEAP_YEAR: &str =
    "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)";
/// Leap years among 1900–2099.
const LEAP_YEAR_1900_2099: &str = "(?:(?:19|20)(?:0[48]|[2468][048]|[13579][26])|2000)";
const TIME_AND_OFFSET: &str = "T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?\
    (?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";

/// `YYYY-MM-DD`, a real day: `crate::dates::parse_date`.
fn date_pattern() -> String {
    format!("(?:[0-9]{{4}}-{MONTH_DAY}|{LEAP_YEAR}-02-29)")
}

/// An RFC 3339 date-time with its offset, years 1900 to 2099: `crate::dates::parse_timestamp`
/// (which takes 2100 too; the pattern leaves out the one year an offset could push past it).
fn instant_pattern() -> String {
    format!("(?:(?:19|20)[0-9]{{2}}-{MONTH_DAY}|{LEAP_YEAR_1900_2099}-02-29){TIME_AND_OFFSET}")
}

/// Declares a marker type whose schema is a string of `pattern`, named after the type.
macro_rules! string_format {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $description:expr, $example:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some($pattern))
                    .description(Some($description))
                    .examples([$example])
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

string_format!(
    /// A calendar date, `2024-03-05`.
    CalendarDate,
    format!("^{}$", date_pattern()),
    "A calendar date, `YYYY-MM-DD`, a day that exists",
    "2024-03-05"
);

string_format!(
    /// A bound of a time range: a calendar date (its midnight UTC) or an RFC 3339 instant.
    DateOrInstant,
    format!("^(?:{}|{})$", date_pattern(), instant_pattern()),
    "A calendar date (`2024-03-05`, its midnight UTC) or an RFC 3339 date-time with its \
     offset (`2024-03-05T09:30:00+01:00`, years 1900 to 2100 in UTC)",
    "2024-03-05"
);

string_format!(
    /// An RFC 3339 instant with its offset.
    Rfc3339Instant,
    format!("^{}$", instant_pattern()),
    "An RFC 3339 date-time with its offset, `2024-03-05T09:30:00+01:00` (years 1900 to 2100 \
     in UTC)",
    "2024-03-05T09:30:00+01:00"
);

string_format!(
    /// Content named by its SHA-256.
    Sha256,
    "^[0-9a-f]{64}$",
    "The SHA-256 of the content, 64 lower-case hex digits",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
);
