//! `GET /runbook`: docs/runbook.md, embedded and rendered to HTML once, so
//! every alert's `runbook_url` (`/runbook#<alert name in lower case>`)
//! works out of the box, from the instance that fired, offline.
//!
//! Each heading gets an id: its text lower-cased, every character that is
//! not a letter or digit turned to '-', and '-' trimmed from both ends
//! (`## JitterdDriftHigh` → `jitterddrifthigh`); a repeated id gets `-1`,
//! `-2`. Nothing here depends on the runbook's content beyond that. Raw
//! HTML in the markdown is shown as text: the page keeps the strict CSP
//! (no inline style or script) and its style sheet is a file of its own.

use std::collections::HashMap;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

use crate::chart::escape;

/// The runbook's markdown, as shipped.
const MARKDOWN: &str = include_str!("../../docs/runbook.md");

/// The page's style sheet, served at [`crate::endpoints::RUNBOOK_STYLE`].
pub(crate) const STYLE: &str = include_str!("runbook.css");

/// The rendered page, made on first use.
pub(crate) fn html() -> &'static str {
    static PAGE: LazyLock<String> = LazyLock::new(|| page(MARKDOWN));
    &PAGE
}

/// `markdown` as a whole page: title, a link back to the live page, the body.
fn page(markdown: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>jitterd runbook</title>\n<link rel=\"stylesheet\" href=\"{style}\">\n</head>\n<body>\n\
         <nav><a href=\"{live}\">live page</a> · jitterd {version}</nav>\n<main>\n{body}</main>\n</body>\n</html>\n",
        style = crate::endpoints::RUNBOOK_STYLE,
        live = crate::endpoints::PAGE,
        version = escape(crate::build::VERSION),
        body = body(markdown),
    )
}

/// The markdown rendered to HTML, headings with ids, raw HTML as text.
pub(crate) fn body(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut events: Vec<Event<'_>> = Parser::new_ext(markdown, options)
        .map(|event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            other => other,
        })
        .collect();
    give_headings_ids(&mut events);
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    out
}

/// Sets every heading's id from its text, unique within the page.
fn give_headings_ids(events: &mut [Event<'_>]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for start in 0..events.len() {
        if !matches!(events[start], Event::Start(Tag::Heading { .. })) {
            continue;
        }
        let text: String = events[start + 1..]
            .iter()
            .take_while(|event| !matches!(event, Event::End(TagEnd::Heading(_))))
            .filter_map(|event| match event {
                Event::Text(text) | Event::Code(text) => Some(text.as_ref()),
                _ => None,
            })
            .collect();
        let base = anchor(&text);
        let uses = seen.entry(base.clone()).or_default();
        let unique = if *uses == 0 { base } else { format!("{base}-{uses}") };
        *uses += 1;
        if let Event::Start(Tag::Heading { id, .. }) = &mut events[start] {
            *id = Some(CowStr::from(unique));
        }
    }
}

/// A heading's id: lower case, '-' for anything not alphanumeric, trimmed.
pub(crate) fn anchor(heading: &str) -> String {
    let dashed: String =
        heading.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let trimmed = dashed.trim_matches('-');
    trimmed.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_lower_case_with_dashes() {
        assert_eq!(anchor("JitterdDriftHigh"), "jitterddrifthigh");
        assert_eq!(anchor("  First steps: any alert!"), "first-steps--any-alert");
        assert_eq!(anchor("`web.max_requests`"), "web-max-requests");
    }

    #[test]
    fn headings_get_ids_and_raw_html_is_text() {
        let html = body(
            "# Title\n\n## JitterdDriftHigh\n\ntext <b style=\"x\">bold</b>\n\n## JitterdDriftHigh\n\n<script>x</script>\n",
        );
        assert!(html.contains("<h2 id=\"jitterddrifthigh\">JitterdDriftHigh</h2>"), "{html}");
        assert!(html.contains("<h2 id=\"jitterddrifthigh-1\">"), "{html}");
        assert!(html.contains("<h1 id=\"title\">"), "{html}");
        assert!(!html.contains("<b style") && !html.contains("<script"), "{html}");
    }

    #[test]
    fn every_alert_section_of_the_shipped_runbook_has_its_anchor() {
        let page = html();
        let alerts: Vec<&str> = MARKDOWN.lines().filter_map(|line| line.strip_prefix("## Jitterd")).collect();
        assert!(!alerts.is_empty(), "no alert sections in docs/runbook.md");
        for alert in alerts {
            let id = format!("id=\"jitterd{}\"", alert.trim().to_lowercase());
            assert!(page.contains(&id), "no {id} in the served runbook");
        }
        assert!(!page.contains("style=") && !page.contains("<script"), "nothing inline for the CSP to refuse");
    }
}
