//! The content store's conformance suite: the same checks on the local filesystem and on a
//! real S3-compatible server (`s3s-fs`, from crates.io: `cargo install s3s-fs --version 0.14.1
//! --features binary`), and a `ged serve` process keeping its content on S3.
//!
//! Without `s3s-fs` on the PATH the S3 tests say they were skipped, unless `GED_REQUIRE_S3` is
//! set, as `.ci/run` does: there they fail.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use ged::content::{ContentError, ContentStore, ObjectCheck, PutOutcome, StagedContent};
use ged::identifiers::Sha256Hex;
use object_store::aws::AmazonS3;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::Value;

use crate::helpers::{metadata, sha256_hex};
use crate::s3::{BUCKET, s3_server, serve_on_s3, with_s3_env};

/// How the suite damages a stored object behind the store's back.
enum Backend {
    Local(PathBuf),
    S3 { raw: Arc<AmazonS3>, prefix: String },
}

impl Backend {
    async fn overwrite(&self, key: &StorePath, bytes: &[u8]) {
        match self {
            Self::Local(root) => std::fs::write(root.join(key.as_ref()), bytes).unwrap(),
            Self::S3 { raw, prefix } => {
                let key = StorePath::from(format!("{prefix}/{key}"));
                raw.put(&key, PutPayload::from(bytes.to_vec()))
                    .await
                    .unwrap();
            }
        }
    }
}

async fn staged(store: &ContentStore, bytes: &[u8]) -> StagedContent {
    let mut writer = store.staging_writer(u64::MAX);
    for chunk in bytes.chunks(64 * 1024) {
        writer.write(chunk).await.unwrap();
    }
    writer.finish().await.unwrap()
}

async fn read_all(store: &ContentStore, sha256: &Sha256Hex, size: u64) -> Vec<u8> {
    let stream = store.read(sha256, size, 0..size).await.unwrap();
    let chunks: Vec<_> = stream.try_collect().await.unwrap();
    chunks.concat()
}

/// Every promise of the content store, on one backend.
async fn conformance(store: ContentStore, backend: Backend) {
    store.check_reachable().await.unwrap();

    // Create-if-absent: stored once, the second put is a dedup hit.
    let small = b"%PDF-1.4 une lettre".to_vec();
    let sha = Sha256Hex::parse(&sha256_hex(&small)).unwrap();
    assert_eq!(
        store.put(staged(&store, &small).await).await.unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        store.put(staged(&store, &small).await).await.unwrap(),
        PutOutcome::AlreadyPresent
    );
    assert_eq!(
        store.stored_size(&sha).await.unwrap(),
        Some(small.len() as u64)
    );
    assert_eq!(
        store
            .first_bytes(&sha, small.len() as u64, 8)
            .await
            .unwrap(),
        &small[..8]
    );
    assert_eq!(read_all(&store, &sha, small.len() as u64).await, small);
    let range: Vec<_> = store
        .read(&sha, small.len() as u64, 4..8)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(range.concat(), &small[4..8]);
    let key = ContentStore::key(&sha);
    assert_eq!(
        store.check(&key).await,
        ObjectCheck::Intact {
            size: small.len() as u64
        }
    );

    // Uploads of the same new content at once: each succeeds, one object results.
    let raced = b"%PDF-1.4 envoyee deux fois en meme temps".to_vec();
    let raced_sha = Sha256Hex::parse(&sha256_hex(&raced)).unwrap();
    let mut uploads = Vec::new();
    for _ in 0..4 {
        uploads.push(staged(&store, &raced).await);
    }
    let outcomes = futures::future::join_all(uploads.into_iter().map(|s| store.put(s))).await;
    for outcome in outcomes {
        outcome.unwrap();
    }
    assert_eq!(
        read_all(&store, &raced_sha, raced.len() as u64).await,
        raced
    );

    // A large upload goes through the staging file and a multipart upload.
    let large: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let large_sha = Sha256Hex::parse(&sha256_hex(&large)).unwrap();
    assert_eq!(
        store.put(staged(&store, &large).await).await.unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        read_all(&store, &large_sha, large.len() as u64).await,
        large
    );

    // Listing finds both under the content prefix.
    let listed: Vec<String> = store
        .list()
        .map(|meta| meta.unwrap().location.to_string())
        .collect()
        .await;
    for expected in [&key, &ContentStore::key(&large_sha)] {
        assert!(
            listed.iter().any(|location| location == expected.as_ref()),
            "{expected} not in {listed:?}"
        );
    }

    // Missing content is an error that names it, never empty bytes.
    let absent = Sha256Hex::parse(&sha256_hex(b"absent")).unwrap();
    assert_eq!(store.stored_size(&absent).await.unwrap(), None);
    assert!(matches!(
        store.read(&absent, 6, 0..6).await,
        Err(ContentError::Missing(_))
    ));

    // Damaged behind the store's back: found by the check, refused while read, repaired by
    // the next upload of the right bytes.
    let mut damaged = small.clone();
    damaged[0] ^= 0xff;
    backend.overwrite(&key, &damaged).await;
    assert!(matches!(
        store.check(&key).await,
        ObjectCheck::Corrupted { .. }
    ));
    let read: Result<Vec<_>, _> = store
        .read(&sha, small.len() as u64, 0..small.len() as u64)
        .await
        .unwrap()
        .try_collect()
        .await;
    assert!(read.is_err(), "damaged bytes were served");
    assert_eq!(
        store.put(staged(&store, &small).await).await.unwrap(),
        PutOutcome::Created
    );
    assert_eq!(read_all(&store, &sha, small.len() as u64).await, small);
}

#[tokio::test]
async fn the_local_store_conforms() {
    let folder = tempfile::tempdir().unwrap();
    let root = folder.path().join("objects");
    let store = ContentStore::open_local(&root, &folder.path().join("staging")).unwrap();
    conformance(store, Backend::Local(root)).await;
}

#[tokio::test]
async fn an_s3_store_conforms() {
    let Some(server) = s3_server("an_s3_store_conforms").await else {
        return;
    };
    let staging = tempfile::tempdir().unwrap();
    let store = ContentStore::open_s3_with(
        server.builder(),
        &format!("s3://{BUCKET}/ged/content"),
        staging.path(),
    )
    .unwrap();
    let raw = Arc::new(server.builder().with_bucket_name(BUCKET).build().unwrap());
    conformance(
        store,
        Backend::S3 {
            raw,
            prefix: "ged/content".into(),
        },
    )
    .await;
}

#[tokio::test]
async fn a_server_keeps_its_content_on_s3() {
    let Some(server) = s3_server("a_server_keeps_its_content_on_s3").await else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let data = data_dir.to_str().unwrap();
    let token = crate::helpers::ged_scanner_token(data);
    let reader = String::from_utf8(
        crate::helpers::ged_async(&[
            "token",
            "create",
            "--data-dir",
            data,
            "--tenant",
            "default",
            "--role",
            "agent",
        ])
        .await
        .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let served = serve_on_s3(&server, &data_dir).await;
    let client = reqwest::Client::new();
    let pdf = include_bytes!("../fixtures/letter-text.pdf");
    let form = reqwest::multipart::Form::new()
        .text("metadata", metadata().to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(pdf.to_vec())
                .file_name("courrier.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let response = client
        .post(served.url("/api/v1/documents"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let document: Value = response.json().await.unwrap();
    let id = document["id"].as_str().unwrap();
    // Nothing in a local content folder: the bytes are in the bucket.
    assert!(!data_dir.join("objects").exists());
    let raw = server.builder().with_bucket_name(BUCKET).build().unwrap();
    let key = format!(
        "prod/{}",
        ContentStore::key(&Sha256Hex::parse(&sha256_hex(pdf)).unwrap())
    );
    let stored = raw.get(&StorePath::from(key)).await.unwrap().bytes().await;
    assert_eq!(stored.unwrap().as_ref(), pdf);
    let content = client
        .get(served.url(&format!("/api/v1/documents/{id}/content")))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), pdf);
    // Several files in one request go to the bucket too, each durable there before the answer.
    let scans = [
        crate::helpers::pdf_bytes("scan 1"),
        crate::helpers::pdf_bytes("scan 2"),
    ];
    let form = scans
        .iter()
        .fold(reqwest::multipart::Form::new(), |form, scan| {
            form.part(
                sha256_hex(scan),
                reqwest::multipart::Part::bytes(scan.clone()),
            )
        });
    let response = client
        .post(served.url("/api/v1/blobs"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for scan in &scans {
        let key = format!(
            "prod/{}",
            ContentStore::key(&Sha256Hex::parse(&sha256_hex(scan)).unwrap())
        );
        let stored = raw.get(&StorePath::from(key)).await.unwrap().bytes().await;
        assert_eq!(stored.unwrap().as_ref(), scan.as_slice());
    }
    assert!(!data_dir.join("objects").exists());
    let ready = client.get(served.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    drop(served);

    // The archive is bound to its store: without `--store` it refuses, saying which.
    let forgot = crate::helpers::ged_async(&["verify", "--data-dir", data]).await;
    assert!(!forgot.status.success());
    let said = String::from_utf8_lossy(&forgot.stderr);
    assert!(
        said.contains(&format!("--store s3://{BUCKET}/prod")),
        "{said}"
    );
    // With it, `ged verify` re-hashes the objects in the bucket.
    let mut verify = Command::new(env!("CARGO_BIN_EXE_ged"));
    verify.args(["verify", "--data-dir", data]);
    let verified = with_s3_env(&mut verify, &server)
        .args(["--store", &format!("s3://{BUCKET}/prod")])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{report}");
    assert!(report.contains("objects:   3 re-hashed"), "{report}");
    assert!(report.contains("the archive is intact"), "{report}");
}
