//! The transformations behind the rank-normalized diagnostics: splitting chains,
//! rank normalization, folding, and the two type-7 quantile formulas ArviZ uses.

use super::normal::normal_quantile;

/// ArviZ's `_split_chains`: the first halves of every chain, then the last halves.
/// With an odd number of draws the middle draw of each chain is left out.
pub(crate) fn split_chains<C: AsRef<[f64]>>(chains: &[C]) -> Vec<Vec<f64>> {
    let n = chains[0].as_ref().len();
    let half = n / 2;
    let firsts = chains.iter().map(|c| c.as_ref()[..half].to_vec());
    let lasts = chains.iter().map(|c| c.as_ref()[n - half..].to_vec());
    firsts.chain(lasts).collect()
}

/// Ranks 1..=n of all values jointly, ties sharing their average rank
/// (scipy's `rankdata(method="average")`), in the input's layout.
fn average_ranks(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    // Sorting (value, position) pairs keeps the comparisons in cache.
    let mut order: Vec<(f64, usize)> = chains.iter().flatten().copied().zip(0..).collect();
    order.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let mut ranks = vec![0.0; order.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && order[end].0 == order[start].0 {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; their mean is exact in f64.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &(_, i) in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    let n_draw = chains[0].len();
    ranks.chunks(n_draw).map(<[f64]>::to_vec).collect()
}

/// ArviZ's `_z_scale`: Blom's fractional ranks (r − 3/8)/(S + 1/4) over all S
/// values, mapped through the normal quantile.
pub(crate) fn z_scale(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let size = chains.iter().map(Vec::len).sum::<usize>() as f64;
    // ArviZ's `_backtransform_ranks` with c = 3/8: (r − c)/(size − 2c + 1).
    let c = 3.0 / 8.0;
    let denominator = size - 2.0 * c + 1.0;
    let mut z = average_ranks(chains);
    for v in z.iter_mut().flatten() {
        *v = normal_quantile((*v - c) / denominator);
    }
    z
}

/// numpy's `np.median` of all values.
pub(crate) fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut sorted: Vec<f64> = values.collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// |x − median(x)| over all chains, in the input's layout.
pub(crate) fn fold(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let med = median(chains.iter().flatten().copied());
    chains
        .iter()
        .map(|c| c.iter().map(|v| (v - med).abs()).collect())
        .collect()
}

/// The sample quantile at `p` of `sorted` (ascending, non-empty) with numpy's
/// default `method="linear"` (Hyndman & Fan type 7), using numpy's two-sided
/// linear interpolation so results agree with `np.quantile` to the last bit.
pub(crate) fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let virtual_index = (n - 1) as f64 * p;
    if virtual_index >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    let below = virtual_index.floor();
    let gamma = virtual_index - below;
    let (a, b) = (sorted[below as usize], sorted[below as usize + 1]);
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// The type-7 quantile as scipy's `mstats.mquantiles(alphap=1, betap=1)` computes
/// it; ArviZ uses this one to set the thresholds of the tail ESS.
pub(crate) fn mquantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let (alphap, betap) = (1.0, 1.0);
    let m = alphap + p * (1.0 - alphap - betap);
    let aleph = n as f64 * p + m;
    let k = aleph.clamp(1.0, (n - 1) as f64).floor();
    let gamma = (aleph - k).clamp(0.0, 1.0);
    let k = k as usize;
    (1.0 - gamma) * sorted[k - 1] + gamma * sorted[k]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_drops_the_middle_draw_of_odd_chains() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let split = split_chains(&[&a, &b]);
        assert_eq!(
            split,
            vec![
                vec![1.0, 2.0],
                vec![6.0, 7.0],
                vec![4.0, 5.0],
                vec![9.0, 10.0]
            ]
        );
    }

    #[test]
    fn ties_share_their_average_rank() {
        let ranks = average_ranks(&[vec![3.0, 1.0, 3.0], vec![2.0, 3.0, 0.5]]);
        assert_eq!(ranks, vec![vec![5.0, 2.0, 5.0], vec![3.0, 5.0, 1.0]]);
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 3.0, 2.0].into_iter()), 2.5);
    }

    #[test]
    fn both_quantile_formulas_are_type_7() {
        let sorted = [1.0, 2.0, 4.0, 8.0, 16.0];
        for (p, expected) in [(0.0, 1.0), (0.1, 1.4), (0.5, 4.0), (0.9, 12.8), (1.0, 16.0)] {
            assert!((quantile_sorted(&sorted, p) - expected).abs() < 1e-14);
            assert!((mquantile_sorted(&sorted, p) - expected).abs() < 1e-14);
        }
    }
}
