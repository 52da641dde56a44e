//! The reverse sweep: propagates adjoints from the output back to every node.

use super::shape::{Broadcast, Shape};
use super::tape::{Bin, Inner, Node, Op, Un};
use crate::special;

/// Adjoint of a unary op given input `x`, output `y` and output adjoint `g`.
#[inline]
fn unary_adjoint(op: Un, x: f64, y: f64, g: f64) -> f64 {
    match op {
        Un::Neg => -g,
        Un::Exp => g * y,
        Un::Ln => g / x,
        Un::Ln1p => g / (1.0 + x),
        Un::ExpM1 => g * (y + 1.0),
        Un::Sqrt => g * 0.5 / y,
        Un::Square => 2.0 * g * x,
        Un::Sin => g * x.cos(),
        Un::Cos => -g * x.sin(),
        Un::Tanh => g * (1.0 - y * y),
        Un::Sigmoid => g * y * (1.0 - y),
        Un::Softplus => g * special::sigmoid(x),
        Un::LnGamma => g * special::digamma(x),
        Un::LogNdtr => g * special::d_log_ndtr(x),
        Un::Powi(0) => 0.0,
        // n − 1 would overflow for i32::MIN; xⁿ/x is the same power there.
        Un::Powi(i32::MIN) => g * f64::from(i32::MIN) * x.powi(i32::MIN) / x,
        Un::Powi(n) => g * n as f64 * x.powi(n - 1),
        Un::Powf(p) => {
            if p == 0.0 {
                0.0
            } else {
                g * p * x.powf(p - 1.0)
            }
        }
        Un::AddC(_) => g,
        Un::MulC(c) => g * c,
        Un::DivC(c) => g / c,
        Un::RSubC(_) => -g,
        Un::RDivC(_) => -g * y / x,
    }
}

/// Partial derivatives (∂/∂a, ∂/∂b) of a binary op.
#[inline]
fn binary_partials(op: Bin, a: f64, b: f64, y: f64) -> (f64, f64) {
    match op {
        Bin::Add => (1.0, 1.0),
        Bin::Sub => (1.0, -1.0),
        Bin::Mul => (b, a),
        Bin::Div => (1.0 / b, -y / b),
        Bin::Pow => {
            let da = if b == 0.0 { 0.0 } else { b * a.powf(b - 1.0) };
            // d/db aᵇ = aᵇ ln a; its limit is 0 where aᵇ = 0 (a = 0, b > 0).
            let db = if y == 0.0 { 0.0 } else { y * a.ln() };
            (da, db)
        }
    }
}

/// Adjoints of a fused elementwise node with stored partials over `elems` elements:
/// input `j` gets Σᵢ gᵢ·∂outᵢ/∂input at the element it broadcast to output `i`, with
/// gᵢ = g\[0\] for all i when the node was folded into its sum.
#[allow(clippy::too_many_arguments)]
fn partials_adjoint(
    inputs: &[u32],
    nodes: &[Node],
    aux: &[f64],
    aux_off: usize,
    elems: Shape,
    before: &mut [f64],
    g: &[f64],
    summed: bool,
) {
    let len = elems.len();
    for (j, &pid) in inputs.iter().enumerate() {
        let p = nodes[pid as usize];
        let d = &aux[aux_off + j * len..aux_off + (j + 1) * len];
        let m = Broadcast::new(p.shape, elems);
        match (m, summed) {
            (Broadcast::Same, false) => {
                for ((a, gi), di) in before[p.off..p.off + len].iter_mut().zip(g).zip(d) {
                    *a += gi * di;
                }
            }
            (Broadcast::Same, true) => {
                for (a, di) in before[p.off..p.off + len].iter_mut().zip(d) {
                    *a += g[0] * di;
                }
            }
            (Broadcast::Scalar, false) => {
                before[p.off] += g.iter().zip(d).map(|(a, b)| a * b).sum::<f64>();
            }
            (Broadcast::Scalar, true) => before[p.off] += g[0] * d.iter().sum::<f64>(),
            (Broadcast::Strided { .. }, _) => {
                for (i, di) in d.iter().enumerate() {
                    let gi = if summed { g[0] } else { g[i] };
                    before[p.off + m.index(i)] += gi * di;
                }
            }
        }
    }
}

/// Marks the inputs of an op as reachable.
fn mark_parents(op: Op, ids: &[u32], live: &mut [bool]) {
    match op {
        Op::Leaf => {}
        Op::Unary(_, a)
        | Op::Sum(a)
        | Op::LogSumExp(a)
        | Op::Gather { a, .. }
        | Op::Broadcast(a)
        | Op::Reshape(a)
        | Op::Slice { a, .. } => live[a as usize] = true,
        Op::Binary(_, a, b) | Op::Dot(a, b) => {
            live[a as usize] = true;
            live[b as usize] = true;
        }
        Op::Concat { ids_off, n }
        | Op::Partials { ids_off, n, .. }
        | Op::PartialsSum { ids_off, n, .. }
        | Op::Custom { ids_off, n, .. } => {
            for &p in &ids[ids_off..ids_off + n as usize] {
                live[p as usize] = true;
            }
        }
    }
}

/// Runs the reverse sweep from node `out` (whose adjoint is already seeded).
pub(crate) fn sweep(inner: &mut Inner, out: u32) {
    let Inner {
        nodes,
        vals,
        aux,
        ids,
        idx,
        customs,
        adj,
        live,
        ..
    } = inner;
    // Only nodes reachable from `out` are swept: an unreachable node has a zero
    // adjoint, and 0 × ∞ in its partials would put NaN into shared inputs.
    live.clear();
    live.resize(out as usize + 1, false);
    live[out as usize] = true;
    for k in (0..=out as usize).rev() {
        let node = nodes[k];
        if !node.grad || !live[k] {
            continue;
        }
        mark_parents(node.op, ids, live);
        let len = node.shape.len();
        let (before, here) = adj.split_at_mut(node.off);
        let g = &here[..len];
        let y = &vals[node.off..node.off + len];
        match node.op {
            Op::Leaf => {}
            Op::Unary(op, a) => {
                let p = nodes[a as usize];
                if !p.grad {
                    continue;
                }
                let x = &vals[p.off..p.off + len];
                let pa = &mut before[p.off..p.off + len];
                for i in 0..len {
                    pa[i] += unary_adjoint(op, x[i], y[i], g[i]);
                }
            }
            Op::Binary(op, a, b) => {
                let (na, nb) = (nodes[a as usize], nodes[b as usize]);
                let (ma, mb) = (
                    Broadcast::new(na.shape, node.shape),
                    Broadcast::new(nb.shape, node.shape),
                );
                for i in 0..len {
                    let (ia, ib) = (na.off + ma.index(i), nb.off + mb.index(i));
                    let (da, db) = binary_partials(op, vals[ia], vals[ib], y[i]);
                    if na.grad {
                        before[ia] += g[i] * da;
                    }
                    if nb.grad {
                        before[ib] += g[i] * db;
                    }
                }
            }
            Op::Sum(a) => {
                let p = nodes[a as usize];
                for v in &mut before[p.off..p.off + p.shape.len()] {
                    *v += g[0];
                }
            }
            Op::Dot(a, b) => {
                let (na, nb) = (nodes[a as usize], nodes[b as usize]);
                let n = na.shape.len();
                for i in 0..n {
                    let (xa, xb) = (vals[na.off + i], vals[nb.off + i]);
                    if na.grad {
                        before[na.off + i] += g[0] * xb;
                    }
                    if nb.grad {
                        before[nb.off + i] += g[0] * xa;
                    }
                }
            }
            Op::LogSumExp(a) => {
                let p = nodes[a as usize];
                let n = p.shape.len();
                if y[0].is_finite() {
                    for i in 0..n {
                        before[p.off + i] += g[0] * (vals[p.off + i] - y[0]).exp();
                    }
                }
            }
            Op::Gather {
                a,
                idx_off,
                rows,
                row,
            } => {
                let p = nodes[a as usize];
                if row == 1 {
                    // Runs of equal indices (trials sorted by group) are summed in a
                    // register: a store per element would serialize on one address.
                    let pa = &mut before[p.off..p.off + p.shape.len()];
                    let ix = &idx[idx_off..idx_off + rows];
                    let mut r = 0;
                    while r < rows {
                        let src = ix[r];
                        let mut acc = 0.0;
                        while r < rows && ix[r] == src {
                            acc += g[r];
                            r += 1;
                        }
                        pa[src] += acc;
                    }
                    continue;
                }
                for (r, &src) in idx[idx_off..idx_off + rows].iter().enumerate() {
                    for c in 0..row {
                        before[p.off + src * row + c] += g[r * row + c];
                    }
                }
            }
            Op::Broadcast(a) => {
                let p = nodes[a as usize];
                let m = Broadcast::new(p.shape, node.shape);
                for i in 0..len {
                    before[p.off + m.index(i)] += g[i];
                }
            }
            Op::Reshape(a) => {
                let p = nodes[a as usize];
                for i in 0..len {
                    before[p.off + i] += g[i];
                }
            }
            Op::Slice { a, start } => {
                let p = nodes[a as usize];
                for i in 0..len {
                    before[p.off + start + i] += g[i];
                }
            }
            Op::Concat { ids_off, n } => {
                let mut at = 0;
                for &pid in &ids[ids_off..ids_off + n as usize] {
                    let p = nodes[pid as usize];
                    let l = p.shape.len();
                    if p.grad {
                        for i in 0..l {
                            before[p.off + i] += g[at + i];
                        }
                    }
                    at += l;
                }
            }
            Op::Partials {
                ids_off,
                n,
                aux_off,
            } => partials_adjoint(
                &ids[ids_off..ids_off + n as usize],
                nodes,
                aux,
                aux_off,
                node.shape,
                before,
                g,
                false,
            ),
            Op::PartialsSum {
                ids_off,
                n,
                aux_off,
                elems,
            } => partials_adjoint(
                &ids[ids_off..ids_off + n as usize],
                nodes,
                aux,
                aux_off,
                elems,
                before,
                g,
                true,
            ),
            Op::Custom { ids_off, n, k } => {
                for (j, &pid) in ids[ids_off..ids_off + n as usize].iter().enumerate() {
                    let p = nodes[pid as usize];
                    if p.grad {
                        customs[k as usize].vjp(g, j, &mut before[p.off..p.off + p.shape.len()]);
                    }
                }
            }
        }
    }
}
