//! HTTP details of serving stored content: byte ranges (RFC 9110 §14), entity-tag conditions
//! and the file name in `Content-Disposition` (RFC 6266).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a `Range` header asks of content of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range (absent, malformed, another unit, or several ranges): send everything.
    Whole,
    /// One satisfiable range, `start..end` with `end` exclusive.
    Part { start: u64, end: u64 },
    /// Well-formed ranges none of which lies inside the content (416).
    Unsatisfiable,
}

/// Parses `bytes=first-last`, `bytes=first-` and `bytes=-suffix` ranges (RFC 9110 §14.1).
/// Malformed headers are ignored as RFC 9110 asks; several ranges are answered with the whole
/// content, since multipart/byteranges buys PDF viewers nothing. The unit is case-insensitive,
/// empty list elements are skipped (§5.6.1), a suffix of zero bytes is never satisfiable, and
/// one longer than the content (even beyond 64 bits) asks for all of it (§14.1.3).
pub fn parse_range(header: &str, size: u64) -> RangeRequest {
    let header = header.trim();
    let Some((unit, specs)) = header.split_once('=') else {
        return RangeRequest::Whole;
    };
    if !unit.trim_end().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Whole;
    }
    let mut satisfiable = Vec::new();
    let mut count = 0;
    for spec in specs
        .split(',')
        .map(str::trim)
        .filter(|spec| !spec.is_empty())
    {
        count += 1;
        let Some((first, last)) = spec.split_once('-') else {
            return RangeRequest::Whole;
        };
        let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        let range = match (first, last) {
            // A first position beyond 64 bits lies beyond any content.
            (first, "") if digits(first) => first.parse::<u64>().ok().map(|start| (start, size)),
            ("", suffix) if digits(suffix) => match suffix.parse::<u64>() {
                Ok(0) => None,
                Ok(length) => Some((size.saturating_sub(length), size)),
                Err(_) => Some((0, size)),
            },
            (first, last) if digits(first) && digits(last) => {
                match (first.parse::<u64>(), last.parse::<u64>()) {
                    (Ok(start), Ok(last)) if start <= last => {
                        Some((start, last.saturating_add(1).min(size)))
                    }
                    (Ok(start), Err(_)) => Some((start, size)),
                    // Both beyond 64 bits: beyond the content, if in order.
                    (Err(_), Err(_)) if in_order(first, last) => None,
                    _ => return RangeRequest::Whole,
                }
            }
            _ => return RangeRequest::Whole,
        };
        if let Some((start, end)) = range
            && start < size
            && start < end
        {
            satisfiable.push((start, end));
        }
    }
    match satisfiable.as_slice() {
        _ if count == 0 => RangeRequest::Whole,
        [] => RangeRequest::Unsatisfiable,
        [(start, end)] if count == 1 => RangeRequest::Part {
            start: *start,
            end: *end,
        },
        _ => RangeRequest::Whole,
    }
}

/// Whether the decimal position `first` is at most `last`, whatever their size.
fn in_order(first: &str, last: &str) -> bool {
    let (first, last) = (first.trim_start_matches('0'), last.trim_start_matches('0'));
    (first.len(), first) <= (last.len(), last)
}

/// `If-None-Match`: `*`, or a list compared weakly (a `W/` prefix does not matter).
pub fn none_match(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// `If-Range`: one entity tag compared strongly (never `*`, never weak; a date never matches,
/// since content has no modification date worth trusting).
pub fn range_condition_holds(header: &str, etag: &str) -> bool {
    header.trim() == etag
}

/// Characters kept as they are in an RFC 5987 `filename*` value.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `inline; filename="ASCII fallback"; filename*=UTF-8''percent-encoded`.
pub fn content_disposition(file_name: Option<&str>) -> String {
    let Some(name) = file_name else {
        return "inline".to_string();
    };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "inline; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR_CHAR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Part { start: 0, end: 10 });
        assert_eq!(
            parse_range("bytes=90-", 100),
            Part {
                start: 90,
                end: 100
            }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            Part {
                start: 90,
                end: 100
            }
        );
        assert_eq!(parse_range("bytes=-500", 100), Part { start: 0, end: 100 });
        assert_eq!(
            parse_range("bytes=50-500", 100),
            Part {
                start: 50,
                end: 100
            }
        );
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=100-,200-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Whole);
        // RFC 9110 §14.1.3: a suffix of zero bytes selects nothing.
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 0), Unsatisfiable);
        // The unit is case-insensitive; empty list elements and spaces are allowed.
        assert_eq!(parse_range("Bytes=0-9", 100), Part { start: 0, end: 10 });
        assert_eq!(parse_range("bytes = 0-9", 100), Part { start: 0, end: 10 });
        assert_eq!(
            parse_range("bytes=, 0-9 ,", 100),
            Part { start: 0, end: 10 }
        );
        // Positions beyond 64 bits are still positions.
        let huge = "99999999999999999999999";
        assert_eq!(
            parse_range(&format!("bytes=-{huge}"), 100),
            Part { start: 0, end: 100 }
        );
        assert_eq!(
            parse_range(&format!("bytes=10-{huge}"), 100),
            Part {
                start: 10,
                end: 100
            }
        );
        assert_eq!(parse_range(&format!("bytes={huge}-"), 100), Unsatisfiable);
        assert_eq!(
            parse_range(&format!("bytes={huge}-{huge}9"), 100),
            Unsatisfiable
        );
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        for malformed in [
            "bytes=-",
            "bytes=",
            "bytes=,",
            "bytes=0-1-2",
            "bytes=5-1",
            "bytes=a-b",
            "items=0-1",
            "bytes=1",
            "",
        ] {
            assert_eq!(parse_range(malformed, 100), Whole, "{malformed}");
        }
    }

    #[test]
    fn entity_tags() {
        let etag = "\"abc\"";
        assert!(none_match("\"abc\"", etag));
        assert!(none_match("W/\"abc\"", etag));
        assert!(none_match("\"x\", \"abc\"", etag));
        assert!(none_match("*", etag));
        assert!(!none_match("\"x\"", etag));
        assert!(range_condition_holds("\"abc\"", etag));
        assert!(!range_condition_holds("*", etag));
        assert!(!range_condition_holds("W/\"abc\"", etag));
    }

    #[test]
    fn file_names() {
        assert_eq!(
            content_disposition(Some("réclamation \"1\".pdf")),
            "inline; filename=\"r_clamation _1_.pdf\"; filename*=UTF-8''r%C3%A9clamation%20%221%22.pdf"
        );
        assert_eq!(content_disposition(None), "inline");
    }
}
