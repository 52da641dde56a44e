//! PNG figures of the validation runs (plotters, bitmap backend).
//!
//! Text needs a font: DejaVu Sans is loaded from the system when present; without it
//! the figures are drawn without labels rather than not at all.
use std::path::Path;
use std::sync::OnceLock;

use anyhow::anyhow;
use plotters::prelude::*;

const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Registers a system font once; whether labels can be drawn.
fn have_font() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        FONT_PATHS.iter().any(|p| {
            std::fs::read(p)
                .ok()
                .map(|bytes| {
                    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
                })
                .unwrap_or(false)
        })
    })
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting: {e:?}")
}

/// A normalized histogram of `xs` on `bins` equal bins over `[lo, hi]`, as polyline points.
fn histogram_line(xs: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<(f64, f64)> {
    let w = (hi - lo) / bins as f64;
    let mut counts = vec![0.0; bins];
    for &x in xs {
        if x >= lo && x < hi {
            counts[((x - lo) / w) as usize] += 1.0;
        }
    }
    let n = xs.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let d = c / (n * w);
            [(lo + i as f64 * w, d), (lo + (i + 1) as f64 * w, d)]
        })
        .collect()
}

/// Range covering both samples (0.5% to 99.5% quantiles, padded).
fn common_range(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut all: Vec<f64> = a
        .iter()
        .chain(b)
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    all.sort_by(f64::total_cmp);
    if all.is_empty() {
        return (0.0, 1.0);
    }
    let q = |p: f64| all[((all.len() - 1) as f64 * p) as usize];
    let (lo, hi) = (q(0.005), q(0.995));
    let pad = 0.05 * (hi - lo).max(1e-9);
    (lo - pad, hi + pad)
}

/// A region of a PNG figure.
type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A white figure for `n` panels (at most 4 per row, each `w × h` pixels) with `title`
/// on top when a font is available: the figure's root and the panel areas.
fn panel_grid<'a>(
    path: &'a Path,
    title: &str,
    n: usize,
    (w, h): (u32, u32),
) -> anyhow::Result<(Area<'a>, Vec<Area<'a>>)> {
    let cols = n.clamp(1, 4);
    let rows = n.div_ceil(cols).max(1);
    let root =
        BitMapBackend::new(path, (w * cols as u32, h * rows as u32 + 30)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let body = if have_font() {
        root.titled(title, ("sans-serif", 20)).map_err(err)?
    } else {
        root.clone()
    };
    let areas = body.split_evenly((rows, cols));
    Ok((root, areas))
}

/// A chart with f64 axes on `area`; with a font, the caption and the label areas
/// (`label_area`: x, y sizes). Each plot configures its own mesh.
fn chart<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    (caption_size, margin): (u32, u32),
    (x_area, y_area): (u32, u32),
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> anyhow::Result<Chart<'a, 'b>> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(margin);
    if have_font() {
        builder
            .caption(caption, ("sans-serif", caption_size))
            .x_label_area_size(x_area)
            .y_label_area_size(y_area);
    }
    builder.build_cartesian_2d(x, y).map_err(err)
}

/// One panel per parameter: the posterior density of the exact-likelihood draws (blue)
/// and of the neural-likelihood draws (red), as normalized histograms.
pub(crate) fn density_overlay(
    path: &Path,
    title: &str,
    panels: &[(String, Vec<f64>, Vec<f64>)],
) -> anyhow::Result<()> {
    let labels = have_font();
    let (root, areas) = panel_grid(path, title, panels.len(), (320, 260))?;
    for (area, (name, exact, nle)) in areas.iter().zip(panels) {
        let (lo, hi) = common_range(exact, nle);
        let (a, b) = (
            histogram_line(exact, lo, hi, 40),
            histogram_line(nle, lo, hi, 40),
        );
        let top = a.iter().chain(&b).map(|p| p.1).fold(0.0, f64::max) * 1.1 + 1e-12;
        let mut chart = chart(area, name, (16, 8), (25, 40), lo..hi, 0.0..top)?;
        if labels {
            chart
                .configure_mesh()
                .disable_mesh()
                .y_labels(4)
                .x_labels(5)
                .draw()
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(a, BLUE.stroke_width(2)))
            .map_err(err)?
            .label("exact")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], BLUE));
        chart
            .draw_series(LineSeries::new(b, RED.stroke_width(2)))
            .map_err(err)?
            .label("NLE")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], RED));
        if labels {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
    }
    root.present().map_err(err)
}

/// Shrinkage: per group, the unpooled posterior mean (x) against the hierarchical one
/// (y), with the identity line and the global mean.
pub(crate) fn shrinkage(
    path: &Path,
    title: &str,
    unpooled: &[f64],
    hierarchical: &[f64],
    global: f64,
) -> anyhow::Result<()> {
    let labels = have_font();
    let root = BitMapBackend::new(path, (520, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let all: Vec<f64> = unpooled
        .iter()
        .chain(hierarchical)
        .copied()
        .chain([global])
        .collect();
    let (lo, hi) = (
        all.iter().copied().fold(f64::INFINITY, f64::min) - 0.5,
        all.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 0.5,
    );
    let mut chart = chart(&root, title, (18, 12), (35, 45), lo..hi, lo..hi)?;
    if labels {
        chart
            .configure_mesh()
            .x_desc("unpooled posterior mean")
            .y_desc("hierarchical posterior mean")
            .draw()
            .map_err(err)?;
    }
    chart
        .draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.4)))
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            [(lo, global), (hi, global)],
            GREEN.mix(0.6),
        ))
        .map_err(err)?;
    chart
        .draw_series(
            unpooled
                .iter()
                .zip(hierarchical)
                .map(|(&u, &h)| Circle::new((u, h), 5, BLUE.filled())),
        )
        .map_err(err)?;
    root.present().map_err(err)
}

/// SBC rank histograms, one panel per parameter, with the uniform expectation.
pub(crate) fn rank_histograms(
    path: &Path,
    title: &str,
    panels: &[(String, Vec<usize>)],
    bins: usize,
) -> anyhow::Result<()> {
    let labels = have_font();
    let (root, areas) = panel_grid(path, title, panels.len(), (300, 240))?;
    for (area, (name, counts)) in areas.iter().zip(panels) {
        let total: usize = counts.iter().sum();
        let expected = total as f64 / bins as f64;
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.2;
        let mut chart = chart(area, name, (16, 8), (25, 35), 0.0..bins as f64, 0.0..top)?;
        if labels {
            chart.configure_mesh().disable_mesh().draw().map_err(err)?;
        }
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                Rectangle::new(
                    [(i as f64, 0.0), (i as f64 + 0.9, c as f64)],
                    BLUE.mix(0.6).filled(),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, expected), (bins as f64, expected)],
                RED,
            ))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// Two panels on common axes: the reference draws (blue) and the approximate ones
/// (red), as points; for 2-D posteriors such as two_moons' crescents.
pub(crate) fn pair_scatter(
    path: &Path,
    title: &str,
    reference: &[(f64, f64)],
    approx: &[(f64, f64)],
) -> anyhow::Result<()> {
    let labels = have_font();
    let xs: Vec<f64> = reference.iter().chain(approx).map(|p| p.0).collect();
    let ys: Vec<f64> = reference.iter().chain(approx).map(|p| p.1).collect();
    let ((x0, x1), (y0, y1)) = (common_range(&xs, &[]), common_range(&ys, &[]));
    let (root, areas) = panel_grid(path, title, 2, (420, 400))?;
    for (area, (name, points, colour)) in areas
        .iter()
        .zip([("reference", reference, BLUE), ("NLE", approx, RED)])
    {
        let mut chart = chart(area, name, (16, 8), (25, 40), x0..x1, y0..y1)?;
        if labels {
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("theta.1")
                .y_desc("theta.2")
                .draw()
                .map_err(err)?;
        }
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 1, colour.mix(0.4).filled())),
            )
            .map_err(err)?;
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_written_as_png() {
        let dir = std::env::temp_dir().join("xtask-plots-test");
        std::fs::create_dir_all(&dir).unwrap();
        let a: Vec<f64> = (0..500).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 0.05).collect();
        let p = dir.join("overlay.png");
        density_overlay(
            &p,
            "test",
            &[("x".into(), a.clone(), b.clone()), ("y".into(), b, a)],
        )
        .unwrap();
        let s = dir.join("shrink.png");
        shrinkage(&s, "test", &[9.3, 6.0, 12.0], &[9.2, 6.3, 11.7], 9.1).unwrap();
        let r = dir.join("ranks.png");
        rank_histograms(&r, "test", &[("mu".into(), vec![3, 5, 4, 4])], 4).unwrap();
        let q = dir.join("pairs.png");
        pair_scatter(&q, "test", &[(0.1, 0.2), (0.3, -0.1)], &[(0.0, 0.5)]).unwrap();
        for f in [p, s, r, q] {
            let bytes = std::fs::read(&f).unwrap();
            assert_eq!(&bytes[1..4], b"PNG", "{}", f.display());
        }
    }

    #[test]
    fn histogram_line_integrates_to_one() {
        let xs: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        let line = histogram_line(&xs, 0.0, 1.0, 10);
        let area: f64 = line.chunks(2).map(|p| p[0].1 * (p[1].0 - p[0].0)).sum();
        assert!((area - 1.0).abs() < 1e-12);
    }
}
