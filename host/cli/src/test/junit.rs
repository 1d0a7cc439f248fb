//! `--junit <file>`: the run as JUnit XML, which CI systems show as test
//! results. One `<testsuite>` per plugin; one `<testcase>` per case, named
//! `<case>` in class `<plugin>.<function>`, with its fuel and peak memory
//! in `<system-out>`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use super::{Outcome, Verdict};

pub fn xml(outcomes: &[Outcome], elapsed: Duration) -> String {
    let mut suites: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for outcome in outcomes {
        let plugin = outcome.plugin.as_deref().unwrap_or("-");
        suites.entry(plugin).or_default().push(outcome);
    }
    let failed = |outcomes: &[&Outcome]| {
        outcomes
            .iter()
            .filter(|o| matches!(o.verdict, Verdict::Fail(_)))
            .count()
    };
    let all: Vec<&Outcome> = outcomes.iter().collect();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        r#"<testsuites name="polyplug test" tests="{}" failures="{}" time="{:.6}">"#,
        all.len(),
        failed(&all),
        elapsed.as_secs_f64()
    );
    for (plugin, cases) in &suites {
        let time: Duration = cases
            .iter()
            .filter_map(|o| o.stats)
            .map(|s| s.elapsed)
            .sum();
        let _ = writeln!(
            xml,
            r#"  <testsuite name="{}" tests="{}" failures="{}" time="{:.6}">"#,
            escape(plugin),
            cases.len(),
            failed(cases),
            time.as_secs_f64()
        );
        for outcome in cases {
            testcase(&mut xml, plugin, outcome);
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn testcase(xml: &mut String, plugin: &str, outcome: &Outcome) {
    let time = outcome.stats.map_or(0.0, |s| s.elapsed.as_secs_f64());
    let _ = writeln!(
        xml,
        r#"    <testcase classname="{}" name="{}" time="{time:.6}">"#,
        escape(&format!("{plugin}.{}", outcome.function)),
        escape(&outcome.case),
    );
    if let Verdict::Fail(mismatch) = &outcome.verdict {
        let mut details = mismatch.problem.clone();
        for difference in &mismatch.differences {
            details.push_str(&format!("\n{difference}"));
        }
        let _ = writeln!(
            xml,
            r#"      <failure message="{}" type="mismatch">{}</failure>"#,
            escape(&mismatch.problem),
            escape(&details)
        );
    }
    if let Some(stats) = &outcome.stats {
        let _ = writeln!(
            xml,
            "      <system-out>fuel={} peak_memory={}</system-out>",
            stats.fuel, stats.peak_memory
        );
    }
    xml.push_str("    </testcase>\n");
}

/// Text safe in XML content and attribute values: the five special
/// characters escaped, and characters XML 1.0 cannot hold at all (most
/// control characters) replaced by U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_control_characters_cannot_break_the_document() {
        assert_eq!(
            escape("a<b>&\"c\"\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&quot;\u{FFFD}"
        );
    }
}
