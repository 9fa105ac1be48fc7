//! The table `ged search` prints.

use serde_json::Value;

use crate::identifiers::{Nir, Siren};

/// One line per hit (date, direction, type, source, parties, title), then the totals and facets.
pub fn render(results: &Value) -> String {
    let mut out = format!(
        "{:<10}  {:<8}  {:<16}  {:<12}  {:<40}  {}\n",
        "date", "sens", "type", "source", "parties", "title"
    );
    let hits = results["hits"].as_array().cloned().unwrap_or_default();
    for hit in &hits {
        let text = |key: &str| hit[key].as_str().unwrap_or("").to_string();
        let direction = match hit["direction"].as_str() {
            Some("inbound") => "entrant",
            Some("outbound") => "sortant",
            _ => "",
        };
        out.push_str(&format!(
            "{:<10}  {:<8}  {:<16}  {:<12}  {:<40}  {}\n",
            text("document_date"),
            direction,
            text("document_type"),
            text("source"),
            parties(hit),
            text("title"),
        ));
    }
    out.push_str(&format!("{} of {} documents", hits.len(), results["total"]));
    if let Some(cursor) = results["next_cursor"].as_str() {
        out.push_str(&format!("; next page: --cursor {cursor}"));
    }
    out.push('\n');
    for facet in ["document_type", "source", "direction", "year"] {
        let values: Vec<String> = results["facets"][facet]
            .as_array()
            .into_iter()
            .flatten()
            .take(8)
            .map(|f| format!("{} ({})", f["value"].as_str().unwrap_or(""), f["count"]))
            .collect();
        if !values.is_empty() {
            out.push_str(&format!("{facet}: {}\n", values.join(", ")));
        }
    }
    out
}

/// People by formatted NIR or name, companies by formatted SIREN or name.
fn parties(hit: &Value) -> String {
    let mut names = Vec::new();
    for person in hit["individuals"].as_array().into_iter().flatten() {
        let name = [person["first_name"].as_str(), person["last_name"].as_str()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let nir = person["nir"]
            .as_str()
            .and_then(|n| Nir::parse(n).ok())
            .map(|n| n.formatted());
        names.push(match (name.is_empty(), nir) {
            (false, _) => name,
            (true, Some(nir)) => nir,
            (true, None) => person["client_numbers"][0]
                .as_str()
                .unwrap_or("?")
                .to_string(),
        });
    }
    for company in hit["companies"].as_array().into_iter().flatten() {
        let siren = company["siren"]
            .as_str()
            .and_then(|s| Siren::parse(s).ok())
            .map(|s| s.formatted());
        names.push(
            company["name"]
                .as_str()
                .map(str::to_string)
                .or(siren)
                .unwrap_or_else(|| "?".into()),
        );
    }
    let joined = names.join(", ");
    if joined.chars().count() > 40 {
        joined.chars().take(39).collect::<String>() + "…"
    } else {
        joined
    }
}
