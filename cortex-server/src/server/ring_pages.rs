//! The ring status pages: `/ingester/ring`, `/distributor/ring` and
//! `/store-gateway/ring` (an HTML table of
//! the instances with a forget button, or the descriptor as JSON with
//! `?format=json` or `Accept: application/json`), and `/memberlist`, the gossip
//! membership of this process.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cortex_ring::{DISTRIBUTOR_RING_KEY, INGESTER_RING_KEY, RingClient, STORE_GATEWAY_RING_KEY};

use super::AppState;
use super::api::Form;

/// `GET|POST /ingester/ring`.
pub(crate) async fn ingester_ring(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let page = Page {
        key: INGESTER_RING_KEY,
        title: "Ingester ring",
        path: "/ingester/ring",
        heartbeat_timeout: state
            .config
            .ingester
            .lifecycler
            .ring
            .heartbeat_timeout
            .to_std(),
    };
    let ring = state.ring.clone();
    page.render(&state, &ring, &method, &headers, query.as_deref(), &body)
        .await
}

/// `GET|POST /distributor/ring`.
pub(crate) async fn distributor_ring(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let Some(ring) = state.distributor_ring.clone() else {
        return super::not_running("distributor");
    };
    let page = Page {
        key: DISTRIBUTOR_RING_KEY,
        title: "Distributor ring",
        path: "/distributor/ring",
        heartbeat_timeout: state.config.distributor.ring.heartbeat_timeout.to_std(),
    };
    page.render(&state, &ring, &method, &headers, query.as_deref(), &body)
        .await
}

/// `GET|POST /store-gateway/ring`.
pub(crate) async fn store_gateway_ring(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let Some(ring) = state.store_gateway_ring.clone() else {
        return super::not_running("store-gateway");
    };
    let page = Page {
        key: STORE_GATEWAY_RING_KEY,
        title: "Store-gateway ring",
        path: "/store-gateway/ring",
        heartbeat_timeout: state
            .config
            .store_gateway
            .sharding_ring
            .heartbeat_timeout
            .to_std(),
    };
    page.render(&state, &ring, &method, &headers, query.as_deref(), &body)
        .await
}

/// One ring's page.
struct Page {
    key: &'static str,
    title: &'static str,
    path: &'static str,
    /// Instances with an older heartbeat are shown as UNHEALTHY.
    heartbeat_timeout: std::time::Duration,
}

impl Page {
    async fn render(
        &self,
        state: &AppState,
        ring: &RingClient,
        method: &Method,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &Bytes,
    ) -> Response {
        let form = Form::parse(method, headers, query, body);
        let json = form.get("format").is_some_and(|f| f == "json")
            || headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("application/json"));
        if json {
            let snapshot = ring.ring();
            return (
                [(header::CONTENT_TYPE, "application/json")],
                snapshot.desc().encode(),
            )
                .into_response();
        }
        let mut notice = String::new();
        // Forgetting changes the ring, so only a POST (the page's button) may do it.
        if let Some(id) = form
            .get("forget")
            .filter(|id| !id.is_empty() && method == Method::POST)
        {
            notice = self.forget(state, id).await;
        }
        let snapshot = ring.ring();
        let desc = snapshot.desc();
        let owned = desc.ownership();
        let wall = std::time::SystemTime::now();
        let now = wall
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut rows = String::new();
        for (id, inst) in &desc.ingesters {
            // As Cortex's page: an instance whose heartbeat timed out is UNHEALTHY,
            // whatever state it last wrote.
            let shown = if inst.is_heartbeat_healthy(self.heartbeat_timeout, wall) {
                inst.state.as_str()
            } else {
                "UNHEALTHY"
            };
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}s ago</td><td>{}</td><td>{:.2}%</td><td><form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"forget\" value=\"{}\"><button type=\"submit\">Forget</button></form></td></tr>\n",
                html_escape(id),
                html_escape(&inst.zone),
                html_escape(&inst.addr),
                shown,
                now - inst.timestamp,
                inst.tokens.len(),
                owned.get(id).copied().unwrap_or(0.0) * 100.0,
                self.path,
                html_escape(id),
            ));
        }
        let title = self.title;
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>\n<h1>{title}</h1>\n{notice}<table border=\"1\">\n<tr><th>Instance ID</th><th>Zone</th><th>Address</th><th>State</th><th>Last heartbeat</th><th>Tokens</th><th>Ownership</th><th></th></tr>\n{rows}</table>\n</body></html>\n"
            ),
        )
            .into_response()
    }

    /// Removes instance `id` from the ring; the notice to show.
    async fn forget(&self, state: &AppState, id: &str) -> String {
        let kv = state.kv.clone();
        let key = self.key;
        let id2 = id.to_string();
        let res =
            tokio::task::spawn_blocking(move || cortex_ring::forget::forget(&*kv, key, &id2)).await;
        let id = html_escape(id);
        match res {
            Ok(Ok(true)) => format!("<p>Instance {id} forgotten.</p>\n"),
            Ok(Ok(false)) => format!("<p>Instance {id} is not in the ring.</p>\n"),
            Ok(Err(e)) => format!(
                "<p>Forgetting {id} failed: {}</p>\n",
                html_escape(&e.to_string())
            ),
            Err(e) => format!(
                "<p>Forgetting {id} failed: {}</p>\n",
                html_escape(&e.to_string())
            ),
        }
    }
}

/// `GET /memberlist`: this member and the members it knows; JSON with
/// `?format=json` or `Accept: application/json`.
pub(crate) async fn memberlist(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(member) = &state.gossip else {
        return (
            StatusCode::NOT_FOUND,
            "the ring is not gossiped in this process (-ring.store=memberlist)\n",
        )
            .into_response();
    };
    let members = member.members();
    let json = query.as_deref().is_some_and(|q| q.contains("format=json"))
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
    if json {
        let body = serde_json::json!({
            "name": member.name(),
            "address": member.local_addr().to_string(),
            "members": members
                .iter()
                .map(|(name, addr)| serde_json::json!({"name": name, "address": addr}))
                .collect::<Vec<_>>(),
        });
        return (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    let mut rows = String::new();
    for (name, addr) in &members {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td></tr>\n",
            html_escape(name),
            html_escape(addr)
        ));
    }
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!DOCTYPE html>\n<html><head><title>Memberlist</title></head><body>\n<h1>Memberlist</h1>\n<p>This member: {} at {}</p>\n<p>Known members: {}</p>\n<table border=\"1\">\n<tr><th>Name</th><th>Address</th></tr>\n{rows}</table>\n</body></html>\n",
            html_escape(member.name()),
            member.local_addr(),
            members.len(),
        ),
    )
        .into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
