//! The OpenAPI document: every route is in it, every operation is exercised here, and every
//! real JSON answer validates against the schema the document gives for its status.

use std::collections::BTreeSet;

use ged::access::{DEFAULT_TENANT, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Checks answers against the document and remembers which operations were seen.
struct Contract {
    document: Value,
    seen: BTreeSet<(String, String)>,
}

impl Contract {
    /// The documented answer for `template` (`/api/v1/documents/{id}`), `method` and `status`.
    fn response(&self, template: &str, method: &Method, status: u16) -> Value {
        let operation = &self.document["paths"][template][method.as_str().to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not in the OpenAPI document"
        );
        let mut response = operation["responses"][status.to_string()].clone();
        assert!(
            response.is_object(),
            "{method} {template} answered {status}, which the document does not list"
        );
        if let Some(reference) = response["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap();
            response = self.document["components"]["responses"][name].clone();
        }
        response
    }

    /// Sends the request, checks its answer against the document, returns status and body.
    async fn call(
        &mut self,
        app: &TestApp,
        token: Option<&str>,
        method: Method,
        template: &str,
        path: &str,
        body: Option<RequestBody>,
    ) -> (u16, Value, Vec<u8>) {
        let mut request = app.client.request(method.clone(), app.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request = match body {
            None => request,
            Some(RequestBody::Json(value)) => request.json(&value),
            Some(RequestBody::Raw(content_type, bytes)) => {
                request.header("content-type", content_type).body(bytes)
            }
            Some(RequestBody::Form(form)) => request.multipart(form),
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = response.bytes().await.unwrap().to_vec();
        let documented = self.response(template, &method, status);
        self.seen
            .insert((template.to_string(), method.as_str().to_lowercase()));
        let content = &documented["content"];
        if method == Method::HEAD || content.is_null() {
            return (status, Value::Null, bytes);
        }
        let media_type = content_type.split(';').next().unwrap().trim().to_string();
        assert!(
            content.get(&media_type).is_some() || content.get("*/*").is_some(),
            "{method} {path} answered {status} as {media_type}, the document says {content}"
        );
        if media_type != "application/json" {
            return (status, Value::Null, bytes);
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        let mut schema = content["application/json"]["schema"].clone();
        // References point into the document's components: give the schema its own copy.
        schema["components"] = self.document["components"].clone();
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("schema of {method} {template} {status}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: the answer does not match its schema: {errors:?}\n{body}"
        );
        (status, body, bytes)
    }
}

fn collect_references(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                into.push(reference.clone());
            }
            object.values().for_each(|v| collect_references(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, into)),
        _ => {}
    }
}

enum RequestBody {
    Json(Value),
    Raw(&'static str, Vec<u8>),
    Form(reqwest::multipart::Form),
}

/// One request of the walk through the API, and the status it must get.
struct Call<'a> {
    token: Option<&'a str>,
    method: Method,
    template: &'static str,
    path: String,
    body: Option<RequestBody>,
    status: u16,
}

fn call<'a>(
    token: Option<&'a str>,
    method: Method,
    template: &'static str,
    path: impl Into<String>,
    status: u16,
) -> Call<'a> {
    Call {
        token,
        method,
        template,
        path: path.into(),
        body: None,
        status,
    }
}

impl Call<'_> {
    fn json(mut self, body: Value) -> Self {
        self.body = Some(RequestBody::Json(body));
        self
    }
}

impl Contract {
    /// Runs the call, checks its status and its answer; the JSON answer.
    async fn run(&mut self, app: &TestApp, call: Call<'_>) -> Value {
        let path = call.path.clone();
        let (status, body, _) = self
            .call(
                app,
                call.token,
                call.method,
                call.template,
                &call.path,
                call.body,
            )
            .await;
        assert_eq!(status, call.status, "{path}: {body}");
        body
    }
}

#[tokio::test]
async fn every_operation_is_documented_and_answers_as_its_schema_says() {
    let app = spawn_app().await;
    let document: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    // Every reference resolves inside the document, every answer is described.
    let mut references = Vec::new();
    collect_references(&document, &mut references);
    assert!(references.len() > 50);
    for reference in &references {
        let pointer = reference.strip_prefix('#').expect("references stay inside");
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} leads nowhere"
        );
    }
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                assert!(
                    response.get("description").is_some() || response.get("$ref").is_some(),
                    "{method} {path} {status} has no description"
                );
            }
        }
    }
    // The check below is not vacuous: a body that is not a document fails it.
    let mut schema = json!({"$ref": "#/components/schemas/Document"});
    schema["components"] = document["components"].clone();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(!validator.is_valid(&json!({"id": 5, "size": "big"})));
    let mut api = Contract {
        document,
        seen: BTreeSet::new(),
    };
    let agent = app.issue_token(DEFAULT_TENANT, Role::Agent, None).await;
    let admin = app.issue_token(DEFAULT_TENANT, Role::Admin, None).await;
    let auditor = app.issue_token(DEFAULT_TENANT, Role::Auditor, None).await;
    let (scanner, agent, admin, auditor) = (
        Some(app.scanner.as_str()),
        Some(agent.as_str()),
        Some(admin.as_str()),
        Some(auditor.as_str()),
    );
    use Method as M;

    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/docs",
    ] {
        api.run(&app, call(None, M::GET, path, path, 200)).await;
    }

    // Documents.
    let mut metadata = metadata();
    metadata["dossiers"] = json!([{"reference": "FAC-1", "create": true, "category": "Facture"}]);
    let form = reqwest::multipart::Form::new()
        .text("metadata", metadata.to_string())
        .part("file", pdf_part("contract"));
    let mut upload = call(
        scanner,
        M::POST,
        "/api/v1/documents",
        "/api/v1/documents",
        201,
    );
    upload.body = Some(RequestBody::Form(form));
    let document = api.run(&app, upload).await;
    let id = document["id"].as_str().unwrap().to_string();
    let seq = document["seq"].as_i64().unwrap();
    let not_multipart = call(
        scanner,
        M::POST,
        "/api/v1/documents",
        "/api/v1/documents",
        400,
    );
    api.run(&app, not_multipart.json(json!({}))).await;
    let one = "/api/v1/documents/{id}";
    let content = "/api/v1/documents/{id}/content";
    let walk = vec![
        call(agent, M::GET, one, format!("/api/v1/documents/{id}"), 200),
        call(
            agent,
            M::GET,
            content,
            format!("/api/v1/documents/{id}/content"),
            200,
        ),
        call(agent, M::GET, one, "/api/v1/documents/nope", 404),
        call(
            agent,
            M::GET,
            "/api/v1/documents/{id}/text",
            "/api/v1/documents/nope/text",
            404,
        ),
        call(None, M::GET, one, format!("/api/v1/documents/{id}"), 401),
        // Search, audit.
        call(
            agent,
            M::GET,
            "/api/v1/search",
            format!("/api/v1/search?min_seq={seq}&nir={NIR}"),
            200,
        ),
        call(
            agent,
            M::GET,
            "/api/v1/search",
            "/api/v1/search?nir=123",
            422,
        ),
        call(auditor, M::GET, "/api/v1/audit", "/api/v1/audit", 200),
        call(admin, M::GET, "/api/v1/tokens", "/api/v1/tokens", 200),
    ];
    for step in walk {
        api.run(&app, step).await;
    }
    let issued = api
        .run(
            &app,
            call(admin, M::POST, "/api/v1/tokens", "/api/v1/tokens", 201)
                .json(json!({"role": "agent", "name": "Anne"})),
        )
        .await;
    let revoke = format!("/api/v1/tokens/{}", issued["id"].as_str().unwrap());
    api.run(
        &app,
        call(admin, M::DELETE, "/api/v1/tokens/{id}", revoke, 204),
    )
    .await;

    // Batches.
    let bytes = pdf_bytes("scan 1");
    let sha = sha256_hex(&bytes);
    let blob = format!("/api/v1/blobs/{sha}");
    api.run(
        &app,
        call(
            scanner,
            M::POST,
            "/api/v1/blobs/missing",
            "/api/v1/blobs/missing",
            200,
        )
        .json(json!({"blobs": [{"sha256": sha, "size": bytes.len()}]})),
    )
    .await;
    let mut put = call(scanner, M::PUT, "/api/v1/blobs/{sha256}", &blob, 201);
    put.body = Some(RequestBody::Raw("application/octet-stream", bytes.clone()));
    api.run(&app, put).await;
    api.run(
        &app,
        call(scanner, M::HEAD, "/api/v1/blobs/{sha256}", &blob, 200),
    )
    .await;
    let second = pdf_bytes("scan 2");
    let mut several = call(scanner, M::POST, "/api/v1/blobs", "/api/v1/blobs", 200);
    several.body = Some(RequestBody::Form(
        reqwest::multipart::Form::new()
            .part(sha.clone(), reqwest::multipart::Part::bytes(bytes.clone()))
            .part(sha256_hex(&second), reqwest::multipart::Part::bytes(second)),
    ));
    api.run(&app, several).await;
    let manifest = json!({
        "batch_ref": "LOT-1", "source": "SCAN-LYON", "scanned_at": "2024-03-07T09:30:00Z",
        "documents": [{"file": "1.pdf", "sha256": sha, "size": bytes.len(),
                       "document_type": "FACTURE", "document_date": "2024-03-01",
                       "individuals": [{"nir": NIR}], "dossiers": ["FAC-1"]}]
    });
    let report = api
        .run(
            &app,
            call(scanner, M::POST, "/api/v1/batches", "/api/v1/batches", 201).json(manifest),
        )
        .await;
    let batch = format!("/api/v1/batches/{}", report["id"].as_str().unwrap());
    api.run(
        &app,
        call(scanner, M::GET, "/api/v1/batches/{id}", batch, 200),
    )
    .await;
    api.run(
        &app,
        call(scanner, M::GET, "/api/v1/batches", "/api/v1/batches", 200),
    )
    .await;

    // Dossiers and client views.
    let categories = "/api/v1/dossier-categories";
    let dossiers = "/api/v1/dossiers";
    let link = "/api/v1/dossiers/{reference}/documents/{id}";
    let to_trv = format!("/api/v1/dossiers/TRV-1/documents/{id}");
    let walk = vec![
        call(agent, M::GET, categories, categories, 200),
        call(admin, M::PUT, categories, categories, 200).json(json!(["Facture", "Travaux"])),
        call(agent, M::POST, dossiers, dossiers, 201).json(json!({
            "reference": "TRV-1", "kind": "request", "category": "Travaux",
            "individuals": [{"nir": NIR}], "companies": [{"siren": SIREN}]
        })),
        call(agent, M::POST, dossiers, dossiers, 409)
            .json(json!({"reference": "TRV-1", "kind": "request", "category": "Travaux"})),
        call(
            agent,
            M::GET,
            dossiers,
            format!("/api/v1/dossiers?nir={NIR}"),
            200,
        ),
        call(
            agent,
            M::GET,
            "/api/v1/dossiers/{reference}",
            "/api/v1/dossiers/FAC-1",
            200,
        ),
        call(agent, M::PUT, link, &to_trv, 201),
        call(agent, M::DELETE, link, &to_trv, 200),
        call(
            agent,
            M::GET,
            "/api/v1/dossiers/{reference}/documents",
            "/api/v1/dossiers/FAC-1/documents",
            200,
        ),
        call(
            agent,
            M::POST,
            "/api/v1/dossiers/{reference}/status",
            "/api/v1/dossiers/TRV-1/status",
            200,
        )
        .json(json!({"status": "closed", "reason": "Travaux faits"})),
        call(
            agent,
            M::GET,
            "/api/v1/individuals/{reference}",
            format!("/api/v1/individuals/{NIR}"),
            200,
        ),
        call(
            agent,
            M::GET,
            "/api/v1/companies/{reference}",
            format!("/api/v1/companies/{SIREN}"),
            200,
        ),
        call(
            agent,
            M::GET,
            "/api/v1/individuals/{reference}/export",
            format!("/api/v1/individuals/{NIR}/export"),
            200,
        ),
    ];
    for step in walk {
        api.run(&app, step).await;
    }

    // Every operation of the document was exercised above.
    let documented: BTreeSet<(String, String)> = api.document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect();
    let missed: Vec<_> = documented.difference(&api.seen).collect();
    assert!(missed.is_empty(), "operations not exercised: {missed:?}");
}

/// The documented date formats take exactly what the server's parsers take, impossible days
/// and leap years included, so that generated "valid" dates are valid.
#[tokio::test]
async fn documented_date_formats_match_the_parsers() {
    let document = ged::http::openapi::DOCUMENT.clone();
    let validator = |name: &str| {
        let mut schema = json!({"$ref": format!("#/components/schemas/{name}")});
        schema["components"] = document["components"].clone();
        jsonschema::validator_for(&schema).unwrap()
    };
    let (date, bound) = (validator("CalendarDate"), validator("DateOrInstant"));
    for text in [
        "2024-02-29",
        "2000-02-29",
        "0000-02-29",
        "1999-12-31",
        "2023-04-30",
        "2023-02-29",
        "1900-02-29",
        "2023-04-31",
        "0000-00-00",
        "2023-2-1",
        "2024-03-05T09:30:00+01:00",
        "1999-12-31T23:59:59.123456789Z",
        "2024-02-29T00:00:00-23:59",
        "2023-02-29T00:00:00Z",
        "0000-00-00T00:00:00Z",
        "2024-03-05T09:30:00",
        "2024-03-05T24:00:00Z",
    ] {
        let value = json!(text);
        assert_eq!(
            date.is_valid(&value),
            ged::dates::parse_date(text).is_ok(),
            "{text}"
        );
        assert_eq!(
            bound.is_valid(&value),
            ged::dates::parse_instant_or_date(text).is_ok(),
            "{text}"
        );
    }
}

/// Whether `openapi-spec-validator` (PyPI) can run here; fails instead of skipping when
/// `GED_REQUIRE_OPENAPI_TOOLS` is set, as `.ci/run` does.
fn spec_validator_installed() -> bool {
    let installed = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed {
        assert!(
            std::env::var_os("GED_REQUIRE_OPENAPI_TOOLS").is_none(),
            "GED_REQUIRE_OPENAPI_TOOLS is set but openapi-spec-validator is not installed"
        );
        eprintln!(
            "SKIPPED: validating the OpenAPI document needs Python 3 and openapi-spec-validator \
             (pip install openapi-spec-validator)"
        );
    }
    installed
}

/// The served document is valid OpenAPI 3.1 for a maintained validator, not only for our own
/// walk above: an answer without a body once carried `"content": null`, which made every
/// OpenAPI tool (schemathesis included) refuse the whole document.
#[tokio::test]
async fn the_served_document_passes_a_maintained_openapi_validator() {
    if !spec_validator_installed() {
        return;
    }
    let app = spawn_app().await;
    let document = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("openapi.json");
    std::fs::write(&file, &document).unwrap();
    let output = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .args(["--validation-errors", "all"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openapi-spec-validator refuses the document:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The validator does say no: the same document with an answer's content made null fails.
    let mut broken: Value = serde_json::from_slice(&document).unwrap();
    broken["paths"]["/healthz"]["get"]["responses"]["200"]["content"] = Value::Null;
    std::fs::write(&file, serde_json::to_vec(&broken).unwrap()).unwrap();
    let refused = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!refused.status.success(), "the validator accepts anything");
}

/// Handlers are mounted only through `utoipa_axum::routes!`, which registers each with its
/// description: a route added with plain axum would serve requests the document never shows.
#[test]
fn no_route_is_mounted_outside_the_documented_router() {
    let mut offenders = Vec::new();
    let source = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    for path in files_under(source) {
        // The web UI serves pages, not API: its routes are outside the document by design.
        if path.starts_with(source.join("ui")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (number, line) in text.lines().enumerate() {
            if line.contains(".route(")
                || line.contains("Router::new()") && !line.contains("OpenApiRouter::new()")
            {
                offenders.push(format!("{}:{}", path.display(), number + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "routes mounted outside routes!(): {offenders:?}"
    );
}
