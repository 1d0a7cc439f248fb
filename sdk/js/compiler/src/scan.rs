//! Finds the names a script exports, without running it.
//!
//! Recognised (at the top level or anywhere, since this is a scan, not a
//! parse): ES `export function f`, `export async function f`,
//! `export const|let|var f`, `export { f, g as h }`; CommonJS
//! `module.exports = { f, g: ..., h() {} }`, `module.exports.f =` and
//! `exports.f =`. Comments, strings and template literals are blanked out
//! first, so names inside them do not count.

/// The exported names in order of first appearance.
pub fn exports(source: &str) -> Vec<String> {
    let code = blank_literals(source);
    let mut names = Vec::new();
    let mut add = |name: &str| {
        if !name.is_empty() && name != "default" && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    };
    let mut rest = code.as_str();
    while let Some(i) = rest.find(|c: char| is_ident_start(c)) {
        let before = code[..code.len() - rest.len() + i]
            .trim_end()
            .chars()
            .last();
        rest = &rest[i..];
        let word = ident(rest);
        rest = &rest[word.len()..];
        if before == Some('.') {
            continue; // a property such as `foo.exports`, not a statement
        }
        match word {
            "export" => es_export(rest, &mut add),
            "module" => {
                if let Some(after) = strip(rest, ".").and_then(|r| strip_word(r, "exports")) {
                    commonjs(after, true, &mut add);
                }
            }
            "exports" => commonjs(rest, false, &mut add),
            _ => {}
        }
    }
    names
}

/// After `export`.
fn es_export(rest: &str, add: &mut impl FnMut(&str)) {
    let mut rest = rest;
    if let Some(after) = strip_word(rest, "async") {
        rest = after;
    }
    if let Some(after) = strip_word(rest, "function") {
        add(ident(strip(after, "*").unwrap_or(after).trim_start()));
    } else if let Some(after) = ["const", "let", "var"]
        .iter()
        .find_map(|kw| strip_word(rest, kw))
    {
        add(ident(after.trim_start()));
    } else if let Some(after) = strip(rest, "{") {
        // `export { a, b as c }`: the exported name is the last word.
        let list = after.split('}').next().unwrap_or_default();
        for item in list.split(',') {
            add(item.split_whitespace().last().unwrap_or_default());
        }
    }
}

/// After `module.exports` (`whole`) or `exports`.
fn commonjs(rest: &str, whole: bool, add: &mut impl FnMut(&str)) {
    if let Some(after) = strip(rest, ".") {
        let name = ident(after.trim_start());
        if strip(&after.trim_start()[name.len()..], "=").is_some_and(|r| !r.starts_with('=')) {
            add(name);
        }
    } else if let Some(object) = strip(rest, "=")
        .and_then(|r| strip(r, "{"))
        .filter(|_| whole)
    {
        for entry in top_level_entries(object) {
            // `f`, `f: ...`, `f() {}`, `async f() {}`, `*f() {}`
            let entry = entry.trim_start().trim_start_matches('*').trim_start();
            let entry = strip_word(entry, "async").map_or(entry, str::trim_start);
            add(ident(entry));
        }
    }
}

/// The comma-separated entries of an object literal body, up to its `}`.
fn top_level_entries(body: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in body.char_indices() {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' if depth == 0 => {
                entries.push(&body[start..i]);
                return entries;
            }
            '}' | ')' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                entries.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    entries
}

/// `source` with comments, strings and template literals replaced by spaces
/// (newlines kept).
fn blank_literals(source: &str) -> String {
    #[derive(PartialEq)]
    enum Literal {
        LineComment,
        BlockComment,
        Quoted(char),
    }
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        let literal = match (c, chars.peek()) {
            ('/', Some('/')) => Literal::LineComment,
            ('/', Some('*')) => Literal::BlockComment,
            ('"' | '\'' | '`', _) => Literal::Quoted(c),
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push(' ');
        if literal == Literal::BlockComment {
            chars.next(); // the `*` of `/*`, which must not close it
            out.push(' ');
        }
        let mut previous = None;
        for d in chars.by_ref() {
            out.push(if d == '\n' { '\n' } else { ' ' });
            let closes = match literal {
                Literal::LineComment => d == '\n',
                Literal::BlockComment => previous == Some('*') && d == '/',
                Literal::Quoted(quote) => d == quote && previous != Some('\\'),
            };
            if closes {
                break;
            }
            // A backslash that escapes a backslash escapes nothing after it.
            previous = if previous == Some('\\') && d == '\\' {
                None
            } else {
                Some(d)
            };
        }
    }
    out
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$'
}

/// The identifier at the start of `s` ("" if none).
fn ident(s: &str) -> &str {
    let len = s
        .find(|c: char| !(is_ident_start(c) || c.is_ascii_digit()))
        .unwrap_or(s.len());
    if s.starts_with(is_ident_start) {
        &s[..len]
    } else {
        ""
    }
}

/// `s` after optional whitespace and `token`.
fn strip<'a>(s: &'a str, token: &str) -> Option<&'a str> {
    s.trim_start().strip_prefix(token)
}

/// `s` after optional whitespace and the whole word `word`.
fn strip_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let s = s.trim_start();
    (ident(s) == word).then(|| &s[word.len()..])
}

#[cfg(test)]
mod tests {
    use super::exports;

    #[test]
    fn es_exports() {
        let source = "export function a() {}\nexport async function b() {}\n\
                      export const c = () => 1;\nexport { d, e as f };\nfunction g() {}";
        assert_eq!(exports(source), ["a", "b", "c", "d", "f"]);
    }

    #[test]
    fn commonjs_exports() {
        let source = "module.exports = { a, b: (x) => ({ y: 1, z: 2 }), c() { return [1, 2]; }, async d() {} };\n\
                      exports.e = 1; module.exports.f = g; exports.h == 2;";
        assert_eq!(exports(source), ["a", "b", "c", "d", "e", "f"]);
    }

    #[test]
    fn comments_and_strings_do_not_count() {
        let source = "// export function a() {}\n/* export function b() */\n\
                      const s = \"export function c\\\" export function d\";\n\
                      const t = `export function e`;\nconst u = '\\\\'; /*/ export function g */\n\
                      export function f() {}";
        assert_eq!(exports(source), ["f"]);
    }
}
