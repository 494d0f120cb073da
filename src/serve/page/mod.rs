//! The live page at `/` and its two assets, embedded in the binary so the
//! page works offline and loads nothing from elsewhere; the
//! Content-Security-Policy sent with it says so to the browser too.
//!
//! The HTML comes filled in with what runs, so it says something before its
//! script has polled once (and without a script at all); the script then
//! updates it every second from `/api/v1/`.

pub(crate) mod panel;

use crate::chart::escape;
use crate::experiment::Settings;
use crate::serve::words;

/// Everything from this origin, nothing inline, nothing from elsewhere.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(crate) const SCRIPT: &str = include_str!("page.js");
pub(crate) const STYLE: &str = include_str!("page.css");
const TEMPLATE: &str = include_str!("page.html");

/// The page, with the metrics link pointing at `telemetry_path`.
pub(crate) fn html(telemetry_path: &str, experiment: Option<&Settings>) -> String {
    let waiting = "…".to_owned();
    let (strategy, schedule, size, period, explanation) = match experiment {
        Some(e) => (
            e.strategy.name().to_owned(),
            e.schedule.to_string(),
            format!("{} elements", e.size_elements),
            humantime::format_duration(e.period).to_string(),
            words::explain(e.strategy),
        ),
        None => (waiting.clone(), waiting.clone(), waiting.clone(), waiting, ""),
    };
    let mut page = TEMPLATE.to_owned();
    for (placeholder, value) in [
        ("{{telemetry_path}}", telemetry_path),
        ("{{version}}", crate::build::VERSION),
        ("{{strategy}}", &strategy),
        ("{{schedule}}", &schedule),
        ("{{size}}", &size),
        ("{{period}}", &period),
        ("{{explanation}}", explanation),
    ] {
        page = page.replace(placeholder, &escape(value));
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_filled_and_the_path_escaped() {
        let page = html("/m\"><script>x</script>", None);
        assert!(!page.contains("{{"), "a placeholder left");
        assert!(page.contains("href=\"/m&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(page.contains(crate::endpoints::SCRIPT) && page.contains(crate::endpoints::STYLE));
        // Nothing inline for the policy to refuse: no style attributes, no inline script.
        assert!(!page.contains("style=") && !page.contains("<style") && !page.contains("<script>"));
        assert!(!page.contains("http://") && !page.contains("https://"), "nothing from elsewhere");
    }

    #[test]
    fn the_legend_and_the_script_know_every_cause_in_order() {
        let names = crate::explain::Cause::ALL.map(crate::explain::Cause::name);
        let legend: Vec<&str> =
            TEMPLATE.split("<li data-cause=\"").skip(1).filter_map(|item| item.split('"').next()).collect();
        assert_eq!(legend, names, "the page's legend");
        let quoted = names.map(|n| format!("\"{n}\"")).join(", ");
        assert!(SCRIPT.contains(&format!("const CAUSES = [{quoted}];")), "the script's list: {quoted}");
        for name in names {
            assert!(TEMPLATE.contains(&format!("class=\"swatch cause-{name}\"")), "a swatch for {name}");
            assert!(STYLE.contains(&format!(".swatch.cause-{name} ")), "a colour for {name}'s swatch");
        }
    }
}
