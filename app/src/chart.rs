//! Small SVG charts drawn by the app itself (no chart library in the bundle).
//! Every mark carries a `<title>`, which browsers show as a tooltip, and is a
//! focusable labelled image inside the chart's group, which screen readers read out.

use leptos::prelude::*;

/// One day (or bucket) of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub label: String,
    /// None = no data that day (drawn as a gap).
    pub value: Option<f64>,
    pub tooltip: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Bars,
    Line,
}

// Close to the size it is shown at (one of two columns, or a phone's width), so
// the axis text keeps a readable size after scaling.
const W: f64 = 480.0;
const H: f64 = 200.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 30.0;

/// A "nice" upper bound for the y axis: 1, 2 or 5 times a power of ten.
pub fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * p)
}

#[component]
pub fn TimeChart(
    /// Accessible name of the chart.
    title: String,
    points: Vec<Point>,
    style: Style,
    /// Formats a y value for the axis, given the step between ticks.
    axis: fn(f64, f64) -> String,
    /// Lower bound of the y axis (0 for rates; a similarity chart may start higher).
    #[prop(default = 0.0)]
    y_min: f64,
) -> impl IntoView {
    let max = points
        .iter()
        .filter_map(|p| p.value)
        .fold(f64::MIN, f64::max);
    let y_max = if style == Style::Line {
        (max + 0.05).min(1.0).max(y_min + 0.1)
    } else {
        nice_max(max)
    };
    let n = points.len().max(1) as f64;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let step = plot_w / n;
    let x = move |i: usize| LEFT + step * (i as f64 + 0.5);
    let y = move |v: f64| TOP + plot_h * (1.0 - ((v - y_min) / (y_max - y_min)).clamp(0.0, 1.0));
    let ticks: Vec<f64> = (0..=4)
        .map(|k| y_min + (y_max - y_min) * k as f64 / 4.0)
        .collect();
    // Label about six days along the axis so labels never overlap.
    let every = (points.len() / 6).max(1);
    let grid = ticks
        .iter()
        .map(|t| {
            let yy = y(*t);
            view! {
                <line class="grid" x1=LEFT x2=W - RIGHT y1=yy y2=yy/>
                <text class="axis" x=LEFT - 6.0 y=yy + 4.0 text-anchor="end">{axis(*t, (y_max - y_min) / 4.0)}</text>
            }
        })
        .collect_view();
    let labels = points
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, p)| {
            view! { <text class="axis" x=x(i) y=H - 8.0 text-anchor="middle">{p.label.clone()}</text> }
        })
        .collect_view();
    let marks = match style {
        Style::Bars => {
            let bw = (step * 0.7).max(1.0);
            points
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let v = p.value.unwrap_or(0.0);
                    let top = y(v);
                    view! {
                        <g class="mark" tabindex="0" role="img" aria-label=p.tooltip.clone()>
                            // A full-height hit area makes tiny bars easy to hover.
                            <rect class="hit" x=x(i) - step / 2.0 y=TOP width=step height=plot_h>
                                <title>{p.tooltip.clone()}</title>
                            </rect>
                            <rect class="bar" class:empty=p.value.is_none() x=x(i) - bw / 2.0 y=top width=bw height=(TOP + plot_h - top).max(0.0)>
                                <title>{p.tooltip.clone()}</title>
                            </rect>
                        </g>
                    }
                })
                .collect_view()
                .into_any()
        }
        Style::Line => {
            let path: String = points
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.value.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
                .collect::<Vec<_>>()
                .join(" ");
            let dots = points
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    p.value.map(|v| {
                        view! {
                            <g class="mark" tabindex="0" role="img" aria-label=p.tooltip.clone()>
                                <circle class="dot" cx=x(i) cy=y(v) r="4"><title>{p.tooltip.clone()}</title></circle>
                            </g>
                        }
                    })
                })
                .collect_view();
            view! { <polyline class="line" points=path fill="none"/> {dots} }.into_any()
        }
    };
    let label = title.clone();
    view! {
        // A group, not role="img": an image's children are hidden from screen readers,
        // and each focusable mark is to be read out (its own role="img" and label).
        <svg class="chart" viewBox=format!("0 0 {W} {H}") role="group" aria-label=label preserveAspectRatio="xMidYMid meet">
            <title>{title}</title>
            {grid}
            {labels}
            {marks}
        </svg>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nice_max_rounds_up_to_1_2_5() {
        assert_eq!(super::nice_max(0.0), 1.0);
        assert!((super::nice_max(0.13) - 0.2).abs() < 1e-12);
        assert!((super::nice_max(0.31) - 0.5).abs() < 1e-12);
        assert!((super::nice_max(0.5) - 0.5).abs() < 1e-12);
        assert!((super::nice_max(7.0) - 10.0).abs() < 1e-12);
    }
}
