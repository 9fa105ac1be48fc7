//! The benchmark a user runs works end to end (its figures are read by people, not asserted).

use crate::helpers::ged;

#[test]
fn the_search_benchmark_runs_on_a_small_archive() {
    let folder = tempfile::tempdir().unwrap();
    let bench_dir = folder.path().join("bench");
    let output = ged(&[
        "bench",
        "search",
        "--documents",
        "3000",
        "--queries",
        "5",
        "--bench-dir",
        bench_dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
    }
    assert!(
        !stdout.contains("totals differ"),
        "both engines must find the same documents: {stdout}"
    );
}
