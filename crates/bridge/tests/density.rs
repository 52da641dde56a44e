//! `ModelDensity`: the same numbers as `ppl::LogJoint`, errors classified for the
//! sampler, draws mapped back in column order.

use bridge::ModelDensity;
use mcmc::{LogDensity, LogpError};
use ppl::cookies::{self, Cookies};
use ppl::{Exponential, LogJoint, Model, Normal, PplError};

#[test]
fn log_density_and_gradient_are_those_of_the_model() {
    let data = Cookies::load().unwrap();
    let d2 = data.clone();
    let mut target =
        ModelDensity::new(move |m: &mut Model<'_>| cookies::hierarchical(m, &d2)).unwrap();
    let mut joint =
        LogJoint::new(move |m: &mut Model<'_>| cookies::hierarchical(m, &data)).unwrap();
    assert_eq!(target.dim(), 7);
    let x = [2.1, -0.5, 2.0, 1.7, 2.3, 2.2, 2.5];
    let (mut g1, mut g2) = ([0.0; 7], [0.0; 7]);
    let lp1 = target.logp_grad(&x, &mut g1).unwrap();
    let lp2 = joint.log_density_grad(&x, &mut g2).unwrap();
    assert_eq!(lp1, lp2);
    assert_eq!(g1, g2);
}

#[test]
fn draws_map_back_in_column_order() {
    let data = Cookies::load().unwrap();
    let target =
        ModelDensity::new(move |m: &mut Model<'_>| cookies::hierarchical(m, &data)).unwrap();
    let names = target.column_names();
    assert_eq!(
        names,
        ["mu", "sigma", "lam.1", "lam.2", "lam.3", "lam.4", "lam.5"]
    );
    let x = [2.1, -0.5, 2.0, 1.7, 2.3, 2.2, 2.5];
    let row = target.constrained_row(&x).unwrap();
    let named = target.constrain(&x).unwrap();
    assert_eq!(row[0], named["mu"][0]);
    assert_eq!(row[2..], named["lam"][..]);
    for (r, u) in row.iter().zip(&x) {
        assert!((r - u.exp()).abs() < 1e-12);
    }
    let back = target.unconstrain(&named).unwrap();
    for (a, b) in back.iter().zip(&x) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn pointwise_failures_are_recoverable_and_structural_ones_fatal() {
    // exp(−800) underflows to 0: Normal's scale becomes invalid at this point only.
    let mut target = ModelDensity::new(|m: &mut Model<'_>| -> Result<(), PplError> {
        let s = m.sample("s", Exponential::new(1.0)?)?;
        m.observe("y", Normal::new(0.0, s)?, &[0.5])
    })
    .unwrap();
    let mut g = [0.0];
    assert!(matches!(
        target.logp_grad(&[-800.0], &mut g),
        Err(LogpError::Recoverable(_))
    ));
    assert!(target.logp_grad(&[0.0], &mut g).is_ok());
    let mut g2 = [0.0; 2];
    assert!(matches!(
        target.logp_grad(&[0.0, 1.0], &mut g2),
        Err(LogpError::Fatal(_))
    ));
}
