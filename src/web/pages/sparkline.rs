//! A webhook's delivery sparkline: one bar per day, as tall as that day's deliveries, split into
//! succeeded (bottom), pending, retrying or skipped, and failed (top). Drawn on the server as inline SVG,
//! with a text summary for screen readers and for anyone who does not tell the colours apart.

use std::fmt::Write;

use crate::domain::time::{Millis, rfc3339};
use crate::store::ui_stats::{DAY_MS, DayOutcomes};

/// How many days the webhooks list shows.
pub const DAYS: usize = 14;

const BAR: u32 = 5;
const GAP: u32 = 2;
const HEIGHT: u32 = 24;

pub struct Sparkline {
    first_day: Millis,
    days: Vec<DayOutcomes>,
}

impl Sparkline {
    /// `days[0]` is the day that starts at `first_day` (UTC midnight).
    pub fn new(first_day: Millis, days: Vec<DayOutcomes>) -> Self {
        Self { first_day, days }
    }

    fn totals(&self) -> DayOutcomes {
        self.days
            .iter()
            .fold(DayOutcomes::default(), |sum, day| DayOutcomes {
                succeeded: sum.succeeded + day.succeeded,
                failed: sum.failed + day.failed,
                other: sum.other + day.other,
            })
    }

    /// What the bars say, in words.
    pub fn summary(&self) -> String {
        let totals = self.totals();
        let days = self.days.len();
        match totals.total() {
            0 => format!("No deliveries in the last {days} days."),
            total => {
                let noun = if total == 1 { "delivery" } else { "deliveries" };
                let mut text = format!(
                    "Last {days} days: {} of {total} {noun} succeeded",
                    totals.succeeded
                );
                if totals.failed > 0 {
                    let _ = write!(text, ", {} failed", totals.failed);
                }
                if totals.other > 0 {
                    let _ = write!(text, ", {} pending, retrying or skipped", totals.other);
                }
                text.push('.');
                text
            }
        }
    }

    /// The share that succeeded, as shown beside the bars: "97 %", or "—" with no deliveries.
    pub fn rate(&self) -> String {
        let totals = self.totals();
        match totals.total() {
            0 => "—".into(),
            total => format!("{} %", totals.succeeded * 100 / total),
        }
    }

    /// The bars as an inline `<svg>` labelled with the summary; every text in it is made here
    /// from numbers and dates.
    pub fn svg(&self) -> String {
        self.draw(&format!(r#"role="img" aria-label="{}""#, self.summary()))
    }

    /// The bars for beside the summary written out: screen readers skip them.
    pub fn svg_beside_summary(&self) -> String {
        self.draw(r#"aria-hidden="true""#)
    }

    fn draw(&self, labelling: &str) -> String {
        let width = self.days.len() as u32 * (BAR + GAP) - GAP;
        let tallest = self.days.iter().map(DayOutcomes::total).max().unwrap_or(0);
        let mut svg = format!(
            r#"<svg class="spark" width="{width}" height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}" {labelling}>"#
        );
        for (index, day) in self.days.iter().enumerate() {
            let x = index as u32 * (BAR + GAP);
            let date = &rfc3339(self.first_day + index as Millis * DAY_MS)[..10];
            let _ = write!(svg, "<g><title>{date}: {}</title>", day_words(day));
            if day.total() == 0 {
                let _ = write!(
                    svg,
                    r#"<rect class="none" x="{x}" y="{}" width="{BAR}" height="1"/>"#,
                    HEIGHT - 1
                );
            } else {
                // At least 3 px for any day with deliveries, so a quiet day still shows.
                let height = (day.total() * HEIGHT as i64 / tallest).max(3) as u32;
                let mut bottom = HEIGHT;
                for (class, count) in [
                    ("ok", day.succeeded),
                    ("other", day.other),
                    ("failed", day.failed),
                ] {
                    if count == 0 {
                        continue;
                    }
                    let share = (count as u64 * u64::from(height)).div_ceil(day.total() as u64);
                    let part = (share as u32).min(bottom - (HEIGHT - height));
                    bottom -= part;
                    let _ = write!(
                        svg,
                        r#"<rect class="{class}" x="{x}" y="{bottom}" width="{BAR}" height="{part}"/>"#
                    );
                }
            }
            svg.push_str("</g>");
        }
        svg.push_str("</svg>");
        svg
    }
}

fn day_words(day: &DayOutcomes) -> String {
    if day.total() == 0 {
        return "no deliveries".into();
    }
    let mut parts = vec![format!("{} succeeded", day.succeeded)];
    if day.failed > 0 {
        parts.push(format!("{} failed", day.failed));
    }
    if day.other > 0 {
        parts.push(format!("{} pending, retrying or skipped", day.other));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(succeeded: i64, failed: i64, other: i64) -> DayOutcomes {
        DayOutcomes {
            succeeded,
            failed,
            other,
        }
    }

    // 2026-11-14T00:00:00Z
    const FIRST: Millis = 1_794_614_400_000;

    #[test]
    fn the_summary_counts_every_day() {
        let mut days = vec![DayOutcomes::default(); DAYS];
        days[0] = day(3, 1, 0);
        days[13] = day(5, 0, 1);
        let line = Sparkline::new(FIRST, days);
        assert_eq!(
            line.summary(),
            "Last 14 days: 8 of 10 deliveries succeeded, 1 failed, 1 pending, retrying or skipped."
        );
        assert_eq!(line.rate(), "80 %");
    }

    #[test]
    fn no_deliveries_reads_as_none() {
        let line = Sparkline::new(FIRST, vec![DayOutcomes::default(); DAYS]);
        assert_eq!(line.summary(), "No deliveries in the last 14 days.");
        assert_eq!(line.rate(), "—");
        assert_eq!(line.svg().matches(r#"class="none""#).count(), DAYS);
    }

    #[test]
    fn bars_scale_to_the_busiest_day_and_stack_by_outcome() {
        let mut days = vec![DayOutcomes::default(); 3];
        days[0] = day(1, 0, 0);
        days[1] = day(6, 2, 0);
        let svg = Sparkline::new(FIRST, days).svg();
        assert!(svg.starts_with(r#"<svg class="spark" width="19" height="24""#));
        // The busiest day fills the height: 18 px succeeded under 6 px failed.
        assert!(svg.contains(r#"<rect class="ok" x="7" y="6" width="5" height="18"/>"#));
        assert!(svg.contains(r#"<rect class="failed" x="7" y="0" width="5" height="6"/>"#));
        // A quiet day still shows.
        assert!(svg.contains(r#"<rect class="ok" x="0" y="21" width="5" height="3"/>"#));
        assert!(svg.contains("<title>2026-11-15: 6 succeeded, 2 failed</title>"));
        assert!(svg.contains("<title>2026-11-16: no deliveries</title>"));
    }
}
