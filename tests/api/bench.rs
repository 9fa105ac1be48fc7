//! The benchmarks a user runs work end to end: their figures are read by people; what is
//! asserted is that they are figures of queries that found what they looked for.

use crate::helpers::ged;

/// Runs `ged bench KIND ARGS… --bench-dir <fresh folder>` and returns its standard output.
fn run_bench(kind: &str, args: &[&str]) -> String {
    let folder = tempfile::tempdir().unwrap();
    let bench_dir = folder.path().join("bench");
    let mut all = vec!["bench", kind];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--bench-dir", bench_dir.to_str().unwrap()]);
    let output = ged(&all);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The numbers of a line of a benchmark's table (`0.46ms`, `301`, `2.1×` are 0.46, 301, 2.1).
fn figures(line: &str) -> Vec<f64> {
    line.split(|c: char| c == '|' || c.is_whitespace())
        .filter_map(|word| {
            word.trim_end_matches("ms")
                .trim_end_matches('×')
                .trim_end_matches(',')
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn the_search_benchmark_runs_on_a_small_archive() {
    // The benchmark itself fails if a query naming a party of an archived document (by NIR,
    // by SIREN, name + birth date) finds nothing on either engine.
    let stdout = run_bench("search", &["--documents", "3000", "--queries", "5"]);
    assert!(stdout.contains("reindexed 3000 documents"), "{stdout}");
    for class in [
        "by NIR",
        "by SIREN",
        "company + type + dates",
        "name + birth date",
        "full text",
    ] {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(class))
            .unwrap_or_else(|| panic!("{class} missing: {stdout}"));
        assert!(line.contains("ms"), "{line}");
        // ged p50, p99, queries/s; SQL p50, p99, queries/s; p99 gain; mean total.
        let row = figures(&line[class.len()..]);
        let [
            ged_p50,
            ged_p99,
            ged_rate,
            sql_p50,
            sql_p99,
            sql_rate,
            _gain,
            mean_total,
        ] = row[..]
        else {
            panic!("{line}: eight figures expected, {row:?}")
        };
        for (p50, p99, rate) in [(ged_p50, ged_p99, ged_rate), (sql_p50, sql_p99, sql_rate)] {
            assert!(0.0 < p50 && p50 <= p99 && rate > 0.0, "{line}");
        }
        if class != "company + type + dates" && class != "full text" {
            assert!(mean_total >= 1.0, "{line}");
        }
    }
    assert!(
        !stdout.contains("totals differ"),
        "both engines must find the same documents: {stdout}"
    );
    let freshness = stdout
        .lines()
        .find(|line| line.starts_with("freshness"))
        .unwrap_or_else(|| panic!("freshness missing: {stdout}"));
    let [documents, p50, max] = figures(freshness)[..] else {
        panic!("{freshness}")
    };
    assert!(documents == 5.0 && 0.0 < p50 && p50 <= max, "{freshness}");
}

#[test]
fn the_ingest_benchmark_runs_on_a_small_batch() {
    let stdout = run_bench("ingest", &["--documents", "40", "--size", "2000"]);
    for line in [
        "| ged ingest",
        "| raw limit",
        "ged / raw limit",
        "peak server memory",
    ] {
        assert!(stdout.contains(line), "{line} missing: {stdout}");
    }
}

#[test]
fn the_extraction_benchmark_reads_its_pages() {
    let stdout = run_bench("extract", &["--pages", "20", "--ocr-pages", "1"]);
    let line = stdout
        .lines()
        .find(|line| line.starts_with("PDF text layer"))
        .unwrap_or_else(|| panic!("text layer row missing: {stdout}"));
    assert!(line.contains(" 20 "), "{line}");
    if std::env::var_os("GED_REQUIRE_OCR").is_some() {
        assert!(stdout.contains("OCR, French, one core"), "{stdout}");
        assert!(stdout.contains("OCR found"), "{stdout}");
    }
}
