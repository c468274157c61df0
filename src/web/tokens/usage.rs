//! The usage chart on a token's page: allowed and denied requests per day, last 30 days, as
//! server-rendered SVG (no script; colours come from app.css).

use super::*;
use crate::auth::usage::HOUR;
use crate::clock::rfc3339;
use crate::store::HourlyUsage;

/// Days the chart shows.
const DAYS: usize = 30;
const DAY: i64 = 24 * HOUR;
/// Geometry in SVG user units: one bar per day, the tallest day fills the height.
const BAR: i64 = 8;
const GAP: i64 = 2;
const HEIGHT: i64 = 60;

/// Allowed and denied requests of one day.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Day {
    allowed: u64,
    denied: u64,
}

/// Adds up hourly counts into the `DAYS` UTC days that end with today (`now`'s day).
fn days(hours: &[HourlyUsage], now: UnixTime) -> (UnixTime, [Day; DAYS]) {
    let first = now - now.rem_euclid(DAY) - (DAYS as i64 - 1) * DAY;
    let mut days = [Day::default(); DAYS];
    for hour in hours {
        let index = (hour.hour - first).div_euclid(DAY);
        if let Some(day) = usize::try_from(index).ok().and_then(|i| days.get_mut(i)) {
            day.allowed += hour.allowed;
            day.denied += hour.denied;
        }
    }
    (first, days)
}

/// Scales `count` of `max` to the chart's height; a day with requests is at least 1 unit tall.
fn scaled(count: u64, max: u64) -> i64 {
    if count == 0 || max == 0 {
        return 0;
    }
    let height = (count as f64 / max as f64 * HEIGHT as f64).round() as i64;
    height.clamp(1, HEIGHT)
}

/// The "Usage" card of token `id`: this instance's pending counts are written first.
pub(super) async fn usage_card(web: &Web, id: i64) -> Result<Markup, WebError> {
    let now = web.app.clock.now();
    let from = now - now.rem_euclid(DAY) - (DAYS as i64 - 1) * DAY;
    let hours = crate::http::usage::token_usage(&web.app, id, from, now - now.rem_euclid(HOUR) + HOUR).await?;
    Ok(card(&hours, now))
}

fn card(hours: &[HourlyUsage], now: UnixTime) -> Markup {
    let (first, days) = days(hours, now);
    let allowed: u64 = days.iter().map(|d| d.allowed).sum();
    let denied: u64 = days.iter().map(|d| d.denied).sum();
    let max = days.iter().map(|d| d.allowed + d.denied).max().unwrap_or(0);
    let title = format!("Requests in the last 30 days: {allowed} allowed, {denied} denied");
    let width = DAYS as i64 * (BAR + GAP) - GAP;
    html! {
        section.card.usage {
            h2 { "Usage" }
            svg.usage-chart role="img" aria-labelledby="usage-title" viewBox={ "0 0 " (width) " " (HEIGHT) }
                xmlns="http://www.w3.org/2000/svg" {
                title #usage-title { (title) }
                @for (i, day) in days.iter().enumerate() {
                    @let x = i as i64 * (BAR + GAP);
                    @let denied_h = scaled(day.denied, max);
                    @let allowed_h = scaled(day.allowed + day.denied, max) - denied_h;
                    @let date = rfc3339(first + i as i64 * DAY);
                    g {
                        title { (date.get(..10).unwrap_or(&date)) ": " (day.allowed) " allowed, " (day.denied) " denied" }
                        rect.track x=(x) y="0" width=(BAR) height=(HEIGHT) {}
                        @if allowed_h > 0 {
                            rect.allowed x=(x) y=(HEIGHT - denied_h - allowed_h) width=(BAR) height=(allowed_h) {}
                        }
                        @if denied_h > 0 {
                            rect.denied x=(x) y=(HEIGHT - denied_h) width=(BAR) height=(denied_h) {}
                        }
                    }
                }
            }
            p.usage-legend {
                span.key.allowed {} (allowed) " allowed"
                " · "
                span.key.denied {} (denied) " denied"
                span.muted { " in the last 30 days (per day, UTC)" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_added_up_per_utc_day_and_older_ones_left_out() {
        let now = 1_800_000_000 + 5 * HOUR; // 2027-01-15 13:00 UTC
        let today = now - now.rem_euclid(DAY);
        let hour = |at: UnixTime, allowed, denied| HourlyUsage {
            token_id: 1,
            hour: at,
            allowed,
            denied,
        };
        let (first, days) = days(
            &[
                hour(today, 2, 1),
                hour(today + 3 * HOUR, 1, 0),
                hour(today - HOUR, 5, 0),
                hour(today - 30 * DAY, 100, 100),
            ],
            now,
        );
        assert_eq!(first, today - 29 * DAY);
        assert_eq!(days[29], Day { allowed: 3, denied: 1 }, "today");
        assert_eq!(days[28], Day { allowed: 5, denied: 0 }, "yesterday's last hour");
        assert_eq!(
            days.iter().map(|d| d.allowed).sum::<u64>(),
            8,
            "31 days ago is not shown"
        );
    }

    #[test]
    fn bars_scale_to_the_busiest_day_and_small_days_stay_visible() {
        assert_eq!(scaled(0, 10), 0);
        assert_eq!(scaled(10, 10), HEIGHT);
        assert_eq!(scaled(5, 10), HEIGHT / 2);
        assert_eq!(scaled(1, 1_000_000), 1, "one request is still a visible bar");
    }
}
