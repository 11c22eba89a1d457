//! The API's operations as its OpenAPI document lists them, to answer a wrong method with the
//! `Allow` header that RFC 9110 asks a 405 to carry.
use poem::http::Method;

/// Path templates (`/sources/{id}`) and the methods each allows.
#[derive(Debug, Default)]
pub struct Routes(Vec<(Vec<String>, Vec<String>)>);

impl Routes {
    /// Reads the `paths` of an OpenAPI document.
    pub fn from_spec(spec: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut routes = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (template, ops) in paths {
                let mut methods: Vec<String> = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                methods.sort();
                routes.push((segments(template), methods));
            }
        }
        Routes(routes)
    }

    /// The `Allow` value for `path`: the methods of the template it matches.
    pub fn allow(&self, path: &str) -> Option<String> {
        let wanted = segments(path);
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == wanted.len()
                    && template
                        .iter()
                        .zip(&wanted)
                        .all(|(t, w)| t == w || (t.starts_with('{') && !w.is_empty()))
            })
            .map(|(_, methods)| methods.join(", "))
    }

    /// Whether `method` is one the API has anywhere (else a request is refused as unknown).
    pub fn knows(&self, method: &Method) -> bool {
        self.0
            .iter()
            .any(|(_, methods)| methods.iter().any(|m| m == method.as_str()))
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_end_matches('/')
        .split('/')
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_follows_the_templates() {
        let routes = Routes::from_spec(
            r#"{"paths": {"/health": {"get": {}}, "/sources/{id}": {"get": {}, "patch": {},
                "delete": {}}, "/sources/{id}/import": {"post": {}}}}"#,
        );
        assert_eq!(routes.allow("/health").as_deref(), Some("GET, HEAD"));
        assert_eq!(
            routes.allow("/sources/7").as_deref(),
            Some("DELETE, GET, HEAD, PATCH")
        );
        assert_eq!(routes.allow("/sources/7/import").as_deref(), Some("POST"));
        assert_eq!(routes.allow("/sources//import"), None);
        assert_eq!(routes.allow("/nothing"), None);
        assert!(routes.knows(&Method::PATCH) && !routes.knows(&Method::TRACE));
    }
}
