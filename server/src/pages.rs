//! The pages the server serves itself, embedded in the binary (no separate
//! web server, no CDN): the lobby (`/`), the live viewer (`/view`), the
//! operator page (`/ops`), their assets (`/static/...`, from
//! `server/web/`), and the JavaScript client library they load
//! (`/js/...`, from `clients/js/src/`), which a studio's own pages may load
//! from here too.
//!
//! The pages are plain ES modules with no build step; they reach the
//! server through the same endpoints any client uses (`/ws`, `/rooms`,
//! `/webtransport`, the operator API with its token).

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

/// The pages and their assets (`server/web/`).
#[derive(RustEmbed)]
#[folder = "web/"]
#[exclude = "tsconfig.json"]
struct Web;

/// The JavaScript client library (`clients/js/src/`).
#[derive(RustEmbed)]
#[folder = "../clients/js/src/"]
#[include = "**/*.js"]
struct Library;

/// The content type of a file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// A file's answer: 200 with its type, or 404.
fn file(data: Option<rust_embed::EmbeddedFile>, path: &str) -> Response {
    match data {
        Some(file) => (
            [
                (header::CONTENT_TYPE, content_type(path)),
                // Pages and library change with the server: always
                // revalidate.
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            file.data.into_owned(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

async fn lobby() -> Response {
    file(Web::get("index.html"), "index.html")
}

async fn viewer() -> Response {
    file(Web::get("view.html"), "view.html")
}

async fn operator() -> Response {
    file(Web::get("ops.html"), "ops.html")
}

async fn asset(Path(path): Path<String>) -> Response {
    file(Web::get(&path), &path)
}

async fn library(Path(path): Path<String>) -> Response {
    file(Library::get(&path), &path)
}

/// The page routes (see the module doc).
pub fn router() -> Router {
    Router::new()
        .route("/", get(lobby))
        .route("/view", get(viewer))
        .route("/ops", get(operator))
        .route("/static/{*path}", get(asset))
        .route("/js/{*path}", get(library))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_and_asset_is_embedded_with_its_type() {
        for page in ["index.html", "view.html", "ops.html"] {
            let embedded = Web::get(page).unwrap_or_else(|| panic!("{page} embedded"));
            assert!(
                std::str::from_utf8(&embedded.data)
                    .expect("utf-8")
                    .starts_with("<!DOCTYPE html>"),
                "{page}"
            );
        }
        assert!(Web::get("tsconfig.json").is_none(), "only what pages load");
        assert!(Library::get("index.js").is_some(), "the client library");
        assert!(
            Library::get("transport/websocket.js").is_some(),
            "and its subfolders"
        );
        assert_eq!(content_type("a/b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x"), "application/octet-stream");
    }
}
