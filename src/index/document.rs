//! The projection of a catalog document into an index document.

use serde::Serialize;
use tantivy::TantivyDocument;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::schema::Fields;
use crate::catalog::{IndexSource, IndexedDocument};
use crate::identifiers::Siret;
use crate::parties::{CompanyOnDocument, IndividualOnDocument};

/// Day numbers are shifted to stay positive in the sort key (1900 is day −25,567).
const DAY_OFFSET: i64 = 100_000;
/// Archive sequence numbers below 2^40 (a trillion changes) fit under the day in `date_key`.
const SEQ_BITS: u32 = 40;

/// The part of a document a result list shows.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SearchHit)]
pub struct Hit<'a> {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    document_type: &'a str,
    document_date: &'a str,
    direction: &'a str,
    channel: &'a str,
    source: &'a str,
    sensitive: bool,
    archived_at: &'a str,
    media_type: &'a str,
    individuals: &'a [IndividualOnDocument],
    companies: &'a [CompanyOnDocument],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    dossiers: Vec<HitDossier<'a>>,
    /// With `q`: the passage of the document's text where the words occur. Added to the
    /// stored hit at search time, never stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    extract: Option<super::search::Extract>,
}

/// A dossier as a result list shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SearchHitDossier)]
pub struct HitDossier<'a> {
    reference: &'a str,
    status: &'a str,
}

/// Days since 1970-01-01 of a stored `YYYY-MM-DD` date.
pub fn day_number(date: Date) -> i64 {
    i64::from(
        date.to_julian_day()
            - Date::from_ordinal_date(1970, 1)
                .expect("valid")
                .to_julian_day(),
    )
}

pub fn date_key(day: i64, archived_seq: i64) -> i64 {
    ((day + DAY_OFFSET) << SEQ_BITS) | (archived_seq & ((1 << SEQ_BITS) - 1))
}

pub fn micros(instant: OffsetDateTime) -> i64 {
    (instant.unix_timestamp_nanos() / 1000) as i64
}

pub fn to_index_document(fields: &Fields, source: &IndexSource) -> TantivyDocument {
    let document: &IndexedDocument = &source.document;
    let mut indexed = TantivyDocument::default();
    indexed.add_text(fields.id, document.id.to_string());
    indexed.add_text(fields.tenant, &source.tenant);
    indexed.add_u64(fields.sensitive, u64::from(document.sensitive));
    for person in &document.individuals {
        if let Some(nir) = &person.nir {
            indexed.add_text(fields.nir, nir);
        }
        for number in &person.client_numbers {
            indexed.add_text(fields.client_number, number);
        }
        for name in [&person.last_name, &person.first_name]
            .into_iter()
            .flatten()
        {
            indexed.add_text(fields.person_name, name);
        }
        if let Some(birth_date) = &person.birth_date {
            indexed.add_text(fields.birth_date, birth_date);
        }
    }
    for company in &document.companies {
        // A SIRET implies its SIREN: searching the SIREN finds documents filed under any SIRET.
        let siren = company.siren.clone().or_else(|| {
            let siret = Siret::parse(company.siret.as_deref()?).ok()?;
            Some(siret.siren().as_str().to_string())
        });
        if let Some(siren) = siren {
            indexed.add_text(fields.siren, siren);
        }
        if let Some(siret) = &company.siret {
            indexed.add_text(fields.siret, siret);
        }
        for number in &company.company_numbers {
            indexed.add_text(fields.company_number, number);
        }
        if let Some(name) = &company.name {
            indexed.add_text(fields.company_name, name);
        }
    }
    indexed.add_text(fields.source, &document.source);
    indexed.add_text(fields.document_type, &document.document_type);
    indexed.add_text(fields.direction, document.direction.as_str());
    indexed.add_text(fields.channel, document.channel.as_str());
    if let Some(agent) = &document.agent {
        indexed.add_text(fields.agent, agent);
    }
    if let Some(recipient) = &document.recipient {
        indexed.add_text(fields.recipient, recipient);
    }
    if let Some(batch_ref) = &document.batch_ref {
        indexed.add_text(fields.batch, batch_ref);
    }
    for dossier in &document.dossiers {
        indexed.add_text(fields.dossier, &dossier.reference);
        indexed.add_text(fields.dossier_status, dossier.status.as_str());
    }
    if let Ok(date) = crate::dates::parse_date(&document.document_date) {
        let day = day_number(date);
        indexed.add_i64(fields.document_day, day);
        indexed.add_u64(fields.year, u64::try_from(date.year()).unwrap_or_default());
        indexed.add_i64(fields.date_key, date_key(day, source.archived_seq));
    }
    if let Ok(archived_at) = OffsetDateTime::parse(&document.archived_at, &Rfc3339) {
        indexed.add_i64(fields.archived_micros, micros(archived_at));
    }
    indexed.add_i64(fields.archived_key, source.archived_seq);
    if let Some(title) = &document.title {
        indexed.add_text(fields.title, title);
    }
    if let Some(text) = &source.text {
        indexed.add_text(fields.text, text);
    }
    let hit = Hit {
        id: document.id.to_string(),
        title: document.title.as_deref(),
        document_type: &document.document_type,
        document_date: &document.document_date,
        direction: document.direction.as_str(),
        channel: document.channel.as_str(),
        source: &document.source,
        sensitive: document.sensitive,
        archived_at: &document.archived_at,
        media_type: &document.media_type,
        individuals: &document.individuals,
        companies: &document.companies,
        dossiers: document
            .dossiers
            .iter()
            .map(|d| HitDossier {
                reference: &d.reference,
                status: d.status.as_str(),
            })
            .collect(),
        extract: None,
    };
    indexed.add_text(
        fields.hit,
        serde_json::to_string(&hit).expect("a hit serialises"),
    );
    indexed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_keys_order_by_day_then_archive_order() {
        let early = date_key(day_number(time::macros::date!(1900 - 01 - 01)), 5);
        let same_day_later = date_key(day_number(time::macros::date!(1900 - 01 - 01)), 6);
        let next_day = date_key(day_number(time::macros::date!(1900 - 01 - 02)), 1);
        let modern = date_key(day_number(time::macros::date!(2024 - 03 - 05)), 1);
        assert!(early > 0);
        assert!(early < same_day_later && same_day_later < next_day && next_day < modern);
    }
}
