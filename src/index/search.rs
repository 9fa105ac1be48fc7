//! Running a search: criteria to a tantivy query (the scope's tenant and sensitivity are always
//! part of it), sorted hits with an opaque cursor, total and facet counts.

use std::collections::HashMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{
    AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value as _};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, DocId, Order, Score, SegmentReader, TantivyDocument, Term};
use time::{Date, OffsetDateTime};

use super::document::{day_number, micros};
use super::schema::NAME_TOKENIZER;
use super::writer::SearchIndex;
use crate::access::Scope;
use crate::documents::model::DocumentId;
use crate::identifiers::{Nir, Siren, Siret};

/// About two lines of a letter: enough to recognise it in a result list.
const EXTRACT_CHARS: usize = 200;

/// A short passage of a hit's text around the words searched for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Extract {
    pub text: String,
    /// The found words, as `[start, end)` character positions in `text`.
    pub highlights: Vec<[usize; 2]>,
}

/// How results are ordered.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Sort {
    /// Document date, newest first.
    #[default]
    DateDesc,
    DateAsc,
    /// Archive date, newest first.
    ArchivedDesc,
    ArchivedAsc,
    /// Best text match first (with `q`).
    Relevance,
}

impl Sort {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DateDesc => "date_desc",
            Self::DateAsc => "date_asc",
            Self::ArchivedDesc => "archived_desc",
            Self::ArchivedAsc => "archived_asc",
            Self::Relevance => "relevance",
        }
    }
}

/// Validated search criteria. Every criterion given must hold (AND); several values of one
/// multi-valued criterion are alternatives (OR).
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub nir: Option<Nir>,
    pub client_number: Option<String>,
    pub name: Option<String>,
    pub birth_date: Option<Date>,
    pub siren: Option<Siren>,
    pub siret: Option<Siret>,
    pub company_number: Option<String>,
    pub company_name: Option<String>,
    pub sources: Vec<String>,
    pub document_types: Vec<String>,
    pub directions: Vec<String>,
    pub channels: Vec<String>,
    pub agents: Vec<String>,
    /// Batch references (`batch_ref`) of scanning centres' batches.
    pub batches: Vec<String>,
    /// References of dossiers the document is in.
    pub dossiers: Vec<String>,
    /// Statuses (open, closed, cancelled) of a dossier the document is in.
    pub dossier_statuses: Vec<String>,
    pub recipient: Option<String>,
    pub sensitive: Option<bool>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub archived_from: Option<OffsetDateTime>,
    pub archived_to: Option<OffsetDateTime>,
    pub q: Option<String>,
    pub sort: Sort,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

/// Where the next page starts. Key sorts resume after the last key seen (stable while documents
/// keep arriving); relevance resumes at an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub sort: Sort,
    #[serde(rename = "k", skip_serializing_if = "Option::is_none")]
    pub after_key: Option<i64>,
    #[serde(rename = "o", skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).expect("a cursor serialises"))
    }

    pub fn decode(text: &str) -> Option<Self> {
        serde_json::from_slice(&hex::decode(text).ok()?).ok()
    }
}

/// One facet value and how many matching documents carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Facets {
    pub document_type: Vec<FacetCount>,
    pub source: Vec<FacetCount>,
    pub direction: Vec<FacetCount>,
    pub year: Vec<FacetCount>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub total: u64,
    #[schema(value_type = Vec<super::document::Hit>)]
    pub hits: Vec<Value>,
    pub facets: Facets,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The catalog change sequence these results reflect.
    pub indexed_seq: i64,
}

impl SearchIndex {
    /// Searches within the scope: its tenant only, and sensitive documents only if it sees them.
    pub fn search(&self, scope: &Scope, request: &SearchRequest) -> tantivy::Result<SearchResults> {
        let indexed_seq = self.indexed_seq();
        let searcher = self.reader.searcher();
        let criteria = self.criteria_query(scope, request)?;
        let facet_collector = FacetCollector;
        let (total, facets) = searcher.search(&criteria, &(Count, facet_collector))?;

        // Defence in depth below the HTTP validation: a library caller gets sane bounds too.
        let limit = request.limit.clamp(1, 1000);
        let mut next_cursor = None;
        let addresses: Vec<DocAddress> = match request.sort {
            Sort::Relevance => {
                let offset = request
                    .cursor
                    .and_then(|c| c.offset)
                    .unwrap_or(0)
                    .min(super::criteria::MAX_RELEVANCE_DEPTH);
                let top = searcher.search(
                    &criteria,
                    &TopDocs::with_limit(limit + 1)
                        .and_offset(offset)
                        .order_by_score(),
                )?;
                if top.len() > limit {
                    next_cursor = Some(Cursor {
                        sort: Sort::Relevance,
                        after_key: None,
                        offset: Some(offset + limit),
                    });
                }
                top.into_iter()
                    .take(limit)
                    .map(|(_, address)| address)
                    .collect()
            }
            sort => {
                let (field, name, order) = match sort {
                    Sort::DateDesc => (self.fields.date_key, "date_key", Order::Desc),
                    Sort::DateAsc => (self.fields.date_key, "date_key", Order::Asc),
                    Sort::ArchivedDesc => (self.fields.archived_key, "archived_key", Order::Desc),
                    Sort::ArchivedAsc | Sort::Relevance => {
                        (self.fields.archived_key, "archived_key", Order::Asc)
                    }
                };
                let page_query: Box<dyn Query> = match request.cursor.and_then(|c| c.after_key) {
                    None => Box::new(criteria),
                    Some(key) => {
                        let after = match order {
                            Order::Desc => range_i64(field, Bound::Unbounded, Bound::Excluded(key)),
                            Order::Asc => range_i64(field, Bound::Excluded(key), Bound::Unbounded),
                        };
                        Box::new(BooleanQuery::new(vec![
                            (Occur::Must, Box::new(criteria)),
                            (Occur::Must, after),
                        ]))
                    }
                };
                let top = searcher.search(
                    &page_query,
                    &TopDocs::with_limit(limit + 1).order_by_fast_field::<i64>(name, order),
                )?;
                if top.len() > limit
                    && let Some((Some(key), _)) = top.get(limit - 1)
                {
                    next_cursor = Some(Cursor {
                        sort,
                        after_key: Some(*key),
                        offset: None,
                    });
                }
                top.into_iter()
                    .take(limit)
                    .map(|(_, address)| address)
                    .collect()
            }
        };
        let mut hits = Vec::with_capacity(addresses.len());
        for address in addresses {
            let stored: TantivyDocument = searcher.doc(address)?;
            if let Some(hit) = stored.get_first(self.fields.hit).and_then(|v| v.as_str()) {
                hits.push(serde_json::from_str(hit).unwrap_or(Value::Null));
            }
        }
        Ok(SearchResults {
            total: total as u64,
            hits,
            facets,
            next_cursor: next_cursor.map(|cursor| cursor.encode()),
            indexed_seq,
        })
    }

    fn criteria_query(
        &self,
        scope: &Scope,
        request: &SearchRequest,
    ) -> tantivy::Result<BooleanQuery> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(AllQuery))];
        let mut must = |query: Box<dyn Query>| clauses.push((Occur::Must, query));
        // The scope comes first, and no criterion can lift it.
        must(term(f.tenant, scope.tenant().as_str()));
        if !scope.sees_sensitive() {
            must(term_u64(f.sensitive, 0));
        }
        if let Some(sensitive) = request.sensitive {
            must(term_u64(f.sensitive, u64::from(sensitive)));
        }
        if let Some(nir) = &request.nir {
            must(term(f.nir, nir.as_str()));
        }
        if let Some(number) = &request.client_number {
            must(term(f.client_number, number));
        }
        if let Some(name) = &request.name {
            must(self.all_words(f.person_name, name)?);
        }
        if let Some(date) = request.birth_date {
            must(term(f.birth_date, &crate::dates::format_date(date)));
        }
        if let Some(siren) = &request.siren {
            must(term(f.siren, siren.as_str()));
        }
        if let Some(siret) = &request.siret {
            must(term(f.siret, siret.as_str()));
        }
        if let Some(number) = &request.company_number {
            must(term(f.company_number, number));
        }
        if let Some(name) = &request.company_name {
            must(self.all_words(f.company_name, name)?);
        }
        if let Some(recipient) = &request.recipient {
            must(self.all_words(f.recipient, recipient)?);
        }
        for (field, values) in [
            (f.source, &request.sources),
            (f.document_type, &request.document_types),
            (f.direction, &request.directions),
            (f.channel, &request.channels),
            (f.agent, &request.agents),
            (f.batch, &request.batches),
            (f.dossier, &request.dossiers),
            (f.dossier_status, &request.dossier_statuses),
        ] {
            if !values.is_empty() {
                must(Box::new(TermSetQuery::new(
                    values.iter().map(|v| Term::from_field_text(field, v)),
                )));
            }
        }
        if request.from.is_some() || request.to.is_some() {
            let from = request
                .from
                .map_or(Bound::Unbounded, |d| Bound::Included(day_number(d)));
            let to = request
                .to
                .map_or(Bound::Unbounded, |d| Bound::Included(day_number(d)));
            must(range_i64(f.document_day, from, to));
        }
        if request.archived_from.is_some() || request.archived_to.is_some() {
            let from = request
                .archived_from
                .map_or(Bound::Unbounded, |t| Bound::Included(micros(t)));
            let to = request
                .archived_to
                .map_or(Bound::Unbounded, |t| Bound::Excluded(micros(t)));
            must(range_i64(f.archived_micros, from, to));
        }
        if let Some(q) = &request.q {
            must(self.words_query(q));
        }
        Ok(BooleanQuery::new(clauses))
    }

    /// The full-text part of a search: every word of `q` in the title or the text, with the
    /// query parser's syntax (quotes for phrases, `-` to exclude), forgiving typos in it.
    fn words_query(&self, q: &str) -> Box<dyn Query> {
        let mut parser =
            QueryParser::for_index(&self.index, vec![self.fields.title, self.fields.text]);
        parser.set_conjunction_by_default();
        parser.parse_query_lenient(q).0
    }

    /// For each document text, the passage where `q`'s words occur, the words marked; texts
    /// where none occurs (a hit by its title) have none.
    pub fn extracts(
        &self,
        q: &str,
        texts: &[(DocumentId, String)],
    ) -> tantivy::Result<Vec<(DocumentId, Extract)>> {
        let searcher = self.reader.searcher();
        let query = self.words_query(q);
        let mut generator = SnippetGenerator::create(&searcher, &*query, self.fields.text)?;
        generator.set_max_num_chars(EXTRACT_CHARS);
        Ok(texts
            .iter()
            .filter_map(|(id, text)| {
                let snippet = generator.snippet(text);
                if snippet.highlighted().is_empty() {
                    return None;
                }
                let fragment = snippet.fragment();
                let chars = |byte: usize| fragment[..byte].chars().count();
                let highlights = snippet
                    .highlighted()
                    .iter()
                    .map(|range| [chars(range.start), chars(range.end)])
                    .collect();
                Some((
                    *id,
                    Extract {
                        text: fragment.to_string(),
                        highlights,
                    },
                ))
            })
            .collect())
    }

    /// Every word of `text`, analysed as names are, must occur in `field`.
    fn all_words(&self, field: Field, text: &str) -> tantivy::Result<Box<dyn Query>> {
        let mut analyzer = self
            .index
            .tokenizers()
            .get(NAME_TOKENIZER)
            .expect("registered at open");
        let mut stream = analyzer.token_stream(text);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        while stream.advance() {
            clauses.push((Occur::Must, term(field, &stream.token().text)));
        }
        if clauses.is_empty() {
            // Only separators: nothing can match.
            return Ok(Box::new(BooleanQuery::new(vec![(
                Occur::MustNot,
                Box::new(AllQuery),
            )])));
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

fn term_u64(field: Field, value: u64) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_u64(field, value),
        IndexRecordOption::Basic,
    ))
}

fn range_i64(field: Field, from: Bound<i64>, to: Bound<i64>) -> Box<dyn Query> {
    let bound = |b: Bound<i64>| match b {
        Bound::Included(v) => Bound::Included(Term::from_field_i64(field, v)),
        Bound::Excluded(v) => Bound::Excluded(Term::from_field_i64(field, v)),
        Bound::Unbounded => Bound::Unbounded,
    };
    Box::new(RangeQuery::new(bound(from), bound(to)))
}

/// Counts matching documents by type, source, direction and year, from the fast columns.
struct FacetCollector;

struct FacetSegment {
    document_type: Option<StrColumn>,
    source: Option<StrColumn>,
    direction: Option<StrColumn>,
    year: Column<u64>,
    counts: [Vec<u64>; 3],
    years: HashMap<u64, u64>,
}

type FacetFruit = [HashMap<String, u64>; 4];

impl Collector for FacetCollector {
    type Fruit = Facets;
    type Child = FacetSegment;

    fn for_segment(&self, _: u32, segment: &SegmentReader) -> tantivy::Result<FacetSegment> {
        let fast = segment.fast_fields();
        let document_type = fast.str("document_type")?;
        let source = fast.str("source")?;
        let direction = fast.str("direction")?;
        let size = |column: &Option<StrColumn>| column.as_ref().map_or(0, |c| c.num_terms());
        let counts = [
            vec![0; size(&document_type)],
            vec![0; size(&source)],
            vec![0; size(&direction)],
        ];
        Ok(FacetSegment {
            document_type,
            source,
            direction,
            year: fast.u64("year")?,
            counts,
            years: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetFruit>) -> tantivy::Result<Facets> {
        let mut merged: FacetFruit = Default::default();
        for fruit in fruits {
            for (total, part) in merged.iter_mut().zip(fruit) {
                for (value, count) in part {
                    *total.entry(value).or_default() += count;
                }
            }
        }
        let sorted = |counts: HashMap<String, u64>| {
            let mut list: Vec<FacetCount> = counts
                .into_iter()
                .map(|(value, count)| FacetCount { value, count })
                .collect();
            list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            list
        };
        let [document_type, source, direction, year] = merged;
        let mut year = sorted(year);
        year.sort_by(|a, b| b.value.cmp(&a.value));
        Ok(Facets {
            document_type: sorted(document_type),
            source: sorted(source),
            direction: sorted(direction),
            year,
        })
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = FacetFruit;

    fn collect(&mut self, doc: DocId, _: Score) {
        for (column, counts) in [&self.document_type, &self.source, &self.direction]
            .into_iter()
            .zip(self.counts.iter_mut())
        {
            if let Some(column) = column {
                for ordinal in column.term_ords(doc) {
                    counts[ordinal as usize] += 1;
                }
            }
        }
        if let Some(year) = self.year.first(doc) {
            *self.years.entry(year).or_default() += 1;
        }
    }

    fn harvest(self) -> FacetFruit {
        let named = |column: Option<StrColumn>, counts: Vec<u64>| {
            let mut map = HashMap::new();
            if let Some(column) = column {
                let mut value = String::new();
                for (ordinal, count) in counts.into_iter().enumerate().filter(|(_, c)| *c > 0) {
                    if column
                        .ord_to_str(ordinal as u64, &mut value)
                        .unwrap_or(false)
                    {
                        map.insert(value.clone(), count);
                    }
                }
            }
            map
        };
        let [document_types, sources, directions] = self.counts;
        [
            named(self.document_type, document_types),
            named(self.source, sources),
            named(self.direction, directions),
            self.years
                .into_iter()
                .map(|(year, count)| (year.to_string(), count))
                .collect(),
        ]
    }
}
