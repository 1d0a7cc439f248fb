//! HTTP through the host. The plugin's `allowed_hosts` decides which hosts
//! it may reach; a refused request fails the call in the host, so a guest
//! only ever sees responses.

use extism_pdk::HttpRequest;
use serde_json::value::RawValue;

use crate::Error;

/// How deep a fetched document may nest. Embedded as a field of the output
/// object, it is one level deeper, which must stay within the host's output
/// limit of 128 (docs/contract.md, section 4).
pub const MAX_EMBEDDED_DEPTH: usize = 127;

/// A response with any status: 4xx and 5xx are responses too.
#[derive(Debug)]
pub struct Response {
    status: u16,
    body: Vec<u8>,
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    let request = HttpRequest::new(url).with_method("GET");
    let response = extism_pdk::http::request::<Vec<u8>>(&request, None)
        .map_err(|e| Error::upstream_error(format!("GET `{url}`: {e}")))?;
    Ok(Response {
        status: response.status_code(),
        body: response.body(),
    })
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as one JSON document, kept exactly as the server wrote it
    /// minus the JSON whitespace around it, so numbers and strings reach the
    /// caller unchanged, ready to embed as a field of the output. Anything
    /// else (not UTF-8, empty, trailing data, nested deeper than
    /// [`MAX_EMBEDDED_DEPTH`]) is `upstream_error`.
    pub fn json_verbatim(&self) -> Result<Box<RawValue>, Error> {
        let json: Box<RawValue> = serde_json::from_slice(&self.body).map_err(|e| {
            Error::upstream_error(format!("response body is not one JSON document: {e}"))
        })?;
        // serde_json reads a raw value without its usual depth limit.
        let depth = nesting_depth(json.get());
        if depth > MAX_EMBEDDED_DEPTH {
            return Err(Error::upstream_error(format!(
                "response body nests {depth} levels deep, more than {MAX_EMBEDDED_DEPTH}"
            )));
        }
        Ok(json)
    }
}

/// The deepest nesting of arrays and objects in `json`, a valid document:
/// brackets count except inside strings.
fn nesting_depth(json: &str) -> usize {
    let (mut depth, mut deepest) = (0, 0);
    let (mut in_string, mut escaped) = (false, false);
    for byte in json.bytes() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            _ if in_string => {}
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth -= 1,
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::nesting_depth;

    #[test]
    fn scalars_have_depth_zero() {
        assert_eq!(nesting_depth("1.5"), 0);
        assert_eq!(nesting_depth(r#""[{""#), 0);
    }

    #[test]
    fn counts_the_deepest_branch() {
        assert_eq!(nesting_depth("[]"), 1);
        assert_eq!(nesting_depth(r#"{"a":[[1]],"b":[{}]}"#), 3);
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        assert_eq!(nesting_depth(r#"["[[\"{{\\",{"k[":"]"}]"#), 2);
    }
}
