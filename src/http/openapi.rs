//! The OpenAPI 3.1 document of the API, generated from the handlers' annotations and the types
//! they exchange, so that it cannot drift from the code: a route exists only if it was
//! registered with its description (`utoipa_axum::routes!`).
//!
//! The published JSON Schemas of `schema/` (document metadata, batch manifests) are the source
//! of truth for what they describe; they are embedded in the document as components rather
//! than described twice.

use std::sync::LazyLock;

use axum::Json;
use axum::response::Html;
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::batches::manifest::MANIFEST_SCHEMA;
use crate::documents::metadata::METADATA_SCHEMA;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ged",
        description = "Archive of inbound and outbound mail: documents stored once by SHA-256, \
            found by the person or company they concern, gathered in dossiers. Every call except \
            the health, metrics and documentation endpoints takes `Authorization: Bearer <token>`; \
            a token belongs to one tenant and has one role (see docs/access-control.md).",
    ),
    components(schemas(
        crate::index::Sort,
        crate::http::formats::CalendarDate,
        crate::http::formats::DateOrInstant,
        crate::http::formats::Rfc3339Instant,
        crate::http::formats::Sha256
    )),
    tags(
        (name = "documents", description = "Archive one document, read it back"),
        (name = "batches", description = "Scanning centres' batches: blobs by hash, then a manifest"),
        (name = "search", description = "Find documents by person, company, source, date, type, words"),
        (name = "dossiers", description = "Case files gathering a client's inbound and outbound documents"),
        (name = "clients", description = "Everything about one person or company; the right-of-access export"),
        (name = "tokens", description = "Bearer tokens of a tenant (admin)"),
        (name = "audit", description = "The access trail (auditors)"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
struct ApiDoc;

/// Registers a route together with its description.
pub fn documented() -> OpenApiRouter<std::sync::Arc<super::AppState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
}

/// The document as served: generated paths and types, the published schemas, bearer security
/// and the error answers every operation may give.
pub static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let (_, openapi) = super::api_routes(0).split_for_parts();
    publish(openapi)
});

/// The value at `pointer`, which the generated document must hold: a renamed type or route
/// fails loudly here (and in the tests) instead of patching a new, empty entry.
fn at<'a>(document: &'a mut Value, pointer: &str) -> &'a mut Value {
    document
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("the OpenAPI document has no {pointer}"))
}

/// A published schema as a component: its references rewritten to point inside the OpenAPI
/// document (tools resolve those; few follow `$id`s).
fn embedded(text: &str, name: &str) -> Value {
    let mut text = text.replace(
        "\"document-metadata.schema.json#/",
        "\"#/components/schemas/DocumentMetadata/",
    );
    text = text.replace(
        "\"#/$defs/",
        &format!("\"#/components/schemas/{name}/$defs/"),
    );
    let mut schema: Value = serde_json::from_str(&text).expect("the published schemas are JSON");
    let object = schema.as_object_mut().expect("a schema is an object");
    // The OpenAPI 3.1 dialect is JSON Schema 2020-12 already.
    object.remove("$schema");
    object.remove("$id");
    schema
}

/// A code (sources, references): letters, digits and `_.:-`, 64 at most, as
/// `crate::validation::is_code` checks.
const CODE_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$";

fn publish(openapi: utoipa::openapi::OpenApi) -> Value {
    let mut document = serde_json::to_value(openapi).expect("the OpenAPI document serialises");
    let schemas = at(&mut document, "/components/schemas");
    schemas["DocumentMetadata"] = embedded(METADATA_SCHEMA, "DocumentMetadata");
    schemas["BatchManifest"] = embedded(MANIFEST_SCHEMA, "BatchManifest");
    // Dossiers name parties as documents do: the published definitions, not a second copy.
    let schemas = schemas.as_object_mut().expect("schemas are an object");
    schemas.remove("IndividualInput");
    schemas.remove("CompanyInput");
    let party_lists = [("individuals", "individual"), ("companies", "company")];
    for (list, definition) in party_lists {
        *at(
            &mut document,
            &format!("/components/schemas/DossierInput/properties/{list}/items"),
        ) = json!({"$ref": format!("#/components/schemas/DocumentMetadata/$defs/{definition}")});
    }
    // The metadata part of a single upload is a JSON object following the published schema:
    // in OpenAPI 3.1 an object-typed part is sent as `application/json`, said once more in
    // the operation's `encoding`.
    *at(
        &mut document,
        "/components/schemas/ArchiveForm/properties/metadata",
    ) = json!({
        "$ref": "#/components/schemas/DocumentMetadata",
        "description": "The document's metadata: a part of type `application/json`",
    });
    // Any other part is refused, named.
    at(&mut document, "/components/schemas/ArchiveForm")["additionalProperties"] = json!(false);
    *at(
        &mut document,
        "/paths/~1api~1v1~1documents/post/requestBody/content/multipart~1form-data",
    )
    .as_object_mut()
    .expect("a media type is an object")
    .entry("encoding")
    .or_insert(json!({})) = json!({"metadata": {"contentType": "application/json"}});
    // One part per file, each named with the SHA-256 of its bytes: a map from names to files,
    // which the derived schema cannot say.
    *at(&mut document, "/components/schemas/BlobsForm") = json!({
        "type": "object",
        "description": "One part per file (1 to 1,000), each named with the SHA-256 of its \
            bytes, 64 lower-case hex digits; a file name, if given, names the part in errors",
        "propertyNames": {"$ref": "#/components/schemas/Sha256"},
        "additionalProperties": {"type": "string", "format": "binary"},
        "minProperties": 1,
        "maxProperties": 1000,
    });
    // Token requests: archiving roles are bound to one source, the others to none.
    let token = at(&mut document, "/components/schemas/CreateToken");
    token["properties"]["name"]["maxLength"] = json!(100);
    token["properties"]["name"]["pattern"] = json!("\\S");
    token["properties"]["source"]["pattern"] = json!(CODE_PATTERN);
    token["properties"]["expires"]["pattern"] = json!("^[1-9][0-9]{0,5}[smhd]$");
    token["if"] = json!({"properties": {"role": {"enum": ["scanner", "outbound"]}}});
    token["then"] = json!({"required": ["source"], "properties": {"source": {"type": "string"}}});
    token["else"] = json!({"properties": {"source": {"type": "null"}}});
    // Dossier categories: 1 to 100 characters once trimmed, each once (in any case).
    *at(
        &mut document,
        "/paths/~1api~1v1~1dossier-categories/put/requestBody/content/application~1json/schema",
    ) = json!({
        "type": "array",
        "minItems": 1,
        "maxItems": crate::dossiers::http::MAX_CATEGORIES,
        "uniqueItems": true,
        "items": {"type": "string", "pattern": "^\\s*\\S(?:[\\s\\S]{0,98}\\S)?\\s*$"},
        "description": "The categories, each 1 to 100 characters once trimmed, none twice in any case",
    });
    *at(
        &mut document,
        "/paths/~1api~1v1~1batches/post/requestBody/content/application~1json/schema",
    ) = json!({"$ref": "#/components/schemas/BatchManifest"});

    // The search and the dossier list read their query as the web UI's forms send it: an
    // empty value is no criterion at all.
    for path in ["/api/v1/search", "/api/v1/dossiers"] {
        let pointer = format!("/paths/{}/get/parameters", path.replace('/', "~1"));
        let parameters = at(&mut document, &pointer)
            .as_array_mut()
            .expect("parameters are a list");
        for parameter in parameters {
            let schema = parameter["schema"].take();
            parameter["schema"] = json!({"anyOf": [schema, {"type": "string", "maxLength": 0}]});
        }
    }

    let components = &mut document["components"];
    components["securitySchemes"]["bearer"] = json!({
        "type": "http", "scheme": "bearer",
        "description": "`ged_` and 64 hex digits, issued by `POST /api/v1/tokens` or `ged token create`",
    });
    components["securitySchemes"]["session"] = json!({
        "type": "apiKey", "in": "cookie", "name": crate::access::session::COOKIE_NAME,
        "description": "The web UI's session (sign in at /ui/connexion): accepted for GET and HEAD only",
    });
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}});
    components["responses"] = json!({
        "BadRequest": {"description": "The request cannot be read: not multipart where multipart is required, a query string or body cut off or undecodable (a JSON body that does not fit is a 422 naming `body`)", "content": error},
        "Unauthorized": {"description": "No token, or an unknown, revoked or expired one", "content": error},
        "Forbidden": {"description": "The token's role does not allow this", "content": error},
        "Internal": {"description": "Internal error; the cause is logged, never shown", "content": error},
    });

    // Files travel as bytes, not as the arrays of numbers `Vec<u8>` describes in JSON; every
    // answer has a description, as OpenAPI requires.
    let binary = json!({"type": "string", "format": "binary"});
    if let Some(paths) = document["paths"].as_object_mut() {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            let parts = item
                .values_mut()
                .filter_map(Value::as_object_mut)
                .flat_map(|operation| operation.iter_mut());
            for (key, part) in parts {
                // `get_mut`, never `value["content"]`: indexing a JSON object for writing adds
                // the key as `null` where an answer has no body, which no validator accepts.
                let contents: Vec<&mut Value> = match key.as_str() {
                    "requestBody" => part.get_mut("content").into_iter().collect(),
                    "responses" => part
                        .as_object_mut()
                        .into_iter()
                        .flat_map(|responses| responses.iter_mut())
                        .filter_map(|(status, response)| {
                            if response.get("description").is_none() {
                                response["description"] = json!(default_description(status));
                            }
                            response.get_mut("content")
                        })
                        .collect(),
                    _ => continue,
                };
                for content in contents.into_iter().filter_map(Value::as_object_mut) {
                    for (media_type, entry) in content.iter_mut() {
                        if media_type != "application/json"
                            && entry["schema"]["type"] == "array"
                            && entry["schema"]["items"]["type"] == "integer"
                        {
                            entry["schema"] = binary.clone();
                        }
                    }
                }
            }
        }
    }

    let public = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/docs",
    ];
    if let Some(paths) = document["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                let public = public.contains(&path.as_str());
                operation["security"] = if public {
                    json!([])
                } else if matches!(method.as_str(), "get" | "head") {
                    json!([{"bearer": []}, {"session": []}])
                } else {
                    json!([{"bearer": []}])
                };
                let responses = &mut operation["responses"];
                if !public {
                    if responses.get("400").is_none() {
                        responses["400"] = json!({"$ref": "#/components/responses/BadRequest"});
                    }
                    responses["401"] = json!({"$ref": "#/components/responses/Unauthorized"});
                    if responses.get("403").is_none() {
                        responses["403"] = json!({"$ref": "#/components/responses/Forbidden"});
                    }
                }
                responses["500"] = json!({"$ref": "#/components/responses/Internal"});
            }
        }
    }
    document
}

fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "204" => "Done; no body",
        "400" => "The request cannot be read",
        "403" => "The token's role does not allow this",
        "404" => "Not found in the caller's scope",
        "409" => "Conflicts with what is archived",
        "413" => "Larger than allowed",
        "422" => "Invalid input; every field at fault is named",
        "503" => "Not available now",
        _ => "See the error body",
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
async fn openapi_json() -> Json<Value> {
    Json(DOCUMENT.clone())
}

/// The API for humans: every operation with its description, parameters and answers.
#[utoipa::path(get, path = "/api/v1/docs", tag = "operations",
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String)))]
async fn docs_page() -> Html<String> {
    Html(render_docs(&DOCUMENT))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A plain page: no script, no external resource, readable on any office PC.
fn render_docs(document: &Value) -> String {
    let mut page = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ged API</title>\
         <style>body{font-family:sans-serif;max-width:60rem;margin:auto;padding:1rem;line-height:1.4}\
         code{background:#eee;padding:0 .2rem}h3{margin-bottom:.2rem}.m{font-weight:bold}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .4rem;text-align:left}</style>\
         </head><body><h1>ged API</h1>",
    );
    let info = &document["info"];
    page.push_str(&format!(
        "<p>{}</p><p>Machine-readable: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a> \
         (OpenAPI {}).</p>",
        escape(info["description"].as_str().unwrap_or_default()),
        escape(document["openapi"].as_str().unwrap_or_default())
    ));
    let empty = serde_json::Map::new();
    for tag in document["tags"].as_array().into_iter().flatten() {
        let name = tag["name"].as_str().unwrap_or_default();
        page.push_str(&format!(
            "<h2>{}</h2><p>{}</p>",
            escape(name),
            escape(tag["description"].as_str().unwrap_or_default())
        ));
        for (path, item) in document["paths"].as_object().unwrap_or(&empty) {
            for (method, operation) in item.as_object().unwrap_or(&empty) {
                let tagged = operation["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.iter().any(|t| t == name));
                if !tagged {
                    continue;
                }
                page.push_str(&format!(
                    "<h3><span class=\"m\">{}</span> <code>{}</code></h3><p>{}</p>",
                    method.to_uppercase(),
                    escape(path),
                    escape(
                        operation["description"]
                            .as_str()
                            .or(operation["summary"].as_str())
                            .unwrap_or_default()
                    )
                ));
                if let Some(parameters) = operation["parameters"].as_array() {
                    page.push_str("<table><tr><th>parameter</th><th>in</th><th></th></tr>");
                    for parameter in parameters {
                        page.push_str(&format!(
                            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                            escape(parameter["name"].as_str().unwrap_or_default()),
                            escape(parameter["in"].as_str().unwrap_or_default()),
                            escape(parameter["description"].as_str().unwrap_or_default())
                        ));
                    }
                    page.push_str("</table>");
                }
                let statuses: Vec<String> = operation["responses"]
                    .as_object()
                    .map(|responses| responses.keys().cloned().collect())
                    .unwrap_or_default();
                page.push_str(&format!("<p>Answers: {}</p>", escape(&statuses.join(", "))));
            }
        }
    }
    page.push_str("</body></html>");
    page
}
