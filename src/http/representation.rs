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

/// Parses `bytes=first-last`, `bytes=first-` and `bytes=-suffix` ranges. Malformed headers are
/// ignored as RFC 9110 asks; several ranges are answered with the whole content, since
/// multipart/byteranges buys PDF viewers nothing.
pub fn parse_range(header: &str, size: u64) -> RangeRequest {
    let Some(specs) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    let mut satisfiable = Vec::new();
    let mut count = 0;
    for spec in specs.split(',') {
        count += 1;
        let Some((first, last)) = spec.trim().split_once('-') else {
            return RangeRequest::Whole;
        };
        let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        let range = match (first, last) {
            (first, "") if digits(first) => first.parse::<u64>().ok().map(|start| (start, size)),
            ("", suffix) if digits(suffix) => match suffix.parse::<u64>() {
                Ok(0) | Err(_) => return RangeRequest::Whole,
                Ok(length) => Some((size.saturating_sub(length), size)),
            },
            (first, last) if digits(first) && digits(last) => {
                match (first.parse::<u64>(), last.parse::<u64>()) {
                    (Ok(start), Ok(last)) if start <= last => {
                        Some((start, last.saturating_add(1).min(size)))
                    }
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
        [] => RangeRequest::Unsatisfiable,
        [(start, end)] if count == 1 => RangeRequest::Part {
            start: *start,
            end: *end,
        },
        _ => RangeRequest::Whole,
    }
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
        for malformed in [
            "bytes=-",
            "bytes=-0",
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
