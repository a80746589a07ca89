//! The plots: for each trace one SVG, a panel per policy, demand against capacity over time with
//! throttled demand in red; for a trace whose readers fell behind, a second with each policy's
//! iterator age. `plotters` with its SVG backend only: text is written as SVG `<text>`
//! and laid out by the viewer, so no font library is needed to build or run.

use std::path::Path;

use plotters::prelude::*;

use crate::SimError;
use crate::sim::{Minute, Outcome};

/// At most this many points per line, so a week stays a small file.
const MAX_POINTS: usize = 360;

/// One line of a panel: which value of a minute, in what colour, under what name.
type Line = (fn(&Minute) -> f32, RGBColor, &'static str);

/// Writes `path` for one trace's outcomes: load and capacity.
pub fn trace_svg(path: &Path, title: &str, outcomes: &[Outcome]) -> Result<(), SimError> {
    let lines: [Line; 3] = [
        (|m| m.capacity, BLUE, "capacity"),
        (|m| m.demand, BLACK, "demand"),
        (|m| m.throttled, RED, "throttled"),
    ];
    panels(path, title, outcomes, &lines, "MiB/s")
}

/// Writes `path` for one trace's outcomes: the oldest unread record's age, over every consumer.
pub fn readers_svg(path: &Path, title: &str, outcomes: &[Outcome]) -> Result<(), SimError> {
    let lines: [Line; 1] = [(|m| m.iterator_age / 3600.0, MAGENTA, "iterator age")];
    panels(path, title, outcomes, &lines, "hours")
}

/// One panel per outcome, each with `lines` against hours, on a common y scale.
fn panels(
    path: &Path,
    title: &str,
    outcomes: &[Outcome],
    lines: &[Line],
    y_desc: &str,
) -> Result<(), SimError> {
    let fail = |e: &dyn std::fmt::Display| SimError::Plot {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let panel = 150;
    let root = SVGBackend::new(path, (900, 40 + panel * outcomes.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (top, body) = root.split_vertically(40);
    top.titled(title, ("sans-serif", 18)).map_err(|e| fail(&e))?;
    let minutes = outcomes.first().map_or(0, |o| o.minutes.len());
    let bucket = minutes.div_ceil(MAX_POINTS).max(1);
    let hours = minutes as f64 / 60.0;
    let y_max = outcomes
        .iter()
        .flat_map(|o| o.minutes.iter().flat_map(|m| lines.iter().map(move |(f, _, _)| f(m))))
        .fold(1.0f32, f32::max) as f64
        * 1.05;
    for (area, outcome) in body.split_evenly((outcomes.len(), 1)).iter().zip(outcomes) {
        let mut chart = ChartBuilder::on(area)
            .caption(outcome.policy.name(), ("sans-serif", 13))
            .margin(4)
            .x_label_area_size(22)
            .y_label_area_size(40)
            .build_cartesian_2d(0.0..hours, 0.0..y_max)
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .x_desc("hours")
            .y_desc(y_desc)
            .x_labels(8)
            .y_labels(4)
            .label_style(("sans-serif", 10))
            .draw()
            .map_err(|e| fail(&e))?;
        let series = |f: fn(&Minute) -> f32| {
            outcome
                .minutes
                .chunks(bucket)
                .enumerate()
                .map(move |(i, c)| {
                    ((i * bucket) as f64 / 60.0, c.iter().map(f).fold(0.0f32, f32::max) as f64)
                })
                .collect::<Vec<_>>()
        };
        for &(f, color, label) in lines {
            chart
                .draw_series(LineSeries::new(series(f), color.stroke_width(1)))
                .map_err(|e| fail(&e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 10))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| fail(&e))?;
    }
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}
