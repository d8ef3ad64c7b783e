//! A request's parameters as Go's `Request.ParseForm` collects them: the
//! `application/x-www-form-urlencoded` body of a POST first, then the URL's query
//! string, several values per name kept in that order.

use axum::http::{HeaderMap, Method, header};

/// Parsed parameters.
#[derive(Debug, Default)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Collects the parameters of a request.
    pub(crate) fn parse(
        method: &Method,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Form {
        let mut pairs = Vec::new();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim())
            .is_some_and(|v| v.eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if is_form && matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
            pairs.extend(form_urlencoded::parse(body).into_owned());
        }
        if let Some(q) = query {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        Form { pairs }
    }

    /// The first value of `name`, if any (Go's `FormValue`, except that a missing
    /// parameter is `None` rather than empty).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or `""`.
    pub(crate) fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Every value of `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_values_come_before_url_values() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let f = Form::parse(
            &Method::POST,
            &h,
            Some("query=url&match[]=a"),
            b"query=body%2B1&match%5B%5D=b",
        );
        assert_eq!(f.get("query"), Some("body+1"));
        assert_eq!(f.all("match[]"), vec!["b".to_string(), "a".to_string()]);
        assert_eq!(f.get("x"), None);
        let g = Form::parse(&Method::GET, &h, Some("query=up"), b"query=ignored");
        assert_eq!(g.value("query"), "up");
    }
}
