//! French stemming that remembers the stems it has computed.
//!
//! Running the Snowball algorithm was the largest single cost of indexing (about a sixth of
//! `ged reindex`'s CPU). The words of an archive's titles and texts repeat a great deal, so each
//! analyser keeps the stems it has seen; the result is exactly tantivy's `Stemmer`.

use std::collections::HashMap;

use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};

/// Words an analyser remembers before it forgets them all, checked before each text: about
/// 10 MiB. tantivy clones the analyser for each text field of each segment writer.
const REMEMBERED_WORDS: usize = 100_000;

/// A token filter stemming lowercased French words, as `tantivy::tokenizer::Stemmer` does.
#[derive(Clone, Copy)]
pub struct FrenchStemmer;

impl TokenFilter for FrenchStemmer {
    type Tokenizer<T: Tokenizer> = FrenchStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> FrenchStemmerFilter<T> {
        FrenchStemmerFilter {
            inner: tokenizer,
            stems: HashMap::new(),
        }
    }
}

#[derive(Clone)]
pub struct FrenchStemmerFilter<T> {
    inner: T,
    /// Word → stem. Each clone of the analyser has its own.
    stems: HashMap<String, String>,
}

impl<T: Tokenizer> Tokenizer for FrenchStemmerFilter<T> {
    type TokenStream<'a> = FrenchStemmerStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        if self.stems.len() > REMEMBERED_WORDS {
            self.stems.clear();
        }
        FrenchStemmerStream {
            tail: self.inner.token_stream(text),
            stems: &mut self.stems,
        }
    }
}

pub struct FrenchStemmerStream<'a, T> {
    tail: T,
    stems: &'a mut HashMap<String, String>,
}

impl<T: TokenStream> TokenStream for FrenchStemmerStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        match self.stems.get(&token.text) {
            Some(stem) => {
                token.text.clear();
                token.text.push_str(stem);
            }
            None => {
                let stem = frostem::Stemmer::new(frostem::Algorithm::French)
                    .stem(&token.text)
                    .into_owned();
                let word = std::mem::replace(&mut token.text, stem.clone());
                self.stems.insert(word, stem);
            }
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use tantivy::tokenizer::{Language, LowerCaser, SimpleTokenizer, Stemmer, TextAnalyzer};

    use super::*;

    fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while let Some(token) = stream.next() {
            terms.push(token.text.clone());
        }
        terms
    }

    #[test]
    fn stems_as_tantivy_does_whether_the_word_was_seen_or_not() {
        let text = "Réclamations réclamation RÉCLAMER courriers courrier impayées impayé \
                    résiliation résiliations de la caisse allocations familiales";
        let mut ours = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(FrenchStemmer)
            .build();
        let mut tantivy = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::French))
            .build();
        let expected = terms(&mut tantivy, text);
        assert_eq!(terms(&mut ours, text), expected, "first sight");
        assert_eq!(terms(&mut ours, text), expected, "remembered");
        assert_eq!(expected[0], expected[1], "the stemmer conflates plurals");
    }
}
