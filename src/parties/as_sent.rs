//! The parties of a write's answer, as the caller sent them.
//!
//! A party record is shared by every document and dossier of the tenant that names it, and
//! gathers every reference they gave: a NIR learnt from a sensitive letter, a name from
//! another source. Echoing the record in the answer to a write would hand all of it to a
//! caller who may read none of it — a scanning centre sending `{"client_number": "C-1"}`
//! got back the person's NIR, name and birth date. The answers to archiving a document and to
//! opening a dossier show, for each party, its id and role and the references this request
//! gave, nothing the archive knew before. See docs/access-control.md, "Parties in answers".

use super::{CompanyOnDocument, CompanyReference, IndividualOnDocument, IndividualReference};
use crate::dates::format_date;

/// `stored` (the parties the catalog recorded, in the order they were sent) reduced to what
/// `sent` said of each. Should the two lists not line up, each party keeps its id and role
/// only: never more than was sent.
pub fn individuals_as_sent(
    stored: Vec<IndividualOnDocument>,
    sent: &[IndividualReference],
) -> Vec<IndividualOnDocument> {
    as_sent(stored, sent, |party, sent| IndividualOnDocument {
        party_id: party.party_id,
        role: party.role,
        nir: sent
            .and_then(|sent| sent.nir.as_ref())
            .map(|nir| nir.as_str().to_string()),
        client_numbers: sent
            .and_then(|sent| sent.client_number.clone())
            .into_iter()
            .collect(),
        last_name: sent.and_then(|sent| sent.last_name.clone()),
        first_name: sent.and_then(|sent| sent.first_name.clone()),
        birth_date: sent.and_then(|sent| sent.birth_date).map(format_date),
    })
}

/// The companies' counterpart of [`individuals_as_sent`].
pub fn companies_as_sent(
    stored: Vec<CompanyOnDocument>,
    sent: &[CompanyReference],
) -> Vec<CompanyOnDocument> {
    as_sent(stored, sent, |party, sent| CompanyOnDocument {
        party_id: party.party_id,
        role: party.role,
        siren: sent
            .and_then(|sent| sent.siren.as_ref())
            .map(|siren| siren.as_str().to_string()),
        siret: sent
            .and_then(|sent| sent.siret.as_ref())
            .map(|siret| siret.as_str().to_string()),
        company_numbers: sent
            .and_then(|sent| sent.company_number.clone())
            .into_iter()
            .collect(),
        name: sent.and_then(|sent| sent.name.clone()),
    })
}

/// Each stored party rebuilt by `reduce` from itself and what the request sent of it, when the
/// two lists line up (`None` otherwise).
fn as_sent<Party, Sent>(
    stored: Vec<Party>,
    sent: &[Sent],
    reduce: impl Fn(Party, Option<&Sent>) -> Party,
) -> Vec<Party> {
    let aligned = stored.len() == sent.len();
    stored
        .into_iter()
        .enumerate()
        .map(|(position, party)| reduce(party, sent.get(position).filter(|_| aligned)))
        .collect()
}
