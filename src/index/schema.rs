//! The index schema, built in one place with typed handles to every field.
//!
//! Identifiers are raw keyword fields (never tokenized); names are folded (case, accents);
//! titles and text use French analysis (stop words, stemming, folding); dates are i64 fast
//! fields for ranges and sorting; type, source and direction are fast string columns for facets.

use tantivy::Index;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, StopWordFilter,
    TextAnalyzer,
};

use super::queue::{AnalysedBytes, Counted};
use super::stemming::FrenchStemmer;

/// Bumped whenever the fields or their analysis change: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 4;

/// Names: split on non-alphanumerics, lower case, accents folded ("Lefèvre" = "LEFEVRE").
pub const NAME_TOKENIZER: &str = "ged_name";
/// French text: the same, plus French stop words and stemming ("réclamations" = "réclamation").
pub const FRENCH_TOKENIZER: &str = "ged_french";

/// Handles to every field of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub tenant: Field,
    /// 1 for sensitive documents, 0 otherwise.
    pub sensitive: Field,
    pub nir: Field,
    pub client_number: Field,
    pub person_name: Field,
    pub birth_date: Field,
    pub siren: Field,
    pub siret: Field,
    pub company_number: Field,
    pub company_name: Field,
    pub source: Field,
    pub document_type: Field,
    pub direction: Field,
    pub channel: Field,
    pub agent: Field,
    pub recipient: Field,
    /// The scanning centre's reference of the batch the document arrived in.
    pub batch: Field,
    /// References of the dossiers the document is in.
    pub dossier: Field,
    /// The statuses of those dossiers.
    pub dossier_status: Field,
    /// Days since 1970-01-01 of the document date.
    pub document_day: Field,
    pub year: Field,
    /// Microseconds since the epoch of the archiving.
    pub archived_micros: Field,
    /// Sort key by document date, unique: the day in the high bits, the archive order below.
    pub date_key: Field,
    /// Sort key by archive date: the archive order.
    pub archived_key: Field,
    pub title: Field,
    pub text: Field,
    /// The search hit, stored as JSON: what a result list shows without asking the catalog.
    pub hit: Field,
}

pub fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        tenant: builder.add_text_field("tenant", STRING),
        sensitive: builder.add_u64_field("sensitive", INDEXED),
        nir: builder.add_text_field("nir", STRING),
        client_number: builder.add_text_field("client_number", STRING),
        person_name: builder.add_text_field("person_name", text(NAME_TOKENIZER)),
        birth_date: builder.add_text_field("birth_date", STRING),
        siren: builder.add_text_field("siren", STRING),
        siret: builder.add_text_field("siret", STRING),
        company_number: builder.add_text_field("company_number", STRING),
        company_name: builder.add_text_field("company_name", text(NAME_TOKENIZER)),
        source: builder.add_text_field("source", STRING | FAST),
        document_type: builder.add_text_field("document_type", STRING | FAST),
        direction: builder.add_text_field("direction", STRING | FAST),
        channel: builder.add_text_field("channel", STRING),
        agent: builder.add_text_field("agent", STRING),
        recipient: builder.add_text_field("recipient", text(NAME_TOKENIZER)),
        batch: builder.add_text_field("batch", STRING),
        dossier: builder.add_text_field("dossier", STRING),
        dossier_status: builder.add_text_field("dossier_status", STRING),
        document_day: builder.add_i64_field("document_day", FAST),
        year: builder.add_u64_field("year", FAST),
        archived_micros: builder.add_i64_field("archived_micros", FAST),
        date_key: builder.add_i64_field("date_key", FAST),
        archived_key: builder.add_i64_field("archived_key", FAST),
        title: builder.add_text_field("title", text(FRENCH_TOKENIZER)),
        text: builder.add_text_field("text", text(FRENCH_TOKENIZER)),
        hit: builder.add_text_field("hit", STORED),
    };
    (builder.build(), fields)
}

/// Registers the analysers the schema names; needed on every `Index` opened or created.
/// Returns the count of bytes its French analyser (titles and texts) is given.
pub fn register_tokenizers(index: &Index) -> AnalysedBytes {
    let names = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build();
    // Stemming before folding: the French stemmer knows accented suffixes.
    let analysed = AnalysedBytes::default();
    let counted = Counted {
        inner: SimpleTokenizer::default(),
        analysed: analysed.clone(),
    };
    let french = TextAnalyzer::builder(counted)
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(StopWordFilter::new(Language::French).expect("tantivy ships French stop words"))
        .filter(FrenchStemmer)
        .filter(AsciiFoldingFilter)
        .build();
    index.tokenizers().register(NAME_TOKENIZER, names);
    index.tokenizers().register(FRENCH_TOKENIZER, french);
    analysed
}
