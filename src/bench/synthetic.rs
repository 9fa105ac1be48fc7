//! A synthetic archive for benchmarks, written straight into a catalog: persons with valid
//! NIRs, companies with valid SIREN and SIRETs, documents spread over them Zipf-like (a few
//! parties have thousands of documents, most a handful), 40 types, 10 sources, 10 years of
//! dates, titles and short texts from French words.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, QueryBuilder, Sqlite};

use crate::identifiers::{Nir, Siren, Siret};

const LAST_NAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Müller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
    "Giraud",
    "Joly",
    "Rivière",
    "Lucas",
    "Brunet",
    "Gaillard",
    "Barbier",
    "Arnaud",
    "Gérard",
    "Roche",
    "Renard",
    "Schmitt",
    "Roy",
    "Leroux",
    "Colin",
    "Vidal",
    "Caron",
    "Picard",
];
const FIRST_NAMES: &[&str] = &[
    "Anne",
    "Marie",
    "Jean",
    "Pierre",
    "Michel",
    "Philippe",
    "Nathalie",
    "Isabelle",
    "Sylvie",
    "Catherine",
    "Françoise",
    "Nicolas",
    "Christophe",
    "Stéphane",
    "Sébastien",
    "Julien",
    "Camille",
    "Léa",
    "Chloé",
    "Emma",
    "Hélène",
    "Jérôme",
    "Frédéric",
    "Éric",
    "Céline",
    "Aurélie",
    "Thierry",
    "Valérie",
    "Patrick",
    "Sandrine",
    "Laurent",
    "Christine",
    "Olivier",
    "Sophie",
    "Élodie",
    "Benoît",
    "Zoé",
    "Inès",
    "Théo",
    "Noémie",
];
/// Words of French mail about water bills, pensions and social aid.
pub const WORDS: &[&str] = &[
    "réclamation",
    "facture",
    "paiement",
    "relevé",
    "compteur",
    "consommation",
    "résiliation",
    "contrat",
    "abonnement",
    "échéancier",
    "remboursement",
    "prélèvement",
    "attestation",
    "retraite",
    "pension",
    "cotisation",
    "allocation",
    "dossier",
    "demande",
    "courrier",
    "réponse",
    "adresse",
    "déménagement",
    "régularisation",
    "dégrèvement",
    "fuite",
    "eau",
    "assainissement",
    "impayé",
    "relance",
    "demeure",
    "médiateur",
    "litige",
    "contestation",
    "rectification",
    "justificatif",
    "pièce",
    "signature",
    "banque",
    "virement",
    "chèque",
    "montant",
    "solde",
    "trimestre",
    "annuel",
    "mensuel",
    "estimation",
    "logement",
    "locataire",
    "propriétaire",
    "syndic",
    "copropriété",
    "agence",
    "conseiller",
    "téléphone",
    "message",
    "portail",
    "client",
    "identifiant",
    "carte",
    "sécurité",
    "mutuelle",
    "complémentaire",
    "santé",
    "invalidité",
    "décès",
    "réversion",
    "conjoint",
    "enfant",
    "naissance",
    "mariage",
    "divorce",
    "succession",
    "notaire",
    "héritier",
    "capital",
    "rente",
    "versement",
    "effet",
    "calcul",
    "droits",
    "carrière",
    "employeur",
    "salaire",
    "bulletin",
    "entreprise",
    "établissement",
    "siège",
    "gérant",
    "société",
    "collectivité",
    "mairie",
    "commune",
    "département",
    "préfecture",
    "aide",
    "énergie",
    "fonds",
    "solidarité",
    "urgence",
    "délai",
    "report",
    "plan",
    "apurement",
    "dette",
    "créance",
    "recouvrement",
    "huissier",
    "tribunal",
    "jugement",
    "appel",
    "recours",
    "gracieux",
    "commission",
    "amiable",
    "décision",
    "notification",
    "accord",
    "refus",
    "motif",
    "erreur",
    "omission",
    "retard",
    "pénalité",
    "majoration",
    "exonération",
    "réduction",
    "tarif",
    "barème",
    "index",
    "quittance",
    "avenant",
    "sinistre",
    "expertise",
    "indemnité",
    "garantie",
];

/// A person of the synthetic archive, as queries pick them.
#[derive(Debug, Clone)]
pub struct Person {
    pub nir: String,
    pub last_name: &'static str,
    pub birth_date: String,
}

#[derive(Debug, Clone)]
pub struct Company {
    pub siren: String,
}

/// What was generated, for drawing realistic query parameters.
pub struct Synthetic {
    pub persons: Vec<Person>,
    pub companies: Vec<Company>,
    /// For each document, the person it concerns (`u32::MAX` if none), then the company.
    pub document_person: Vec<u32>,
    pub document_company: Vec<u32>,
    pub document_types: Vec<String>,
}

/// Index in `0..n`, skewed towards 0 (u² puts a few parties far ahead, as real archives do).
fn skewed(rng: &mut SmallRng, n: usize) -> usize {
    let u: f64 = rng.random();
    ((n as f64) * u * u) as usize % n
}

fn luhn_digit(prefix: &str) -> char {
    (0..10u8)
        .map(|d| format!("{prefix}{d}"))
        .find(|candidate| crate::identifiers::luhn_check(candidate))
        .and_then(|candidate| candidate.chars().last())
        .expect("one digit completes a Luhn number")
}

fn person(rng: &mut SmallRng, i: usize) -> Person {
    let department = match rng.random_range(0..100) {
        0 => "2A".to_string(),
        1 => "2B".to_string(),
        _ => format!(
            "{:02}",
            [rng.random_range(1..20), rng.random_range(21..96)][rng.random_range(0..2)]
        ),
    };
    let body = format!(
        "{}{:02}{:02}{}{:06}",
        rng.random_range(1..3),
        rng.random_range(0..100),
        rng.random_range(1..13),
        department,
        i % 1_000_000
    );
    let numeric: u64 = body
        .replace("2A", "19")
        .replace("2B", "18")
        .parse()
        .expect("digits");
    let nir =
        Nir::parse(&format!("{body}{:02}", 97 - numeric % 97)).expect("a generated NIR is valid");
    let birth =
        time::Date::from_calendar_date(rng.random_range(1930..2006), time::Month::January, 1)
            .expect("valid")
            + time::Duration::days(rng.random_range(0..365));
    Person {
        nir: nir.as_str().to_string(),
        last_name: LAST_NAMES[rng.random_range(0..LAST_NAMES.len())],
        birth_date: crate::dates::format_date(birth),
    }
}

pub(crate) fn sentence(rng: &mut SmallRng, words: std::ops::Range<usize>) -> String {
    let count = rng.random_range(words);
    (0..count)
        .map(|_| WORDS[skewed(rng, WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Inserts `(kind, value, party id)` references of the default tenant.
async fn insert_references(
    connection: &mut SqliteConnection,
    references: impl IntoIterator<Item = (&'static str, String, i64)>,
) -> Result<(), sqlx::Error> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO party_references (tenant_id, kind, value, party_id) ",
    );
    query.push_values(references, |mut row, (kind, value, id)| {
        row.push_bind("default")
            .push_bind(kind)
            .push_bind(value)
            .push_bind(id);
    });
    query.build().execute(connection).await?;
    Ok(())
}

/// Writes `documents` documents (and their parties) into the catalog behind `connection`.
pub async fn generate(
    connection: &mut SqliteConnection,
    documents: usize,
    seed: u64,
) -> anyhow::Result<Synthetic> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let person_count = (documents / 5).max(10);
    let company_count = (documents / 50).max(5);
    let now = crate::dates::now_timestamp();
    sqlx::query("PRAGMA synchronous = OFF")
        .execute(&mut *connection)
        .await?;
    let blob = "0".repeat(64);
    sqlx::query("INSERT INTO blobs (sha256, size, media_type, created_at) VALUES ($1, 1000, 'application/pdf', $2)")
        .bind(&blob)
        .bind(&now)
        .execute(&mut *connection)
        .await?;

    let persons: Vec<Person> = (0..person_count).map(|i| person(&mut rng, i)).collect();
    let companies: Vec<(Company, Vec<String>)> = (0..company_count)
        .map(|j| {
            let prefix = format!("{:08}", 10_000_000 + j * 7);
            let siren =
                Siren::parse(&format!("{prefix}{}", luhn_digit(&prefix))).expect("valid SIREN");
            let sirets = (0..rng.random_range(1..5))
                .map(|k| {
                    let prefix = format!("{}{:04}", siren.as_str(), k + 1);
                    Siret::parse(&format!("{prefix}{}", luhn_digit(&prefix)))
                        .expect("valid SIRET")
                        .to_string()
                })
                .collect();
            (
                Company {
                    siren: siren.to_string(),
                },
                sirets,
            )
        })
        .collect();

    let mut transaction = connection.begin().await?;
    for (chunk_start, chunk) in persons.chunks(500).enumerate().map(|(n, c)| (n * 500, c)) {
        let mut parties = QueryBuilder::<Sqlite>::new(
            "INSERT INTO parties (id, tenant_id, kind, last_name, first_name, birth_date, created_at, updated_at) ",
        );
        parties.push_values(chunk.iter().enumerate(), |mut row, (offset, person)| {
            row.push_bind((chunk_start + offset + 1) as i64)
                .push_bind("default")
                .push_bind("individual")
                .push_bind(person.last_name)
                .push_bind(FIRST_NAMES[(chunk_start + offset) % FIRST_NAMES.len()])
                .push_bind(&person.birth_date)
                .push_bind(&now)
                .push_bind(&now);
        });
        parties.build().execute(&mut *transaction).await?;
        insert_references(
            &mut transaction,
            chunk.iter().enumerate().flat_map(|(offset, person)| {
                let id = (chunk_start + offset + 1) as i64;
                [
                    ("nir", person.nir.clone(), id),
                    ("client_number", format!("C{:07}", chunk_start + offset), id),
                ]
            }),
        )
        .await?;
    }
    let company_party = |j: usize| (person_count + j + 1) as i64;
    for (chunk_start, chunk) in companies.chunks(500).enumerate().map(|(n, c)| (n * 500, c)) {
        let mut parties = QueryBuilder::<Sqlite>::new(
            "INSERT INTO parties (id, tenant_id, kind, name, created_at, updated_at) ",
        );
        parties.push_values(chunk.iter().enumerate(), |mut row, (offset, _)| {
            let j = chunk_start + offset;
            row.push_bind(company_party(j))
                .push_bind("default")
                .push_bind("company")
                .push_bind(format!(
                    "Société {} {}",
                    WORDS[j % WORDS.len()],
                    WORDS[(j / WORDS.len()) % WORDS.len()]
                ))
                .push_bind(&now)
                .push_bind(&now);
        });
        parties.build().execute(&mut *transaction).await?;
        insert_references(
            &mut transaction,
            chunk
                .iter()
                .enumerate()
                .flat_map(|(offset, (company, sirets))| {
                    let j = chunk_start + offset;
                    let id = company_party(j);
                    std::iter::once(("siren", company.siren.clone(), id))
                        .chain(std::iter::once(("company_number", format!("E{j:06}"), id)))
                        .chain(sirets.iter().map(move |siret| ("siret", siret.clone(), id)))
                }),
        )
        .await?;
    }
    transaction.commit().await?;

    let document_types: Vec<String> = (0..40).map(|t| format!("TYPE-{t:02}")).collect();
    let first_day = time::macros::date!(2016 - 01 - 01);
    let mut document_person = Vec::with_capacity(documents);
    let mut document_company = Vec::with_capacity(documents);
    let chunk_size = 400;
    let mut transaction = connection.begin().await?;
    for chunk_start in (0..documents).step_by(chunk_size) {
        let chunk_end = (chunk_start + chunk_size).min(documents);
        struct Generated {
            id: String,
            seq: i64,
            document_type: String,
            source: String,
            direction: &'static str,
            channel: &'static str,
            date: String,
            archived_at: String,
            title: String,
            text: String,
            sensitive: bool,
            links: Vec<(i64, Option<String>)>,
        }
        let mut batch = Vec::with_capacity(chunk_end - chunk_start);
        for i in chunk_start..chunk_end {
            let roll = rng.random_range(0..100);
            let person = (roll < 85).then(|| skewed(&mut rng, person_count));
            let company = (roll >= 80).then(|| skewed(&mut rng, company_count));
            document_person.push(person.map_or(u32::MAX, |p| p as u32));
            document_company.push(company.map_or(u32::MAX, |c| c as u32));
            let mut links = Vec::new();
            if let Some(p) = person {
                links.push(((p + 1) as i64, None));
            }
            if let Some(c) = company {
                let sirets = &companies[c].1;
                links.push((
                    company_party(c),
                    Some(sirets[rng.random_range(0..sirets.len())].clone()),
                ));
            }
            let inbound = rng.random_range(0..10) < 7;
            let day = first_day + time::Duration::days(rng.random_range(0..3653));
            let archived = day.midnight().assume_utc()
                + time::Duration::seconds(rng.random_range(86_400..10 * 86_400));
            batch.push(Generated {
                id: uuid::Uuid::now_v7().to_string(),
                seq: (i + 1) as i64,
                document_type: document_types[skewed(&mut rng, 40)].clone(),
                source: format!("SRC-{}", rng.random_range(0..10)),
                direction: if inbound { "inbound" } else { "outbound" },
                channel: ["postal", "postal", "postal", "email", "web", "fax"]
                    [rng.random_range(0..6)],
                date: crate::dates::format_date(day),
                archived_at: crate::dates::format_timestamp(archived),
                title: sentence(&mut rng, 3..7),
                text: sentence(&mut rng, 20..41),
                sensitive: rng.random_range(0..50) == 0,
                links,
            });
        }
        let mut changes = QueryBuilder::<Sqlite>::new(
            "INSERT INTO changes (seq, tenant_id, document_id, kind, at) ",
        );
        changes.push_values(&batch, |mut row, d| {
            row.push_bind(d.seq)
                .push_bind("default")
                .push_bind(&d.id)
                .push_bind("document_archived")
                .push_bind(&d.archived_at);
        });
        changes.build().execute(&mut *transaction).await?;
        let mut rows = QueryBuilder::<Sqlite>::new(
            "INSERT INTO documents (id, tenant_id, sha256, size, media_type, direction, channel, source, \
             document_type, document_date, title, sensitive, archived_at, archived_seq, seq) ",
        );
        rows.push_values(&batch, |mut row, d| {
            row.push_bind(&d.id)
                .push_bind("default")
                .push_bind(&blob)
                .push_bind(1000i64)
                .push_bind("application/pdf")
                .push_bind(d.direction)
                .push_bind(d.channel)
                .push_bind(&d.source)
                .push_bind(&d.document_type)
                .push_bind(&d.date)
                .push_bind(&d.title)
                .push_bind(d.sensitive)
                .push_bind(&d.archived_at)
                .push_bind(d.seq)
                .push_bind(d.seq);
        });
        rows.build().execute(&mut *transaction).await?;
        let mut texts =
            QueryBuilder::<Sqlite>::new("INSERT INTO document_texts (document_id, text) ");
        texts.push_values(&batch, |mut row, d| {
            row.push_bind(&d.id).push_bind(&d.text);
        });
        texts.build().execute(&mut *transaction).await?;
        let mut links = QueryBuilder::<Sqlite>::new(
            "INSERT INTO document_parties (document_id, position, party_id, siret) ",
        );
        links.push_values(
            batch.iter().flat_map(|d| {
                d.links
                    .iter()
                    .enumerate()
                    .map(move |(position, link)| (d, position, link))
            }),
            |mut row, (d, position, (party, siret))| {
                row.push_bind(&d.id)
                    .push_bind(position as i64)
                    .push_bind(*party)
                    .push_bind(siret);
            },
        );
        links.build().execute(&mut *transaction).await?;
        if chunk_end % 50_000 < chunk_size {
            transaction.commit().await?;
            transaction = connection.begin().await?;
        }
    }
    transaction.commit().await?;
    sqlx::query("PRAGMA synchronous = FULL")
        .execute(&mut *connection)
        .await?;
    Ok(Synthetic {
        persons,
        companies: companies.into_iter().map(|(company, _)| company).collect(),
        document_person,
        document_company,
        document_types,
    })
}
